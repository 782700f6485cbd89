# Config validation, the names every wildcard may take, and input functions.

import os
import re
import sys
from pathlib import Path

# The rules' scripts and this file import the package from the checkout, also under --sdm conda.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from stationarity.config import validate_config
from stationarity.figures import FIGURES

validate_config(
    config, Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
)

RESULTS = f"results/{config['study']}"
SYNTHETIC = ["sine", "lemma2", "theorem1"]
EXPERIMENTS = config["experiments"]
# Every run: (experiment, schedule, seed).
RUNS = [
    (name, schedule, seed)
    for name, experiment in EXPERIMENTS.items()
    for schedule in experiment["schedules"]
    for seed in experiment["seeds"]
]
RUN_DIR = f"{RESULTS}/runs/{{experiment}}/{{schedule}}/seed{{seed}}"
MANIFEST = f"{RUN_DIR}/manifest.tsv"
# Data sets to prepare: (name, root) → the config key that sets the root (named in error messages).
DATA_KEYS = {
    (experiment["data"]["name"], os.path.normpath(experiment["data"]["root"])): (
        f"experiments.{name}.data.root"
    )
    for name, experiment in reversed(EXPERIMENTS.items())
}
DEMO_DATA = {"mnist5k", "digits"}  # ship in packages; trained on CPU

# Which tables each figure draws, by the keyword its function in stationarity.figures takes.
FIGURE_INPUTS = {
    "fig5": {"table": f"{RESULTS}/synthetic/sine.parquet"},
    "theory_lemma2": {"table": f"{RESULTS}/synthetic/lemma2.parquet"},
    "theory_theorem1": {"table": f"{RESULTS}/synthetic/theorem1.parquet"},
}


def one_of(names):
    """A wildcard constraint matching exactly the given names (and nothing if there are none)."""
    return "|".join(map(re.escape, sorted(set(names)))) or "(?!)"


wildcard_constraints:
    synthetic=one_of(SYNTHETIC),
    name=one_of(FIGURES),
    experiment=one_of(EXPERIMENTS),
    schedule=one_of(s for e in EXPERIMENTS.values() for s in e["schedules"]),
    seed=r"\d+",
    data_root=one_of(root for _, root in DATA_KEYS),
    dataset=one_of(name for name, _ in DATA_KEYS),


def figure_files(name):
    """The files one figure consists of: PNG, PDF and the Parquet of its numbers."""
    return [f"{RESULTS}/figures/{name}.{ext}" for ext in ("png", "pdf", "parquet")]


def all_figures():
    """Every file of every figure the config lists."""
    return [path for name in config["figures"] for path in figure_files(name)]


def all_manifests():
    """The manifest of every training run of the config."""
    return [MANIFEST.format(experiment=e, schedule=s, seed=seed) for e, s, seed in RUNS]


def figure_inputs(wildcards):
    """The tables a figure reads, keyed by its function's argument names."""
    return FIGURE_INPUTS[wildcards.name]


def figure_caption(wildcards):
    """The figure's caption (reST), inserted into the report."""
    path = Path(workflow.basedir) / "workflow" / "report" / f"{wildcards.name}.rst"
    return path.read_text()


def synthetic_settings(wildcards):
    """The config block of one synthetic experiment, passed as keyword arguments."""
    return config["synthetic"][wildcards.synthetic]


def data_receipt(wildcards):
    """The file that says an experiment's data set is prepared."""
    data = EXPERIMENTS[wildcards.experiment]["data"]
    return os.path.join(os.path.normpath(data["root"]), f".prepared-{data['name']}.json")


def data_config_key(wildcards):
    """The config key that sets this data root, for error messages."""
    return DATA_KEYS[(wildcards.dataset, wildcards.data_root)]


def train_settings(wildcards):
    """Everything the training loop needs about one run, as plain data."""
    return {
        "experiment": wildcards.experiment,
        "schedule": wildcards.schedule,
        "seed": int(wildcards.seed),
        "config": EXPERIMENTS[wildcards.experiment],
        "wandb": config["wandb"],
    }


def train_gpus(wildcards):
    """GPUs a run asks for: none for the demo data sets, one otherwise."""
    return 0 if EXPERIMENTS[wildcards.experiment]["data"]["name"] in DEMO_DATA else 1


def train_runtime(wildcards, attempt):
    """Minutes asked of the scheduler; each retry resumes from a checkpoint and asks for more."""
    hours = 2 if train_gpus(wildcards) == 0 else 24
    return 60 * hours * attempt

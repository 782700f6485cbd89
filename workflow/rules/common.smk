# Config validation, the names every wildcard may take, and input functions.

import os
import re
import shutil
import signal
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
DEMO_DATA = {"mnist5k", "digits", "wikipedia_demo"}  # ship in packages; trained on CPU
CPUS_PER_GPU = 8  # data loader workers that keep one GPU busy on ImageNet
# What the SLURM executor calls (sacct only to guess the account when none is set).
SLURM_COMMANDS = ("sbatch", "squeue", "scancel", "sinfo", "sacct")

# SLURM's warning signal before the time limit (--signal=USR1@..., slurm/config.yaml) reaches every
# process of the job step. Only training acts on it (stationarity.preemption); Snakemake's processes
# and the shell between them ignore it, and pass that on, so they outlive the final checkpoint.
signal.signal(signal.SIGUSR1, signal.SIG_IGN)

# Which tables each figure draws, by the keyword its function in stationarity.figures takes.
FIGURE_INPUTS = {
    "fig5": {"table": f"{RESULTS}/synthetic/sine.parquet"},
    "theory_lemma2": {"table": f"{RESULTS}/synthetic/lemma2.parquet"},
    "theory_theorem1": {"table": f"{RESULTS}/synthetic/theorem1.parquet"},
}
# Figures of trained runs read the tidy tables of their sources' experiments (see plan.smk).
FIGURE_SOURCES = config.get("figure_sources", {})


def one_of(names):
    """A wildcard constraint matching exactly the given names (and nothing if there are none)."""
    return "|".join(map(re.escape, sorted(set(names)))) or "(?!)"


wildcard_constraints:
    synthetic=one_of(SYNTHETIC),
    name=one_of(FIGURES),
    experiment=one_of(EXPERIMENTS),
    schedule=one_of(s for e in EXPERIMENTS.values() for s in e["schedules"]),
    seed=r"\d+",
    step=r"\d{8}",
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
    if wildcards.name in FIGURE_INPUTS:
        return FIGURE_INPUTS[wildcards.name]
    experiments = sorted(
        {source["experiment"] for source in FIGURE_SOURCES[wildcards.name]}
    )
    return {
        kind: [template.format(experiment=name) for name in experiments]
        for kind, template in TABLES.items()
    }


def figure_sources(wildcards):
    """A trained-run figure's sources, with the batch size (eq. 10) and branch points (Thm. 8)."""
    return [
        {
            **source,
            "batch_size": EXPERIMENTS[source["experiment"]]["batch_size"],
            "branches": branches_of(source["experiment"], source["schedules"]),
        }
        for source in FIGURE_SOURCES.get(wildcards.name, [])
    ]


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
    return os.path.join(
        os.path.normpath(data["root"]), f".prepared-{data['name']}.json"
    )


def data_config_key(wildcards):
    """The config key that sets this data root, for error messages."""
    return DATA_KEYS[(wildcards.dataset, wildcards.data_root)]


def train_settings(wildcards):
    """Everything the training loop needs about one run, as plain data."""
    run = run_settings(wildcards.experiment, wildcards.schedule, wildcards.seed)
    return {**run, "init_from": branch_checkpoint(wildcards)}


def train_gpus(wildcards):
    """GPUs a run asks for: none for the demo data sets, else its `gpus` (more than one: DDP)."""
    experiment = EXPERIMENTS[wildcards.experiment]
    return 0 if experiment["data"]["name"] in DEMO_DATA else experiment.get("gpus", 1)


def train_threads(wildcards):
    """CPU cores of a training job: loader workers for each GPU, or one core on CPU."""
    return max(1, CPUS_PER_GPU * train_gpus(wildcards))


def train_memory_mb(wildcards):
    """Memory of a training job: 16 GB for each GPU's loader workers, 4 GB on CPU."""
    return max(4000, 16000 * train_gpus(wildcards))


def train_runtime(wildcards, attempt):
    """Minutes asked of the scheduler; each retry resumes from a checkpoint and asks for more."""
    hours = 2 if train_gpus(wildcards) == 0 else 24
    return 60 * hours * attempt


def check_executor_commands():
    """Stop at once, saying what is missing, if the SLURM executor runs where SLURM is not."""
    if workflow.executor_plugin.name != "slurm":
        return
    missing = [command for command in SLURM_COMMANDS if shutil.which(command) is None]
    if missing:
        raise WorkflowError(
            "--profile slurm submits jobs to SLURM, but these commands are not on PATH: "
            f"{', '.join(missing)}. Run on a SLURM login node (where `sinfo` works), or run the "
            "demo study on this machine with `snakemake --profile local all`."
        )


onstart:
    check_executor_commands()

# Config validation, the names every wildcard may take, and input functions.

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

# Which tables each figure draws, by the keyword its function in stationarity.figures takes.
FIGURE_INPUTS = {
    "fig5": {"table": f"{RESULTS}/synthetic/sine.parquet"},
    "theory_lemma2": {"table": f"{RESULTS}/synthetic/lemma2.parquet"},
    "theory_theorem1": {"table": f"{RESULTS}/synthetic/theorem1.parquet"},
}


wildcard_constraints:
    experiment="|".join(SYNTHETIC),
    name="|".join(FIGURES),


def figure_files(name):
    """The files one figure consists of: PNG, PDF and the Parquet of its numbers."""
    return [f"{RESULTS}/figures/{name}.{ext}" for ext in ("png", "pdf", "parquet")]


def all_figures():
    """Every file of every figure the config lists."""
    return [path for name in config["figures"] for path in figure_files(name)]


def figure_inputs(wildcards):
    """The tables a figure reads, keyed by its function's argument names."""
    return FIGURE_INPUTS[wildcards.name]


def figure_caption(wildcards):
    """The figure's caption (reST), inserted into the report."""
    return (
        Path(workflow.basedir) / "workflow" / "report" / f"{wildcards.name}.rst"
    ).read_text()


def synthetic_settings(wildcards):
    """The config block of one synthetic experiment, passed as keyword arguments."""
    return config["synthetic"][wildcards.experiment]

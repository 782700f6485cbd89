# The study's plan (stationarity.plan.WorkflowPlan), the names every wildcard may take, and the check
# that the SLURM executor runs where SLURM is.

import re
import signal
import sys
from pathlib import Path

# The rules' scripts and this file import the package from the checkout, also under --sdm conda.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from stationarity.config import SYNTHETIC_FIGURES, ConfigError, validate_files
from stationarity.plan import WorkflowPlan
from stationarity.plan.resources import missing_slurm_commands

try:
    validate_files(workflow.configfiles, config)
except ConfigError as error:
    sys.exit(
        str(error)
    )  # a user error: the message alone, as `stationarity validate` prints it


PLAN = WorkflowPlan(config)
PATHS = PLAN.paths

# SLURM's warning signal before the time limit (--signal=USR1@..., slurm/config.yaml) reaches every
# process of the job step. Only training acts on it (stationarity.training.preemption); Snakemake's
# processes and the shell between them ignore it, and pass that on, so they outlive the checkpoint.
signal.signal(signal.SIGUSR1, signal.SIG_IGN)


def one_of(names):
    """A wildcard constraint matching exactly the given names (and nothing if there are none)."""
    return "|".join(map(re.escape, sorted(set(names)))) or "(?!)"


wildcard_constraints:
    synthetic=one_of(SYNTHETIC_FIGURES.values()),
    name=one_of(config["figures"]),
    experiment=one_of(PLAN.experiments),
    schedule=one_of(run.schedule for run in PLAN.runs),
    seed=r"\d+",
    step=r"\d{8}",
    data_root=one_of(root for _, root in PLAN.data_sets),
    dataset=one_of(name for name, _ in PLAN.data_sets),


onstart:
    # Stop at once, saying what is missing, if the SLURM executor runs where SLURM is not.
    if workflow.executor_plugin.name == "slurm" and missing_slurm_commands():
        raise WorkflowError(missing_slurm_commands())

# The study's plan (stationarity.plan.StudyPlan), the names every wildcard may take, and the check
# that the SLURM executor runs where SLURM is.

import re
import signal
import sys
from pathlib import Path

# The rules' scripts and this file import the package from the checkout, also under --sdm conda.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from stationarity.config import (
    SYNTHETIC_FIGURES,
    ConfigError,
    read_yaml,
    validate_config,
)
from stationarity.plan import StudyPlan, UnknownTargetError
from stationarity.plan.resources import missing_slurm_commands


def stop_on_bad_config():
    """End Snakemake with the message alone, as `stationarity validate` prints it, if the config
    is bad: a user error needs no traceback."""
    files = ", ".join(map(str, workflow.configfiles)) or "config"
    try:
        # read_yaml refuses a key given twice, which Snakemake's reader would overwrite.
        for path in workflow.configfiles:
            read_yaml(path)
    except ConfigError as error:
        sys.exit(str(error))  # it names the file, line and column
    try:
        validate_config(config)
    except ConfigError as error:
        sys.exit(f"{files}: {error}")


stop_on_bad_config()


class WorkflowPlan(StudyPlan):
    """The study's plan; a target naming a run or step it lacks ends Snakemake with the message."""

    def run(self, wildcards):
        try:
            return super().run(wildcards)
        except UnknownTargetError as error:
            sys.exit(str(error))  # a user error: what exists, without a traceback

    def checkpoint_step(self, run, step):
        try:
            return super().checkpoint_step(run, step)
        except UnknownTargetError as error:
            sys.exit(str(error))


PLAN = WorkflowPlan(config)
PATHS = PLAN.paths

# SLURM's warning signal before the time limit (--signal=USR1@..., slurm/config.yaml) reaches every
# process of the job step. Only training acts on it (stationarity.training.preemption); Snakemake's
# processes and the shell between them ignore it, and pass that on, so they outlive the checkpoint.
signal.signal(signal.SIGUSR1, signal.SIG_IGN)


def one_of(names):
    """A wildcard constraint matching exactly the given names (and nothing if there are none)."""
    return "|".join(map(re.escape, sorted(set(names)))) or "(?!)"


def unknown_target(wildcards):
    """Stop, saying which targets exist: a bare target that names no rule is a mistyped one."""
    named = sorted(r.name for r in workflow.rules if not r.has_wildcards())
    others = ", ".join(n for n in named if n not in config["figures"])
    sys.exit(
        f"unknown target {wildcards.target!r}; figures of this study: "
        f"{', '.join(config['figures'])}; other targets: {others}"
    )


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

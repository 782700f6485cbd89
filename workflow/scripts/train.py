"""Shim: train one run, resuming from its newest complete checkpoint (rule train)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "a", buffering=1)  # append: keep the log of every retry
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from stationarity.data.text import DataRevisionError
from stationarity.jobs.train import launch, run_train_job
from stationarity.training.checkpoints import CorruptCheckpointError, IdentityMismatchError

job = dict(
    # W&B settings come from the config, not params: changing them must not retrain anything.
    settings={**snakemake.params.run, "wandb": snakemake.config["wandb"]},
    checkpoint_dir=Path(snakemake.params.checkpoint_dir),
    wandb_dir=Path(snakemake.params.wandb_dir),
    manifest=Path(snakemake.output.manifest),
    train_log=Path(snakemake.output.train_log),
    threads=snakemake.threads,
)
if snakemake.resources.gpu > 1:  # one process per GPU (DDP); torchrun's output goes to the log
    sys.exit(launch(snakemake.resources.gpu, job, log=sys.stderr))
try:
    run_train_job(**job)
except (CorruptCheckpointError, IdentityMismatchError, DataRevisionError) as error:
    sys.exit(str(error))  # a damaged parent checkpoint: the message names it and what to do

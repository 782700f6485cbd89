"""Shim: train one run, resuming from its newest complete checkpoint (rule train)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "a", buffering=1)  # noqa: F821, SIM115  (append: keep retries)
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from stationarity.distributed import launch  # noqa: E402
from stationarity.train_job import run_train_job  # noqa: E402

job = dict(
    # W&B settings come from the config, not params: changing them must not retrain anything.
    settings={**snakemake.params.run, "wandb": snakemake.config["wandb"]},  # noqa: F821
    checkpoint_dir=Path(snakemake.params.checkpoint_dir),  # noqa: F821
    wandb_dir=Path(snakemake.params.wandb_dir),  # noqa: F821
    manifest=Path(snakemake.output.manifest),  # noqa: F821
    train_log=Path(snakemake.output.train_log),  # noqa: F821
    threads=snakemake.threads,  # noqa: F821
)
gpus = snakemake.resources.gpu  # noqa: F821
if gpus > 1:  # one process per GPU (DDP); torchrun's output goes to the same log
    sys.exit(launch(gpus, job, log=sys.stderr))
run_train_job(**job)

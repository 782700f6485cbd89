"""Shim: train one run, resuming from its newest complete checkpoint (rule train)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "a", buffering=1)  # noqa: F821, SIM115  (append: keep retries)
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from stationarity.train_job import run_train_job  # noqa: E402

run_train_job(
    snakemake.params.run,  # noqa: F821
    checkpoint_dir=Path(snakemake.params.checkpoint_dir),  # noqa: F821
    wandb_dir=Path(snakemake.params.wandb_dir),  # noqa: F821
    manifest=Path(snakemake.output.manifest),  # noqa: F821
    train_log=Path(snakemake.output.train_log),  # noqa: F821
    threads=snakemake.threads,  # noqa: F821
)

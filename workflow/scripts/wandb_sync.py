"""Shim: upload the study's offline W&B runs (rule wandb_sync, on the login node)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from stationarity.jobs.publish import sync

message = sync(snakemake.params.wandb, Path(snakemake.params.wandb_dir))
print(message)  # on the terminal, and in the log
print(message, file=sys.stderr)

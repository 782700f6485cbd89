"""Shim: upload the study's offline W&B runs (rule wandb_sync, on the login node)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821, SIM115
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from stationarity.tracking import sync_offline_runs, upload_skipped  # noqa: E402

wandb_dir = Path(snakemake.params.wandb_dir)  # noqa: F821
skipped = upload_skipped(snakemake.params.wandb)  # noqa: F821
if skipped:
    message = f"wandb_sync skipped: {skipped}"
else:
    runs = sync_offline_runs(wandb_dir)
    message = f"wandb_sync: uploaded {len(runs)} offline run(s) under {wandb_dir}"
print(message)  # on the terminal, and in the log
print(message, file=sys.stderr)

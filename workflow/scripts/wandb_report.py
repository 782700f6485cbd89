"""Shim: update the study's W&B report (rule wandb_report, on the login node)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from stationarity.jobs.publish import report

message = report(snakemake.config)
print(message)  # on the terminal, and in the log
print(message, file=sys.stderr)

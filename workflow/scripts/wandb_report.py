"""Shim: build and upload the study's W&B report (rule wandb_report, on the login node)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from stationarity.jobs.publish import report

params = snakemake.params
message = report(params.wandb, params.study, params.figures, params.figure_sources)
print(message)  # on the terminal, and in the log
print(message, file=sys.stderr)

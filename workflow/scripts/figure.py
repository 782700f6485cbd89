"""Shim: draw one figure from its tables (rule figure)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from stationarity.jobs.figure import draw_figure

draw_figure(
    snakemake.wildcards.name,
    dict(snakemake.input),
    dict(snakemake.output),
    snakemake.params.sources or None,
    # W&B settings from the config, not params: changing them must not redraw anything.
    wandb={**snakemake.config["wandb"], "dir": snakemake.params.wandb_dir},
)

"""Shim: draw one figure from its tables (rule figure)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821, SIM115
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from stationarity.figures import draw_figure  # noqa: E402
from stationarity.tables import mirror_figure  # noqa: E402

name = snakemake.wildcards.name  # noqa: F821
sources = snakemake.params.sources or None  # noqa: F821
draw_figure(name, dict(snakemake.input), snakemake.output, sources)  # noqa: F821
# W&B settings from the config, not params: changing them must not redraw anything.
wandb = {**snakemake.config["wandb"], "dir": snakemake.params.wandb_dir}  # noqa: F821
mirror_figure(name, Path(snakemake.output.png), wandb)  # noqa: F821

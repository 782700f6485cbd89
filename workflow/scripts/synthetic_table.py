"""Shim: compute one synthetic experiment's table (rule synthetic_table)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from stationarity.jobs.synthetic import synthetic_table

synthetic_table(
    snakemake.wildcards.synthetic, snakemake.params.settings, Path(snakemake.output.table)
)

"""Shim: one checkpoint's statistics, or its sample-size study (rules estimate, sample_size)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from stationarity.jobs.estimate import measure

measure(
    snakemake.params.run,
    Path(snakemake.params.checkpoint),
    Path(snakemake.output[0]),
    threads=snakemake.threads,
    sizes=snakemake.params.get("sizes"),
)

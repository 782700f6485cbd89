"""Shim: the statistics of one checkpoint or its sample-size study (rules estimate, sample_size)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821, SIM115
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from stationarity.estimate_job import measure  # noqa: E402

measure(
    snakemake.params.run,  # noqa: F821
    Path(snakemake.params.checkpoint),  # noqa: F821
    Path(snakemake.output[0]),  # noqa: F821
    threads=snakemake.threads,  # noqa: F821
    sizes=getattr(snakemake.params, "sizes", None),  # noqa: F821
)

"""Shim: prepare one data set under its root and write the receipt (rule prepare_data)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from stationarity.jobs.prepare import prepare

prepare(
    snakemake.wildcards.dataset,
    snakemake.wildcards.data_root,
    Path(snakemake.output.receipt),
    config_key=snakemake.params.config_key,
)

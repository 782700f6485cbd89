"""Shim: prepare one data set and write its receipt (rules prepare_data, unpack_imagenet)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from stationarity.data.checksums import ChecksumError
from stationarity.jobs.prepare import prepare

try:
    prepare(
        snakemake.params.dataset,
        snakemake.wildcards.data_root,
        Path(snakemake.output.receipt),
        config_key=snakemake.params.config_key,
        revision=snakemake.params.get("revision"),
    )
except ChecksumError as error:
    sys.exit(str(error))  # damage, not a bug: the message names each file and both sums

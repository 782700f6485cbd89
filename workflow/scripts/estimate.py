"""Shim: one checkpoint's statistics, or its sample-size study (rules estimate, sample_size)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from stationarity.data.text import DataRevisionError
from stationarity.jobs.estimate import measure
from stationarity.training.checkpoints import CorruptCheckpointError, IdentityMismatchError

try:
    measure(
        snakemake.params.run,
        Path(snakemake.params.checkpoint),
        Path(snakemake.output[0]),
        threads=snakemake.threads,
        sizes=snakemake.params.get("sizes"),
        sharpness=snakemake.params.get("sharpness", True),
        sharpness_sizes=snakemake.params.get("sharpness_sizes"),
    )
except (CorruptCheckpointError, IdentityMismatchError, DataRevisionError) as error:
    sys.exit(str(error))  # damage, not a bug: the message names the file and what to do

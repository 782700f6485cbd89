"""Shim: compute one synthetic experiment's table (rule synthetic_table)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821, SIM115
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from stationarity.synthetic import TABLES  # noqa: E402

experiment = snakemake.wildcards.synthetic  # noqa: F821
TABLES[experiment](**snakemake.params.settings).to_parquet(snakemake.output.table)  # noqa: F821

"""Shim: prepare one data set under its root and write the receipt (rule prepare_data)."""

import json
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821, SIM115
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from stationarity.data.prepare import prepare_data  # noqa: E402

dataset, root = snakemake.wildcards.dataset, snakemake.wildcards.data_root  # noqa: F821
ready = prepare_data(dataset, Path(root), config_key=snakemake.params.config_key)  # noqa: F821
receipt = {"dataset": dataset, "root": root, "prepared": str(ready)}
Path(snakemake.output.receipt).write_text(json.dumps(receipt, indent=1))  # noqa: F821

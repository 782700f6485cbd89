"""The prepare_data job: prepare one data set under its root and write the receipt."""

import json
from pathlib import Path

from ..data.prepare import prepare_data
from ..files import atomic_write_bytes


def prepare(dataset: str, root: str, receipt: Path, config_key: str) -> Path:
    """Prepare ``dataset`` under ``root`` and write a receipt naming what proves it ready."""
    ready = prepare_data(dataset, Path(root), config_key=config_key)
    record = {"dataset": dataset, "root": root, "prepared": str(ready)}
    atomic_write_bytes(Path(receipt), json.dumps(record, indent=1).encode())
    return ready

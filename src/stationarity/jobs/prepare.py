"""The data jobs (prepare_data, unpack_imagenet): prepare one data set and write its receipt.

The receipt records what proves the data ready, the Hub revision it was downloaded at and the MD5
sums its archives were checked against.
"""

import json
import os
from pathlib import Path

from ..data.catalog import CATALOG
from ..data.checksums import recorded_sums
from ..data.prepare import prepare_data
from ..files import atomic_write_bytes
from ..plan import StudyPlan


def prepare(
    dataset: str, root: str, receipt: Path, config_key: str, revision: str | None = None
) -> Path:
    """Prepare ``dataset`` under ``root`` (at a Hub ``revision``) and write the receipt."""
    ready = prepare_data(dataset, Path(root), config_key=config_key, revision=revision)
    record = {"dataset": dataset, "root": root, "prepared": str(ready)}
    if "revision" in CATALOG[dataset].options:
        record["revision"] = revision
    checked = recorded_sums(Path(root), CATALOG[dataset].archives)
    if checked:
        record["checked_md5"] = checked
    atomic_write_bytes(Path(receipt), json.dumps(record, indent=1).encode())
    return ready


def prepare_experiment(config: dict, experiment: str) -> list[Path]:
    """Prepare one experiment's data set as the workflow does; the paths of what it wrote."""
    experiments = config["experiments"]
    if experiment not in experiments:
        raise ValueError(
            f"unknown experiment {experiment!r}; experiments of this config: "
            f"{', '.join(experiments)}"
        )
    plan = StudyPlan(config)
    run = next(run for run in plan.runs if run.experiment == experiment)
    receipt = Path(plan.data_receipt(run))  # the file the workflow's rules produce and read
    data = experiments[experiment]["data"]
    key = f"experiments.{experiment}.data.root"
    root = os.path.normpath(data["root"])
    ready = prepare(data["name"], root, receipt, key, revision=data.get("revision"))
    return [ready, receipt]

"""A run's identity: a hash of everything that defines its trajectory (torch-free, for planning).

Two runs with the same identity compute the same numbers; checkpoints, estimates and W&B runs are
keyed by it, so a changed setting never resumes, measures or republishes an old run.

In it: the data set (name, every data option, the published checksums of its archives), model,
optimizer, batch size, schedule (kind and parameters), length (epochs or max_steps), checkpoint
cadence (estimates need checkpoints at exactly the planned steps), precision, seed, GPUs (the
data-parallel split), and for a branch its parent's identity and start step. Not in it: labels,
W&B settings, paths (the data root: its receipt is checked when the job runs) and measurement.
"""

import hashlib
import json

from ..data.catalog import CATALOG

LENGTH = 12  # hex digits: 48 bits, ample for the runs of one experiment folder


def run_definition(spec) -> dict:
    """The plain data that defines a run's trajectory (a ``TrainSpec``'s defining fields)."""
    data = {key: value for key, value in spec.data.items() if key != "root"}
    entry = CATALOG.get(data["name"])
    if entry is not None and entry.archives:
        data["checksums"] = {role: md5 for role, (_, md5) in entry.archives.items()}
    return {
        "data": data,
        "model": spec.model,
        "optimizer": spec.optimizer,
        "batch_size": spec.batch_size,
        "schedule": {key: value for key, value in spec.schedule.items() if key != "label"},
        "epochs": spec.epochs,
        "max_steps": spec.max_steps,
        "checkpoint_every": spec.checkpoint_every,
        "precision": spec.precision,
        "seed": spec.seed,
        "gpus": spec.gpus,
        "parent": spec.parent,
    }


def identity_of(definition: dict) -> str:
    """The stable hash of a run definition (the order of keys does not matter)."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:LENGTH]


def flatten(tree: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}``."""
    flat = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def changes(old: dict, new: dict) -> list[str]:
    """What differs between two run definitions, one ``key: old → new`` line per key."""
    before, after = flatten(old), flatten(new)
    keys = sorted(set(before) | set(after))
    return [
        f"{key}: {before.get(key)!r} → {after.get(key)!r}"
        for key in keys
        if before.get(key) != after.get(key)
    ]

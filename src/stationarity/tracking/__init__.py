"""Weights & Biases, the mirror of the results: the only part of the package that imports wandb.

``runs`` (the Tracker every job logs through), ``mirror`` (estimates and figures), ``offline``
(upload offline runs, read one back) and ``report`` (the study's W&B report).
"""

from .mirror import mirror_estimates, mirror_figure
from .offline import (
    WandbUnavailable,
    check_server,
    default_entity,
    offline_runs,
    read_offline_run,
    sync_offline_runs,
    upload_skipped,
)
from .runs import MODES, WANDB_KEYS, Tracker, stable_run_id

__all__ = [
    "MODES",
    "WANDB_KEYS",
    "Tracker",
    "WandbUnavailable",
    "check_server",
    "default_entity",
    "mirror_estimates",
    "mirror_figure",
    "offline_runs",
    "read_offline_run",
    "stable_run_id",
    "sync_offline_runs",
    "upload_skipped",
]

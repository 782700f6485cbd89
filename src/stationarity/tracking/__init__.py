"""Weights & Biases, the mirror of the results: the only part of the package that imports wandb.

``runs`` (the Tracker every job logs through), ``mirror`` (estimates and figures), ``offline``
(read offline runs back), ``sync`` (upload them) and ``report`` (the study's W&B report).
"""

from .mirror import mirror_estimates, mirror_figure
from .offline import last_logged_step, logged_steps, read_offline_run, run_fragments
from .runs import MODES, WANDB_KEYS, Tracker, estimate_run_id, stable_run_id, train_run_id
from .sync import (
    WandbUnavailable,
    check_server,
    default_entity,
    offline_runs,
    sync_offline_runs,
    sync_plan,
    upload_skipped,
)

__all__ = [
    "MODES",
    "WANDB_KEYS",
    "Tracker",
    "WandbUnavailable",
    "check_server",
    "default_entity",
    "estimate_run_id",
    "last_logged_step",
    "logged_steps",
    "mirror_estimates",
    "mirror_figure",
    "offline_runs",
    "read_offline_run",
    "run_fragments",
    "stable_run_id",
    "sync_offline_runs",
    "sync_plan",
    "train_run_id",
    "upload_skipped",
]

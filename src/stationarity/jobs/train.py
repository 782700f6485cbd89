"""One training job of the workflow: build the run from its config, train it, publish its outputs.

The checkpoint folder holds the durable state (checkpoints, their manifest, the per-step log); the
job's declared outputs are copies made at the end, because Snakemake deletes the outputs of a failed
job and a retry must still find everything it needs to resume.
"""

import shutil
from pathlib import Path

from .distributed import is_main_process
from .run_plan import run_spec
from .tracking import Tracker
from .train import train_run


def publish(source: Path, target: Path) -> None:
    """Copy source to target atomically (a reader never sees half a file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(source, partial)
    partial.replace(target)


def run_train_job(
    settings: dict,
    *,
    checkpoint_dir: Path,
    wandb_dir: Path,
    manifest: Path,
    train_log: Path,
    threads: int,
) -> None:
    """Train (or resume) one run and publish its manifest and per-step log."""
    spec = run_spec(settings, wandb_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    # Of data-parallel ranks, rank 0 alone tracks and publishes.
    tracked = spec.wandb.get("mode", "disabled") != "disabled" and is_main_process()
    durable = {
        manifest: checkpoint_dir / "manifest.tsv",
        train_log: checkpoint_dir / "train_log.parquet",
    }
    train_run(
        spec,
        checkpoint_dir=checkpoint_dir,
        manifest_path=durable[manifest],
        log_path=durable[train_log],
        threads=threads,
        tracker=Tracker() if tracked else None,
    )
    if not is_main_process():
        return
    for target, source in durable.items():
        publish(source, target)

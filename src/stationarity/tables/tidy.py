"""Tidy tables: everything measured for one experiment, one row per (run, step, statistic).

Figures read only these tables. W&B receives the same numbers here (job type ``estimate``).
"""

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from .atomic import atomic_write_bytes
from .tracking import WANDB_KEYS, Tracker, stable_run_id

RUN = ["experiment", "schedule", "seed"]
STATISTICS = ["loss", "grad_norm", "noise", "sharpness", "top_eigenvalue"]
# Columns that describe how a measurement was made, kept beside every value.
METADATA = [
    "samples", "tokens", "hvps", "sharpness_converged", "noise_method", "mode", "seconds",
    "device", "commit",
]  # fmt: skip


def tidy_statistics(wide: pd.DataFrame, extra: Iterable[str] = ()) -> pd.DataFrame:
    """One row per (run, step, [extra], statistic) from one row per estimate."""
    ids = [*RUN, "step", "epoch", *extra]
    meta = [column for column in METADATA if column in wide]
    tidy = wide.melt(id_vars=ids + meta, value_vars=STATISTICS, var_name="statistic")
    return tidy[[*ids, "statistic", "value", *meta]].sort_values([*ids, "statistic"])


def read_train_log(path: Path) -> pd.DataFrame:
    """A run's per-iteration log, labelled with the run its path names (runs/E/S/seedN/...)."""
    path = Path(path)
    experiment, schedule, seed = path.parts[-4], path.parts[-3], int(path.parts[-2][4:])
    log = pd.read_parquet(path)
    return log.assign(experiment=experiment, schedule=schedule, seed=seed)[
        [*RUN, "step", "epoch", "lr", "loss"]
    ]


def read_all(paths: Iterable[Path]) -> pd.DataFrame:
    """The Parquet files concatenated (an empty frame for none)."""
    frames = [pd.read_parquet(path) for path in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write a table atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, frame.reset_index(drop=True).to_parquet(index=False))


def mirror_run(wandb: dict, name: str, job_type: str, group: str, config: dict) -> Tracker:
    """A started W&B mirror run for ``name`` and ``job_type`` (a no-op when W&B is disabled)."""
    tracker = Tracker()
    tracker.start(
        run_id=stable_run_id(f"{name}/{job_type}"),
        name=name,
        group=group,
        job_type=job_type,
        config=config,
        **{key: value for key, value in wandb.items() if key in WANDB_KEYS},
    )
    return tracker


def mirror_to_wandb(stats: pd.DataFrame, wandb: dict) -> None:
    """Log each run's estimates to W&B (job type 'estimate', grouped by experiment)."""
    if wandb.get("mode", "disabled") == "disabled" or stats.empty:
        return
    for (experiment, schedule, seed), run in stats.groupby(RUN):
        config = {"experiment": experiment, "schedule": schedule, "seed": int(seed)}
        tracker = mirror_run(
            wandb, f"{experiment}/{schedule}/seed{seed}", "estimate", experiment, config
        )
        wide = run.pivot_table(index=["step", "epoch"], columns="statistic", values="value")
        for (step, epoch), row in wide.iterrows():
            metrics = {f"estimate/{key}": float(value) for key, value in row.items()}
            tracker.log({**metrics, "epoch": float(epoch)}, step=int(step))
        tracker.finish()


def mirror_figure(name: str, png: Path, wandb: dict) -> None:
    """Log a figure's PNG to W&B (job type 'figure'); the PNG itself stays the result."""
    if wandb.get("mode", "disabled") == "disabled":
        return
    tracker = mirror_run(wandb, f"figures/{name}", "figure", "figures", {"figure": name})
    tracker.log_image(name, png)
    tracker.finish()


def collect_experiment(
    stats: Iterable[Path],
    sample_size: Iterable[Path],
    train_logs: Iterable[Path],
    outputs: dict[str, Path],
    wandb: dict,
) -> None:
    """Write the experiment's tables (stats, iterations, sample_size) and mirror them to W&B."""
    estimates = read_all(stats)
    tidy = tidy_statistics(estimates) if len(estimates) else pd.DataFrame()
    write_parquet(tidy, outputs["stats"])
    iterations = pd.concat([read_train_log(path) for path in train_logs], ignore_index=True)
    write_parquet(iterations, outputs["iterations"])
    studies = read_all(sample_size)
    write_parquet(
        tidy_statistics(studies, ["size"]) if len(studies) else studies, outputs["sample_size"]
    )
    mirror_to_wandb(tidy, wandb)

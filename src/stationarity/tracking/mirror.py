"""Mirror results to W&B: each run's estimates and each figure's PNG (the files stay the truth)."""

from pathlib import Path

import pandas as pd

from .runs import WANDB_KEYS, Tracker, estimate_run_id, stable_run_id


def mirror_run(
    wandb: dict, run_id: str, name: str, job_type: str, group: str, config: dict
) -> Tracker:
    """A started W&B mirror run ``run_id`` of ``job_type`` (a no-op if W&B is off)."""
    tracker = Tracker()
    tracker.start(
        run_id=run_id,
        name=name,
        group=group,
        job_type=job_type,
        config=config,
        **{key: value for key, value in wandb.items() if key in WANDB_KEYS},
    )
    return tracker


def mirror_estimates(name: str, identity: str, stats: pd.DataFrame, wandb: dict) -> None:
    """Log one run's tidy estimates to W&B (job type 'estimate', grouped by experiment).

    The W&B run is keyed by the run's identity: a changed run is a new W&B run.
    """
    if wandb.get("mode", "disabled") == "disabled" or stats.empty:
        return
    experiment, schedule, seed = stats.iloc[0][["experiment", "schedule", "seed"]]
    config = {
        "experiment": experiment,
        "schedule": schedule,
        "seed": int(seed),
        "identity": identity,
    }
    run_id = estimate_run_id(name, identity)
    tracker = mirror_run(wandb, run_id, name, "estimate", experiment, config)
    # Each estimate with its standard error (and sharpness with its solver bound), where known.
    columns = [column for column in ("value", "se", "bound") if column in stats]
    wide = stats.pivot(index=["step", "epoch"], columns="statistic", values=columns)
    for (step, epoch), row in wide.iterrows():
        metrics = {
            f"estimate/{key}" + ("" if column == "value" else f"_{column}"): float(value)
            for (column, key), value in row.items()
            if column == "value" or value == value  # NaN errors are not logged
        }
        tracker.log({**metrics, "epoch": float(epoch)}, step=int(step))
    tracker.finish()


def mirror_figure(name: str, png: Path, wandb: dict) -> None:
    """Log a figure's PNG to W&B (job type 'figure'); the PNG itself stays the result."""
    if wandb.get("mode", "disabled") == "disabled":
        return
    run_id = stable_run_id(f"figures/{name}/figure")
    tracker = mirror_run(wandb, run_id, f"figures/{name}", "figure", "figures", {"figure": name})
    tracker.log_image(name, png)
    tracker.finish()

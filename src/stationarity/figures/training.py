"""Figures of trained runs (paper Figs. 1–4, 6, 7): the four statistics along training.

Every function takes the tidy tables of stationarity.tables (``stats``: run × step × statistic;
``iterations``: per-step training loss and lr) and the figure's ``sources``: a list of
{experiment, schedules} whose runs it draws, one row per schedule.
"""

import matplotlib.pyplot as plt
import pandas as pd

from ..tables import run_labels

COLUMNS = [
    ("train_loss", "training loss"),
    ("grad_norm", "gradient norm ‖∇L‖"),
    ("noise", "gradient noise σ"),
    ("sharpness", "sharpness ‖∇²L‖"),
]


def schedule_label(sources: list[dict], experiment: str, schedule: str) -> str:
    """A schedule's label from its source (the config's ``label``), else its name."""
    for source in sources:
        if source["experiment"] == experiment:
            return source.get("labels", {}).get(schedule, schedule)
    return schedule


def source_rows(sources: list[dict]) -> list[tuple[str, str]]:
    """The (experiment, schedule) of each row, in the order the config lists them."""
    return [
        (source["experiment"], schedule) for source in sources for schedule in source["schedules"]
    ]


def epoch_train_loss(iterations: pd.DataFrame) -> pd.DataFrame:
    """Mean minibatch loss over each epoch (as the paper plots training loss), at its end."""
    per_epoch = iterations.assign(epoch=iterations.epoch.astype(int) + 1)
    table = per_epoch.groupby(
        ["experiment", "schedule", "seed", "epoch"], as_index=False
    ).loss.mean()
    return table.rename(columns={"epoch": "x", "loss": "value"}).assign(statistic="train_loss")


def curves(stats: pd.DataFrame, iterations: pd.DataFrame, x: str) -> pd.DataFrame:
    """The plotted numbers: run, schedule, x, statistic, value (training loss and estimates)."""
    estimates = stats[stats.statistic.isin([name for name, _ in COLUMNS])]
    estimates = estimates.assign(x=estimates[x])[
        ["experiment", "schedule", "seed", "x", "statistic", "value"]
    ]
    if x == "epoch":
        train = epoch_train_loss(iterations)
    else:  # language models: mean of each interval between estimated checkpoints
        train = iterations.assign(x=iterations.step).rename(columns={"loss": "value"})
        train = train.assign(statistic="train_loss")
    frame = pd.concat([train[estimates.columns], estimates], ignore_index=True)
    frame.insert(0, "run", run_labels(frame))
    return frame


def statistics_grid(
    stats, iterations, sources, sample_size=None, x="epoch"
) -> tuple[plt.Figure, pd.DataFrame]:
    """Rows: the sources' schedules; columns: training loss, ‖∇L‖, σ, ‖∇²L‖ against x."""
    rows = source_rows(sources)
    data = curves(stats, iterations, x)
    data = data[[(e, s) in rows for e, s in zip(data.experiment, data.schedule, strict=True)]]
    fig, axes = plt.subplots(len(rows), 4, figsize=(15, 2.8 * len(rows)), squeeze=False)
    for axis_row, (experiment, schedule) in zip(axes, rows, strict=True):
        run = data[(data.experiment == experiment) & (data.schedule == schedule)]
        for ax, (name, label) in zip(axis_row, COLUMNS, strict=True):
            for _, seed_run in run[run.statistic == name].groupby("seed"):
                series = seed_run.sort_values("x")
                ax.plot(series.x, series.value, marker="." if name != "train_loss" else None, lw=1)
            ax.set_title(f"{schedule_label(sources, experiment, schedule)}: {label}", fontsize=9)
            ax.set_xlabel(x)
            if name in ("noise", "sharpness"):
                ax.set_yscale("log")
    fig.tight_layout()
    return fig, data.reset_index(drop=True)

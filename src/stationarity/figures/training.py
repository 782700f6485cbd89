"""Figures of trained runs (paper Figs. 1–4, 7): the four statistics along training.

Every function takes the tidy tables of stationarity.tables (``stats``: run × step × statistic,
with the columns ``se`` and ``bound`` where the tables carry them; ``iterations``: per-step
training loss and lr) and the figure's ``sources``: a list of {experiment, schedules, labels, …}
whose runs it draws, one row per schedule (see ``StudyPlan.figure_sources``).
"""

import pandas as pd

from ..tables import RUN, run_labels
from . import style
from .captions import smoothing_window

COLUMNS = ["train_loss", "grad_norm", "noise", "sharpness"]
UNCERTAINTY = ["se", "bound"]  # per-estimate columns of newer tables; older ones have neither
MARKED = 60  # estimates of runs with at most this many checkpoints get a marker each


def schedule_label(sources: list[dict], experiment: str, schedule: str) -> str:
    """A schedule's label from its source (the config's ``label``), else its name."""
    for source in sources:
        if source["experiment"] == experiment:
            return source.get("labels", {}).get(schedule, schedule)
    return schedule


def labelled(frame: pd.DataFrame, sources: list[dict], experiment: str | None = None):
    """``frame`` with a ``label`` column (each row's schedule label) right after ``schedule``."""
    experiments = frame.experiment if experiment is None else [experiment] * len(frame)
    labels = [
        schedule_label(sources, e, s) for e, s in zip(experiments, frame.schedule, strict=True)
    ]
    frame = frame.drop(columns="label", errors="ignore")
    frame.insert(frame.columns.get_loc("schedule") + 1, "label", labels)
    return frame


def source_rows(sources: list[dict]) -> list[tuple[str, str]]:
    """The (experiment, schedule) of each row, in the order the config lists them."""
    return [
        (source["experiment"], schedule) for source in sources for schedule in source["schedules"]
    ]


def steps_per_epoch(stats: pd.DataFrame | None, iterations: pd.DataFrame) -> pd.Series:
    """Steps per epoch of each run (indexed by experiment, schedule, seed).

    From the estimates (which record step and fractional epoch), else from the training log: the
    most steps any one epoch has (a branch's first epoch and a cut-short last one have fewer).
    """
    logged = iterations.groupby([*RUN, "epoch"]).size().groupby(level=RUN).max().astype(float)
    if stats is None or stats.empty:
        return logged
    measured = stats[(stats.step > 0) & (stats.epoch > 0)]
    recorded = (measured.step / measured.epoch).groupby([measured[c] for c in RUN]).median()
    return recorded.combine_first(logged)


def in_epochs(frame: pd.DataFrame, per_epoch: pd.Series) -> pd.Series:
    """The epoch at the end of each row's step (a logged step s completes update s + 1)."""
    index = pd.MultiIndex.from_frame(frame[RUN])
    return pd.Series((frame.step.to_numpy() + 1) / per_epoch.reindex(index).to_numpy(), frame.index)


def epoch_train_loss(iterations: pd.DataFrame) -> pd.DataFrame:
    """Mean minibatch loss over each epoch (as the paper plots training loss), at its end."""
    per_epoch = iterations.assign(epoch=iterations.epoch.astype(int) + 1)
    table = per_epoch.groupby([*RUN, "epoch"], as_index=False).loss.mean()
    return table.rename(columns={"epoch": "x", "loss": "value"}).assign(statistic="train_loss")


def smoothed_train_loss(iterations: pd.DataFrame, per_epoch: pd.Series) -> pd.DataFrame:
    """Fig. 4: each run's per-step loss as a running mean over ``smoothing_window`` steps, against
    epochs; thinned to every fifth of a window (the curve is smooth at that scale)."""
    parts = []
    for _, run in iterations.groupby(RUN, sort=False):
        run = run.sort_values("step")
        window = smoothing_window(int(run.step.max()) + 1)
        value = run.loss.rolling(window, min_periods=1).mean()
        run = run.assign(x=in_epochs(run, per_epoch), value=value)
        parts.append(run[run.step % max(1, window // 5) == 0])
    return pd.concat(parts, ignore_index=True).assign(statistic="train_loss")


def curves(stats, iterations, x: str, smooth: bool = False) -> pd.DataFrame:
    """The plotted numbers: run, experiment, schedule, seed, x, statistic, value (se, bound)."""
    kept = [*RUN, "x", "statistic", "value", *[c for c in UNCERTAINTY if c in stats]]
    estimates = stats[stats.statistic.isin(COLUMNS)]
    estimates = estimates.assign(x=estimates[x])[kept]
    if smooth:
        train = smoothed_train_loss(iterations, steps_per_epoch(stats, iterations))
    elif x == "epoch":
        train = epoch_train_loss(iterations)
    else:
        train = iterations.assign(x=iterations.step + 1, value=iterations.loss)
        train = train.assign(statistic="train_loss")
    frame = pd.concat([train[[*RUN, "x", "statistic", "value"]], estimates], ignore_index=True)
    frame.insert(0, "run", run_labels(frame))
    return frame


def draw_curve(ax, series: pd.DataFrame, color: str, label: str, estimate: bool) -> None:
    """One run's curve of one statistic, with its uncertainty band where the tables carry one."""
    # Checkpoints without this statistic (sharpness_every, an unconverged solver) are skipped,
    # not drawn as gaps that would break the line between the ones that have it.
    series = series.dropna(subset=["value"])
    marker = "o" if estimate and len(series) <= MARKED else None
    ax.plot(series.x, series.value, color=color, marker=marker, ms=2.5, label=label)
    style.band(ax, series.x, series, color)


def statistics_grid(stats, iterations, sources, sample_size=None, x="epoch", smooth=False) -> tuple:
    """Rows: the sources' schedules; columns: L(θ), ‖∇L‖, σ and λ_max against x (epochs)."""
    rows = source_rows(sources)
    data = curves(stats, iterations, x, smooth)
    data = data[[(e, s) in rows for e, s in zip(data.experiment, data.schedule, strict=True)]]
    data = labelled(data.reset_index(drop=True), sources)
    palette = style.colors(sources)
    titles = [schedule_label(sources, experiment, schedule) for experiment, schedule in rows]
    fig, axes = style.grid(titles, len(COLUMNS))
    # Rows of one experiment share each column's axes, so that they read against each other.
    shared = len({experiment for experiment, _ in rows}) == 1
    for col, name in enumerate(COLUMNS):
        column = data[data.statistic == name]
        for row, (experiment, schedule) in enumerate(rows):
            ax = axes[row, col]
            if shared and row:
                ax.sharex(axes[0, col])
                ax.sharey(axes[0, col])
            if style.spans_decades(column.value):  # each axes: sharing copies no transform
                style.log_axis(ax, "y", column.value)
            run = column[(column.experiment == experiment) & (column.schedule == schedule)]
            for _, series in run.groupby("seed"):
                color = palette.get(schedule, "C0")
                draw_curve(ax, series.sort_values("x"), color, titles[row], name != "train_loss")
            ax.set_ylabel(style.LABELS[name])
            ax.set_xlabel(style.LABELS.get(x, x) if row == len(rows) - 1 or not shared else "")
    return fig, data

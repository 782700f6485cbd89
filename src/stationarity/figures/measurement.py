"""Figures about the measurement itself and the paper's heuristics: Figs. 6, 8, 9 and eq. (10)."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..files import run_name
from ..tables import run_labels
from .training import COLUMNS, schedule_label, source_rows

SAMPLE_COLUMNS = [name for name, _ in COLUMNS if name != "train_loss"] + ["loss"]


def in_sources(frame: pd.DataFrame, sources: list[dict]) -> pd.DataFrame:
    """The rows of frame that belong to the sources' runs."""
    rows = set(source_rows(sources))
    return frame[[(e, s) in rows for e, s in zip(frame.experiment, frame.schedule, strict=True)]]


def loss_oscillation(
    stats, iterations, sources, sample_size=None
) -> tuple[plt.Figure, pd.DataFrame]:
    """Fig. 6: per-iteration training loss over the last part of each source's run."""
    fig, axes = plt.subplots(1, len(sources), figsize=(6 * len(sources), 3.6), squeeze=False)
    plotted = []
    for ax, source in zip(axes[0], sources, strict=True):
        runs = in_sources(iterations, [source])
        for (schedule, seed), run in runs.groupby(["schedule", "seed"]):
            tail = run[run.step >= run.step.max() * (1 - source.get("last_fraction", 0.2))]
            name = schedule_label([source], source["experiment"], schedule)
            ax.plot(tail.step, tail.loss, lw=0.4, label=f"{name} (seed {seed})")
            plotted.append(
                pd.DataFrame(
                    {
                        "run": run_name(source["experiment"], schedule, seed),
                        "schedule": schedule,
                        "x": tail.step,
                        "statistic": "train_loss",
                        "value": tail.loss,
                    }
                )
            )
        ax.set(title=f"{source['experiment']}: per-iteration loss", xlabel="step", ylabel="loss")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, pd.concat(plotted, ignore_index=True)


def sample_size_convergence(
    stats, iterations, sources, sample_size=None
) -> tuple[plt.Figure, pd.DataFrame]:
    """Figs. 8, 9: each statistic against the number of samples m, one line per checkpoint."""
    data = in_sources(sample_size, sources)
    data = data[data.statistic.isin(SAMPLE_COLUMNS)]
    fig, axes = plt.subplots(1, len(SAMPLE_COLUMNS), figsize=(4 * len(SAMPLE_COLUMNS), 3.4))
    tokens = data.tokens.max() > data.samples.max() if "tokens" in data else False
    for ax, name in zip(axes, SAMPLE_COLUMNS, strict=True):
        for (schedule, step), run in data[data.statistic == name].groupby(["schedule", "step"]):
            run = run.sort_values("size")
            xs = run.tokens if tokens else run["size"]
            ax.plot(xs, run.value, marker="o", label=f"{schedule}, step {step}")
        ax.set(xscale="log", title=name, xlabel="tokens" if tokens else "samples m")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    plotted = data.assign(
        run=run_labels(data),
        x=data.tokens if tokens else data["size"],
    )[["run", "schedule", "step", "x", "statistic", "value"]]
    return fig, plotted.reset_index(drop=True)


def eq10_sides(stats: pd.DataFrame, iterations: pd.DataFrame, batch_sizes: dict) -> pd.DataFrame:
    """Both sides of eq. (10) at every checkpoint: Grad² and η·Σ·𝓛·G for batch-size-B gradients."""
    wide = stats.pivot_table(
        index=["experiment", "schedule", "seed", "step"], columns="statistic", values="value"
    )
    wide = wide.reset_index()
    lr = (
        iterations.groupby(["experiment", "schedule", "seed"]).lr.first().rename("lr").reset_index()
    )
    wide = wide.merge(lr, on=["experiment", "schedule", "seed"])
    batch = wide.experiment.map(batch_sizes).astype(float)
    minibatch_noise = wide.noise / np.sqrt(batch)  # Σ: noise of the stochastic gradient SGD used
    second_moment = np.sqrt(wide.grad_norm**2 + minibatch_noise**2)  # G
    wide["lhs"] = wide.grad_norm**2
    wide["rhs"] = wide.lr * minibatch_noise * wide.sharpness * second_moment
    return wide


def eq10(stats, iterations, sources, sample_size=None) -> tuple[plt.Figure, pd.DataFrame]:
    """Eq. (10): Grad² against η·Σ·𝓛·G at every checkpoint of constant-step runs, log–log."""
    batch_sizes = {source["experiment"]: source["batch_size"] for source in sources}
    sides = eq10_sides(in_sources(stats, sources), in_sources(iterations, sources), batch_sizes)
    sides = sides[(sides.step > 0) & np.isfinite(sides.rhs) & (sides.rhs > 0)]
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for (experiment, schedule), run in sides.groupby(["experiment", "schedule"]):
        label = schedule_label(sources, experiment, schedule)
        ax.loglog(run.rhs, run.lhs, "o", ms=4, label=label)
    low = min(sides.rhs.min(), sides.lhs.min())
    high = max(sides.rhs.max(), sides.lhs.max())
    ax.loglog([low, high], [low, high], "k--", lw=1, label="identity")
    ax.set(
        xlabel="η · Σ · L_H · G  (L_H: sharpness)",
        ylabel="Grad² = ‖∇L‖²",
        title="Eq. (10) at every checkpoint",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    plotted = sides.melt(
        id_vars=["experiment", "schedule", "seed", "step"],
        value_vars=["lhs", "rhs"],
        var_name="statistic",
    )
    plotted = plotted.assign(run=run_labels(plotted))
    return fig, plotted.rename(columns={"step": "x"})[
        ["run", "schedule", "x", "statistic", "value"]
    ]


def smoothed(values: pd.Series, window: int) -> np.ndarray:
    """Running mean over the last ``window`` iterations (the paper's training-loss curves)."""
    return values.rolling(window, min_periods=1).mean().to_numpy()


def theorem8(stats, iterations, sources, sample_size=None) -> tuple[plt.Figure, pd.DataFrame]:
    """Theorem 8: from where the loss has settled at rate η, branches at c·η reach a lower loss.

    Each branch is drawn against the steps since it left its parent, beside the parent's own
    continuation from the same checkpoint; curves are running means over one epoch of steps.
    """
    fig, axes = plt.subplots(1, len(sources), figsize=(6.5 * len(sources), 4), squeeze=False)
    plotted = []
    for ax, source in zip(axes[0], sources, strict=True):
        runs = iterations[iterations.experiment == source["experiment"]]  # parents are not listed
        per_epoch = int((runs.epoch == runs.epoch.min()).sum() / runs.schedule.nunique())
        curves = {parent: at for parent, at in source["branches"].values()}  # each parent once
        curves.update({schedule: 0 for schedule in source["branches"]})
        for name, at in curves.items():
            run = runs[(runs.schedule == name) & (runs.step >= at)].sort_values("step")
            x, y = run.step - at, smoothed(run.loss, max(1, per_epoch))
            shown = schedule_label([source], source["experiment"], name)
            label = (
                f"{shown} (branch)" if name in source["branches"] else f"{shown} (continued at η)"
            )
            ax.plot(x, y, lw=1.2, label=label)
            plotted.append(
                pd.DataFrame(
                    {
                        "run": f"{source['experiment']}/{name}",
                        "schedule": name,
                        "x": x,
                        "statistic": "train_loss_running_mean",
                        "value": y,
                    }
                )  # fmt: skip
            )
        ax.set(title=f"{source['experiment']}: branches at c·η", xlabel="steps since the branch")
        ax.set_ylabel("training loss (running mean over an epoch)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, pd.concat(plotted, ignore_index=True)

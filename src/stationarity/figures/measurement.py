"""Figures about the measurement itself and the paper's heuristics: Figs. 6, 8, 9 and eq. (10)."""

import textwrap

import numpy as np
import pandas as pd

from ..files import run_name
from ..tables import RUN, run_labels
from . import style
from .training import UNCERTAINTY, in_epochs, labelled, schedule_label, source_rows, steps_per_epoch

SAMPLE_COLUMNS = ["loss", "grad_norm", "noise", "sharpness"]  # the paper's order (its eq. 2)
LINESTYLES = ("-", "--", ":", "-.")  # the checkpoints of one schedule in Figs. 8, 9
MARKERS = ("o", "s", "^", "D")


def in_sources(frame: pd.DataFrame, sources: list[dict]) -> pd.DataFrame:
    """The rows of frame that belong to the sources' runs."""
    rows = set(source_rows(sources))
    return frame[[(e, s) in rows for e, s in zip(frame.experiment, frame.schedule, strict=True)]]


def panel_title(source: dict) -> str:
    """A panel's title: the source's experiment label (or name), wrapped to fit one panel."""
    return textwrap.fill(source.get("experiment_label") or source["experiment"], 60)


def loss_oscillation(stats, iterations, sources, sample_size=None) -> tuple:
    """Fig. 6: per-iteration training loss against epochs over the last part of each source's run,
    with its running mean over one epoch (or a fifth of the part shown, if that is shorter)."""
    fig, axes = style.subplots(1, len(sources), panel=(6, 3.4))
    palette, plotted = style.colors(sources), []
    for ax, source in zip(axes[0], sources, strict=True):
        runs = in_sources(iterations, [source])
        per_epoch = steps_per_epoch(in_sources(stats, [source]), runs)
        for (schedule, seed), run in runs.groupby(["schedule", "seed"], sort=False):
            run = run.sort_values("step")
            run = run.assign(x=in_epochs(run, per_epoch))
            epoch = int(per_epoch.loc[(source["experiment"], schedule, seed)])
            tail = run.step >= run.step.max() * (1 - source.get("last_fraction", 0.2))
            # One epoch, but no more than a fifth of the part shown: over a short run an epoch's
            # window would average in the start of training, far above the curve it summarises.
            window = max(1, min(epoch, int(tail.sum()) // 5))
            mean = run.loss.rolling(window, min_periods=1).mean()
            span = "1 epoch" if window == epoch else f"{window} steps"
            name = schedule_label([source], source["experiment"], schedule)
            color = palette.get(schedule, "C0")
            # rasterized: a PDF line of 10⁵ vertices is slow to open
            ax.plot(
                run.x[tail],
                run.loss[tail],
                lw=0.4,
                color=color,
                label=f"{name}, per step",
                rasterized=True,
            )
            ax.plot(run.x[tail], mean[tail], lw=1.6, color="0.15", label=f"running mean ({span})")
            for statistic, values in (("train_loss", run.loss), ("train_loss_epoch_mean", mean)):
                plotted.append(
                    pd.DataFrame(
                        {
                            "run": run_name(source["experiment"], schedule, seed),
                            "schedule": schedule,
                            "label": name,
                            "x": run.x[tail],
                            "statistic": statistic,
                            "value": values[tail],
                        }
                    )
                )
        ax.set(xlabel=style.LABELS["epoch"], ylabel=style.LABELS["train_loss"])
        ax.set_title(panel_title(source), fontsize="medium")
        style.legend(ax)
    return fig, pd.concat(plotted, ignore_index=True)


def sample_size_convergence(stats, iterations, sources, sample_size=None) -> tuple:
    """Figs. 8, 9: each statistic against the number of samples m, one line per checkpoint."""
    data = in_sources(sample_size, sources)
    data = labelled(data[data.statistic.isin(SAMPLE_COLUMNS)].reset_index(drop=True), sources)
    tokens = {"tokens", "samples"} <= set(data) and bool(data.tokens.max() > data.samples.max())
    data = data.assign(run=run_labels(data), x=data.tokens if tokens else data["size"])
    fig, axes = style.subplots(1, len(SAMPLE_COLUMNS), panel=(3.3, 2.8))
    palette = style.colors(sources)
    for ax, name in zip(axes[0], SAMPLE_COLUMNS, strict=True):
        column = data[data.statistic == name]
        style.log_axis(ax, "x", column.x)
        if style.spans_decades(column.value):
            style.log_axis(ax, "y", column.value)
        for experiment, schedule in source_rows(sources):  # legend in the config's order
            color = palette.get(schedule, "C0")
            checkpoints = column[(column.experiment == experiment) & (column.schedule == schedule)]
            for i, (_, run) in enumerate(checkpoints.groupby(["step", "seed"])):
                run = run.sort_values("size").dropna(subset=["value"])  # sharpness_sizes
                label = f"{run.label.iloc[0]}, epoch {run.epoch.iloc[0]:.3g}"
                line = {"ls": LINESTYLES[i % 4], "marker": MARKERS[i % 4], "ms": 3}
                ax.plot(run.x, run.value, color=color, label=label, **line)
                style.band(ax, run.x, run, color)
        ax.set(xlabel=style.LABELS["tokens" if tokens else "samples"], ylabel=style.LABELS[name])
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(handles)))
    kept = ["run", "schedule", "label", "step", "x", "statistic", "value"]
    return fig, data[kept + [c for c in UNCERTAINTY if c in data]].reset_index(drop=True)


def wide_estimates(stats: pd.DataFrame, column: str) -> pd.DataFrame:
    """One row per checkpoint and one column per statistic, of ``column`` (value, se, bound)."""
    wide = stats.pivot_table(index=[*RUN, "step"], columns="statistic", values=column)
    return wide.reset_index()


def eq10_sides(
    stats: pd.DataFrame, iterations: pd.DataFrame, batch_sizes: dict, momenta: dict | None = None
) -> pd.DataFrame:
    """Both sides of eq. (10) at every checkpoint: Grad² and η_eff·Σ·𝓛·G for batch-size-B
    gradients, where η_eff = η/(1−β) for an experiment's SGD momentum β in ``momenta``."""
    wide = wide_estimates(stats, "value")
    # The rate of the last update before each checkpoint (step s follows update s − 1).
    rates = iterations[[*RUN, "step", "lr"]].rename(columns={"step": "update"})
    wide = pd.merge_asof(
        wide.assign(update=wide.step - 1).sort_values("update"),
        rates.sort_values("update"),
        on="update",
        by=RUN,
        direction="backward",
    )
    first = iterations.groupby(RUN).lr.first().rename("first_lr").reset_index()
    wide = wide.merge(first, on=RUN).sort_values([*RUN, "step"]).reset_index(drop=True)
    wide["lr"] = wide.lr.fillna(wide.first_lr)  # step 0 comes before any update
    momentum = wide.experiment.map(momenta or {}).fillna(0.0).astype(float)
    wide["effective_step"] = wide.lr / (1 - momentum)  # heavy ball: Σ β^k g = g/(1−β) when settled
    batch = wide.experiment.map(batch_sizes).astype(float)
    minibatch_noise = wide.noise / np.sqrt(batch)  # Σ: noise of the stochastic gradient SGD used
    second_moment = np.sqrt(wide.grad_norm**2 + minibatch_noise**2)  # G
    wide["lhs"] = wide.grad_norm**2
    wide["rhs"] = wide.effective_step * minibatch_noise * wide.sharpness * second_moment
    return wide.join(eq10_errors(stats, wide))


def eq10_errors(stats: pd.DataFrame, wide: pd.DataFrame) -> pd.DataFrame:
    """Half-widths of ±2 SE on both sides (NaN without ``se``): Grad² by the delta method, the
    right side from σ's SE and the sharpness's solver bound in quadrature (G's error neglected)."""
    errors = pd.DataFrame(index=wide.index, columns=["lhs_error", "rhs_error"], dtype=float)
    if "se" not in stats or stats.se.isna().all():
        return errors
    keys = wide[[*RUN, "step"]]
    se = keys.merge(wide_estimates(stats, "se"), on=[*RUN, "step"], how="left")
    se = se.reindex(columns=["grad_norm", "noise"])  # a statistic without any SE has no column
    bound = pd.DataFrame(index=wide.index, columns=["sharpness"], dtype=float)
    if "bound" in stats and stats.bound.notna().any():
        bound = keys.merge(wide_estimates(stats, "bound"), on=[*RUN, "step"], how="left")
        bound = bound.reindex(columns=["sharpness"])
    errors["lhs_error"] = 4 * wide.grad_norm.to_numpy() * se.grad_norm.to_numpy()  # 2·SE(g²)
    relative = np.hypot(
        2 * se.noise.to_numpy() / wide.noise.to_numpy(),
        np.nan_to_num(bound.sharpness.to_numpy(dtype=float)) / wide.sharpness.to_numpy(),
    )
    errors["rhs_error"] = wide.rhs.to_numpy() * relative
    return errors


def eq10(stats, iterations, sources, sample_size=None) -> tuple:
    """Eq. (10): Grad² against η_eff·Σ·𝓛·G at every checkpoint of constant-step runs, log–log."""
    batch_sizes = {source["experiment"]: source["batch_size"] for source in sources}
    momenta = {
        source["experiment"]: source["optimizer"].get("momentum", 0.0)
        for source in sources
        if source.get("optimizer", {}).get("name") == "sgd"
    }
    sides = eq10_sides(
        in_sources(stats, sources), in_sources(iterations, sources), batch_sizes, momenta
    )
    sides = sides[(sides.step > 0) & np.isfinite(sides.rhs) & (sides.rhs > 0)]
    fig, axes = style.subplots(1, 1, panel=(4.8, 4.4))
    ax, palette = axes[0, 0], style.colors(sources)
    both = np.r_[sides.rhs, sides.lhs]  # one tick scheme on both axes: the identity is a diagonal
    style.log_axis(ax, "x", both)
    style.log_axis(ax, "y", both)
    for experiment, schedule in source_rows(sources):  # legend in the config's order
        run = sides[(sides.experiment == experiment) & (sides.schedule == schedule)]
        if run.empty:  # no checkpoint past step 0 yet: no legend entry without points
            continue
        color = palette.get(schedule, "C0")
        label = schedule_label(sources, experiment, schedule)
        ax.plot(run.rhs, run.lhs, "-o", ms=4, lw=0.5, color=color, label=label)
        if run.lhs_error.notna().any():  # error bars stop short of 0 on the log axes
            xerr = [np.minimum(run.rhs_error, 0.9 * run.rhs), run.rhs_error]
            yerr = [np.minimum(run.lhs_error, 0.9 * run.lhs), run.lhs_error]
            bars = {"fmt": "none", "ecolor": color, "alpha": 0.5, "lw": 0.8}
            ax.errorbar(run.rhs, run.lhs, xerr=xerr, yerr=yerr, **bars)
    low = min(sides.rhs.min(), sides.lhs.min())
    high = max(sides.rhs.max(), sides.lhs.max())
    ax.plot([low, high], [low, high], "k--", lw=1, label="identity")
    ax.set(
        xlabel=r"$\eta_{\mathrm{eff}}\,\Sigma\,\mathcal{L}\,G$  ($\mathcal{L}$: sharpness)",
        ylabel=r"$\mathrm{Grad}^2 = \|\nabla L(\theta)\|^2$",
    )
    style.legend(ax)
    plotted = sides.melt(
        id_vars=[*RUN, "step"],
        value_vars=["lhs", "rhs", "effective_step", "lhs_error", "rhs_error"],
        var_name="statistic",
    )
    plotted = labelled(plotted[plotted.value.notna()].reset_index(drop=True), sources)
    plotted = plotted.assign(run=run_labels(plotted)).rename(columns={"step": "x"})
    return fig, plotted[["run", "schedule", "label", "x", "statistic", "value"]]


def smoothed(values: pd.Series, window: int) -> np.ndarray:
    """Running mean over the last ``window`` iterations (the paper's training-loss curves)."""
    return values.rolling(window, min_periods=1).mean().to_numpy()


def theorem8(stats, iterations, sources, sample_size=None) -> tuple:
    """Theorem 8: from where the loss has settled at rate η, branches at c·η reach a lower loss.

    Each branch is drawn against the epochs since it left its parent, beside the parent's own
    continuation from the same checkpoint (dashed); curves are running means over one epoch.
    """
    fig, axes = style.subplots(1, len(sources), panel=(5.5, 3.8))
    palette, plotted = style.colors(sources), []
    for ax, source in zip(axes[0], sources, strict=True):
        runs = iterations[iterations.experiment == source["experiment"]]  # parents are not listed
        per_epoch = steps_per_epoch(stats[stats.experiment == source["experiment"]], runs)
        curves = {parent: at for parent, at in source["branches"].values()}  # each parent once
        curves.update({schedule: 0 for schedule in source["branches"]})
        for name, at in curves.items():
            run = runs[(runs.schedule == name) & (runs.step >= at)].sort_values("step")
            if run.empty:
                continue
            epoch = float(per_epoch.loc[tuple(run[RUN].iloc[0])])
            x, y = (run.step - at + 1) / epoch, smoothed(run.loss, max(1, round(epoch)))
            shown = schedule_label([source], source["experiment"], name)
            branch = name in source["branches"]
            label = f"{shown} (branch at c·η)" if branch else f"{shown} (continued at η)"
            dashes = "-" if branch else "--"
            ax.plot(x, y, lw=1.4, ls=dashes, color=palette.get(name, "C0"), label=label)
            plotted.append(
                pd.DataFrame(
                    {
                        "run": f"{source['experiment']}/{name}",
                        "schedule": name,
                        "label": shown,
                        "x": x,
                        "statistic": "train_loss_running_mean",
                        "value": y,
                    }
                )
            )
        ax.set_title(panel_title(source), fontsize="medium")
        ax.set(xlabel="epochs since the branch", ylabel=style.LABELS["train_loss"])
        style.legend(ax)
    return fig, pd.concat(plotted, ignore_index=True)

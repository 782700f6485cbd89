"""Figures that check the paper's theory numerically: Lemma 2 and Theorem 1."""

import numpy as np
import pandas as pd

from . import style


def theory_lemma2(table: pd.DataFrame) -> tuple:
    """Per n: the periodic orbit, the window-n mean M_t, and |M_t − M_{t−1}| against 1/(2n)."""
    windows = sorted(table.n.unique())
    fig, axes = style.subplots(3, len(windows), panel=(3.2, 2.5))
    for col, n in zip(axes.T, windows, strict=True):
        run = table[table.n == n]
        col[0].plot(run.iteration, run.theta, marker=".", lw=0.5)
        col[0].set(title=f"n = {n}: orbit (period {n + 1})", xlabel="$t$", ylabel=r"$\theta_t$")
        col[1].plot(run.iteration, run.window_mean, marker=".", lw=0.5)
        col[1].set(title="window-n mean", xlabel="$t$", ylabel="$M_t$")
        change = r"$|M_t - M_{t-1}|$"
        col[2].plot(run.iteration, run.window_change, marker=".", lw=0.5, label=change)
        style.log_axis(col[2], "y", [*run.window_change, 1 / (2 * n)])
        col[2].axhline(1 / (2 * n), color="C3", ls="--", label="proof's bound 1/(2n)")
        col[2].axhline(run.window_change.max(), color="C2", ls=":", label="measured limsup")
        col[2].set(title="change of the window mean", xlabel="$t$")
    # one legend below the grid: inside, it would cover the orbit's spikes
    fig.legend(*axes[2, 0].get_legend_handles_labels(), loc="outside lower center", ncols=3)
    plotted = table.melt(
        id_vars=["n", "iteration"],
        value_vars=["theta", "window_mean", "window_change", "bound"],
        var_name="statistic",
        value_name="value",
    ).rename(columns={"iteration": "x"})
    return fig, plotted


def theory_theorem1(table: pd.DataFrame) -> tuple:
    """|E_{μ_n}[φ(θ) − φ(F(θ))]| against n, log–log, per seed and RMS, with an n^(−1/2) line."""
    fig, axes = style.subplots(1, 1, panel=(5, 3.8))
    ax = axes[0, 0]
    for _, run in table.groupby("seed"):
        ax.loglog(run.n, run.gain, color="0.6", lw=0.6, alpha=0.7)
    rms = table.groupby("n").gain.apply(lambda g: float(np.sqrt((g**2).mean())))
    ax.loglog(rms.index, rms.to_numpy(), color="C0", lw=2, label="RMS over seeds")
    reference = table.groupby("n").reference.first()
    ax.loglog(reference.index, reference.to_numpy(), "k--", label=r"$c\,n^{-1/2}$")
    ax.set(
        xlabel=r"$n$ (iterates in $\mu_n$)",
        ylabel=r"$|E_{\mu_n}[\varphi(\theta) - \varphi(F(\theta))]|$",
    )
    ax.set_title(f"Theorem 1: {table.seed.nunique()} seeds (grey)")
    style.legend(ax)
    plotted = pd.concat(
        [
            table.rename(columns={"n": "x", "gain": "value"}).assign(statistic="gain")[
                ["seed", "x", "statistic", "value"]
            ],
            pd.DataFrame({"seed": -1, "x": rms.index, "statistic": "rms", "value": rms.to_numpy()}),
            pd.DataFrame(
                {"seed": -1, "x": reference.index, "statistic": "reference", "value": reference}
            ),
        ],
        ignore_index=True,
    )
    return fig, plotted

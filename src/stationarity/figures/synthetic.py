"""Fig. 5: gradient descent on 100 sin θ₁ sin θ₂ below and above the stability threshold 2/L."""

import numpy as np
import pandas as pd

from . import style

LAST = 500  # column II shows the last LAST iterates, as the paper does
THETA1, THETA2 = r"$\theta_1$", r"$\theta_2$"
SMOOTHNESS = 100  # L of f = 100 sin θ₁ sin θ₂: GD converges to stationary points iff η < 2/L


def running_mean(values: pd.Series) -> np.ndarray:
    """Average of the first t values, for every t (the paper's 'average over iterations')."""
    return np.cumsum(values.to_numpy()) / np.arange(1, len(values) + 1)


def fig5(table: pd.DataFrame) -> tuple:
    """Per step size: trajectory, last iterates, loss and gradient norm with running averages."""
    step_sizes = sorted(table.step_size.unique())
    # Rows say on which side of GD's stability threshold 2/L (L = 100) each step size lies.
    titles = [
        f"η = {eta:g} ({'below' if eta < 2 / SMOOTHNESS else 'above'} 2/L = {2 / SMOOTHNESS:g})"
        for eta in step_sizes
    ]
    fig, axes = style.grid(titles, 4, panel=(3.3, 2.8))
    plotted = []
    for row, eta in zip(axes, step_sizes, strict=True):
        run = table[table.step_size == eta].sort_values("iteration")
        it = run.iteration.to_numpy()
        series = {
            "theta1": run.theta1.to_numpy(),
            "theta2": run.theta2.to_numpy(),
            "loss": run.loss.to_numpy(),
            "loss_running_mean": running_mean(run.loss),
            "grad_norm": run.grad_norm.to_numpy(),
            "grad_norm_running_mean": running_mean(run.grad_norm),
        }
        points = row[0].scatter(series["theta1"], series["theta2"], c=it, s=4, cmap="viridis")
        fig.colorbar(points, ax=row[0], label=style.LABELS["iteration"])
        row[0].set(title="I: trajectory", xlabel=THETA1, ylabel=THETA2)
        tail = it >= it.max() - LAST + 1
        row[1].scatter(
            series["theta1"][tail], series["theta2"][tail], c=it[tail], s=6, cmap="viridis"
        )
        row[1].set(title=f"II: last {LAST} iterates", xlabel=THETA1, ylabel=THETA2)
        for ax, name, title, label in (
            (row[2], "loss", "III: loss", r"$f(\theta_t)$"),
            (row[3], "grad_norm", "IV: gradient norm", r"$\|\nabla f(\theta_t)\|$"),
        ):
            if style.spans_decades(series[name]):  # GD below 2/L: ‖∇f‖ → 0 over decades
                style.log_axis(ax, "y", series[name])
            ax.plot(it, series[name], lw=0.6, alpha=0.6, color="C0", label="per iteration")
            ax.plot(it, series[f"{name}_running_mean"], lw=1.8, color="C1", label="running average")
            ax.set(title=title, xlabel=style.LABELS["iteration"], ylabel=label)
        plotted += [
            pd.DataFrame({"step_size": eta, "x": it, "statistic": name, "value": values})
            for name, values in series.items()
        ]
    # one legend below the grid: the oscillating rows leave no room inside a panel
    fig.legend(*axes[0, 2].get_legend_handles_labels(), loc="outside lower center", ncols=2)
    return fig, pd.concat(plotted, ignore_index=True)

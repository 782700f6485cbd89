"""Fig. 5: gradient descent on 100 sin θ₁ sin θ₂ below and above the stability threshold 2/L."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

LAST = 500  # column II shows the last LAST iterates, as the paper does


def running_mean(values: pd.Series) -> np.ndarray:
    """Average of the first t values, for every t (the paper's 'average over iterations')."""
    return np.cumsum(values.to_numpy()) / np.arange(1, len(values) + 1)


def fig5(table: pd.DataFrame) -> tuple[plt.Figure, pd.DataFrame]:
    """Per step size: trajectory, last iterates, loss and gradient norm with running averages."""
    step_sizes = sorted(table.step_size.unique())
    fig, axes = plt.subplots(len(step_sizes), 4, figsize=(16, 3.6 * len(step_sizes)), squeeze=False)
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
        fig.colorbar(points, ax=row[0], label="iteration")
        row[0].set(title=f"I: trajectory, η = {eta:g}", xlabel="θ₁", ylabel="θ₂")
        tail = it >= it.max() - LAST + 1
        row[1].scatter(
            series["theta1"][tail], series["theta2"][tail], c=it[tail], s=6, cmap="viridis"
        )
        row[1].set(title=f"II: last {LAST} iterates", xlabel="θ₁", ylabel="θ₂")
        for ax, name, label in ((row[2], "loss", "III: loss"), (row[3], "grad_norm", "IV: ‖∇f‖")):
            ax.plot(it, series[name], lw=0.6, alpha=0.6, label="per iteration")
            ax.plot(it, series[f"{name}_running_mean"], lw=1.8, label="running average")
            ax.set(title=label, xlabel="iteration")
            ax.legend(loc="best", fontsize=8)
        plotted += [
            pd.DataFrame({"step_size": eta, "x": it, "statistic": name, "value": values})
            for name, values in series.items()
        ]
    fig.tight_layout()
    return fig, pd.concat(plotted, ignore_index=True)

"""Write a figure as PDF and PNG, and the numbers it plots as Parquet beside them."""

from pathlib import Path

import matplotlib
import pandas as pd

matplotlib.use("Agg")  # figures are made in batch jobs without a display

import matplotlib.pyplot as plt  # noqa: E402 (pyplot only once the backend is chosen)


def save_figure(fig: plt.Figure, data: pd.DataFrame, pdf: Path, png: Path, parquet: Path) -> None:
    """Save fig to pdf and png (150 dpi) and data to parquet, creating parent folders."""
    for path in (pdf, png, parquet):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(pdf, bbox_inches="tight")
    fig.savefig(png, dpi=150, bbox_inches="tight")
    plt.close(fig)
    data.to_parquet(parquet, index=False)

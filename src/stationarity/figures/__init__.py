"""One function per figure: tidy frames in, a Matplotlib figure and the plotted numbers out."""

from pathlib import Path

import pandas as pd

from stationarity.figures.save import save_figure
from stationarity.figures.synthetic import fig5
from stationarity.figures.theory import theory_lemma2, theory_theorem1

# name → function; a figure's name is also its Snakemake target.
FIGURES = {
    "fig5": fig5,
    "theory_lemma2": theory_lemma2,
    "theory_theorem1": theory_theorem1,
}


def draw_figure(name: str, tables: dict[str, Path], outputs) -> None:
    """Read the named Parquet tables, draw figure `name`, write outputs.png/.pdf/.data."""
    frames = {key: pd.read_parquet(path) for key, path in tables.items()}
    fig, data = FIGURES[name](**frames)
    save_figure(fig, data, pdf=outputs.pdf, png=outputs.png, parquet=outputs.data)


__all__ = ["FIGURES", "draw_figure", "fig5", "save_figure", "theory_lemma2", "theory_theorem1"]

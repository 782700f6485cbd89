"""One function per figure: tidy frames in, a Matplotlib figure and the plotted numbers out."""

from pathlib import Path

import pandas as pd

from stationarity.figures.measurement import (
    eq10,
    loss_oscillation,
    sample_size_convergence,
    theorem8,
)
from stationarity.figures.save import save_figure
from stationarity.figures.synthetic import fig5
from stationarity.figures.theory import theory_lemma2, theory_theorem1
from stationarity.figures.training import statistics_grid

# Figures of the closed-form experiments: name → function of one table.
SYNTHETIC_FIGURES = {
    "fig5": fig5,
    "theory_lemma2": theory_lemma2,
    "theory_theorem1": theory_theorem1,
}
# Figures of trained runs: name → function of (stats, iterations, sample_size, sources).
TRAINING_FIGURES = {
    "fig1": statistics_grid,  # step schedule
    "fig2": statistics_grid,  # constant step sizes
    "fig3": statistics_grid,  # a long constant-step run
    "fig4": lambda **tables: statistics_grid(**tables, x="step"),  # language model
    "fig6": loss_oscillation,
    "fig7": statistics_grid,  # over-fitting: the gradient norm does vanish
    "fig8": sample_size_convergence,
    "fig9": sample_size_convergence,
    "eq10": eq10,
    "theorem8": theorem8,
}
# name → function; a figure's name is also its Snakemake target.
FIGURES = {**SYNTHETIC_FIGURES, **TRAINING_FIGURES}


def read_tables(paths) -> pd.DataFrame:
    """One table from a Parquet path or a list of them (concatenated)."""
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    return pd.concat([pd.read_parquet(path) for path in paths], ignore_index=True)


def draw_figure(name: str, tables: dict, outputs, sources: list[dict] | None = None) -> None:
    """Read the named Parquet tables, draw figure `name`, write outputs.png/.pdf/.data."""
    frames = {key: read_tables(paths) for key, paths in tables.items()}
    if sources is not None:
        frames["sources"] = sources
    fig, data = FIGURES[name](**frames)
    save_figure(fig, data, pdf=outputs.pdf, png=outputs.png, parquet=outputs.data)


__all__ = ["FIGURES", "TRAINING_FIGURES", "draw_figure", "save_figure"]

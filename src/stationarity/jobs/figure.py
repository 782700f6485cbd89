"""The figure job: read a figure's tables, draw it, write PNG, PDF and its numbers, mirror it."""

from pathlib import Path

import pandas as pd

from ..figures import FIGURES
from ..figures.save import save_figure
from ..tables import read_tables, split_kinds
from ..tracking import mirror_figure


def figure_frames(name: str, inputs: dict, sources: list[dict] | None) -> dict:
    """The keyword arguments of a figure's draw function, read from its input tables."""
    if FIGURES[name].synthetic:
        return {"table": pd.read_parquet(inputs["table"])}
    return {**split_kinds(read_tables(inputs["tables"])), "sources": sources}


def draw_figure(
    name: str,
    inputs: dict,
    outputs: dict,
    sources: list[dict] | None = None,
    wandb: dict | None = None,
) -> pd.DataFrame:
    """Draw figure ``name`` from its tables, write outputs png/pdf/data, mirror the PNG to W&B."""
    figure = FIGURES[name]
    fig, data = figure.function()(**figure_frames(name, inputs, sources), **figure.options)
    save_figure(fig, data, pdf=outputs["pdf"], png=outputs["png"], parquet=outputs["data"])
    mirror_figure(name, Path(outputs["png"]), wandb or {"mode": "disabled"})
    return data

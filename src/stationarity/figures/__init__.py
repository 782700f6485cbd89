"""The paper's figures: a registry of draw functions (tidy tables in, a figure and its numbers out).

``FIGURES`` maps each figure's name (also its Snakemake target) to its entry; the draw functions
live in ``training`` (Figs. 1–4, 7), ``measurement`` (Figs. 6, 8, 9, eq. 10, Theorem 8),
``synthetic`` (Fig. 5) and ``theory`` (Lemma 2, Theorem 1), all in the look of ``style`` (theme,
schedule colors from ``palette``, axis labels, uncertainty bands); ``captions`` fills the captions
from the config, and ``save`` writes the files.
"""

from .registry import FIGURES, Figure

__all__ = ["FIGURES", "Figure"]

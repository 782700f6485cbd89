"""The synthetic_table job: one closed-form experiment's table (Fig. 5, Lemma 2, Theorem 1)."""

from pathlib import Path

from ..synthetic import TABLES
from ..tables import write_table


def synthetic_table(experiment: str, settings: dict, out: Path) -> None:
    """Compute the table of ``experiment`` (sine, lemma2, theorem1) with its config settings."""
    write_table(TABLES[experiment](**settings), out)

"""Tidy tables of measurements: one per run, one row per (kind, step, statistic)."""

from .tidy import (
    METADATA,
    RUN,
    STATISTICS,
    read_tables,
    run_labels,
    run_table,
    split_kinds,
    tidy_iterations,
    tidy_statistics,
    write_table,
)

__all__ = [
    "METADATA",
    "RUN",
    "STATISTICS",
    "read_tables",
    "run_labels",
    "run_table",
    "split_kinds",
    "tidy_iterations",
    "tidy_statistics",
    "write_table",
]

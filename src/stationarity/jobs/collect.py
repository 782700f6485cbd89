"""The collect job: one run's tidy table from its estimates, sample-size study and training log."""

from pathlib import Path

import pandas as pd

from ..files import run_name
from ..tables import read_tables, run_table, tidy_iterations, tidy_statistics, write_table
from ..tracking import mirror_estimates


def collect_run(
    run: dict, stats: list[Path], sample_size: list[Path], train_log: Path, out: Path, wandb: dict
) -> pd.DataFrame:
    """Write the tidy table of ``run`` ({experiment, schedule, seed}) and mirror it to W&B."""
    estimates = read_tables(stats)
    tidy = tidy_statistics(estimates) if len(estimates) else pd.DataFrame()
    studies = read_tables(sample_size)
    studied = tidy_statistics(studies, ["size"]) if len(studies) else pd.DataFrame()
    log = tidy_iterations(pd.read_parquet(train_log), **run)
    table = run_table(tidy, studied, log)
    write_table(table, out)
    mirror_estimates(run_name(**run), tidy, wandb)
    return table

"""The collect job: one run's tidy table from its estimates, sample-size study and training log."""

from pathlib import Path

import pandas as pd

from ..files import run_name
from ..provenance import provenance
from ..tables import read_tables, run_table, tidy_iterations, tidy_statistics, write_table
from ..tracking import mirror_estimates


def collect_run(
    run: dict,
    identity: str,
    stats: list[Path],
    sample_size: list[Path],
    train_log: Path,
    out: Path,
    wandb: dict,
) -> pd.DataFrame:
    """Write the tidy table of ``run`` ({experiment, schedule, seed}) and mirror it to W&B.

    Every estimate must belong to the run's current ``identity``: a table never mixes runs.
    """
    estimates, studies = read_tables(stats), read_tables(sample_size)
    check_identity(identity, [*stats, *sample_size], [estimates, studies])
    tidy = tidy_statistics(estimates) if len(estimates) else pd.DataFrame()
    studied = tidy_statistics(studies, ["size"]) if len(studies) else pd.DataFrame()
    log = tidy_iterations(pd.read_parquet(train_log), **run)
    log = log.assign(run_identity=identity, **provenance())
    table = run_table(tidy, studied, log)
    write_table(table, out)
    mirror_estimates(run_name(**run), identity, tidy, wandb)
    return table


def check_identity(identity: str, paths: list[Path], frames: list[pd.DataFrame]) -> None:
    """Stop, naming them, if any estimate was made on a checkpoint of another run identity."""
    found = pd.concat([frame.get("run_identity", pd.Series(dtype=object)) for frame in frames])
    other = sorted(set(found.dropna()) - {identity})
    if other or found.isna().any():
        raise ValueError(
            f"estimates of run identity {other or 'unknown'} among {len(paths)} file(s) "
            f"(first {paths[0]}); this run's identity is {identity}: rerun them"
        )

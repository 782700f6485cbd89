"""Tidy tables: everything measured for one run, one row per (step, statistic), and reading back.

One table per run holds three kinds of rows: ``estimate`` (the statistics at a checkpoint),
``sample_size`` (the same at one subset size of the sample-size study, in column ``size``) and
``iteration`` (the per-step training loss ``train_loss`` and learning rate ``lr``). Beside each
``value``, ``se`` holds its standard error (loss, grad_norm, noise) and ``bound`` the eigenvalue
solver's bound (sharpness, top_eigenvalue). Figures read only these tables, split back into one
frame per kind by ``split_kinds``.
"""

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..files import atomic_write_bytes, run_name

RUN = ["experiment", "schedule", "seed"]
STATISTICS = ["loss", "grad_norm", "noise", "sharpness", "top_eigenvalue"]
# Beside each value: its standard error (jackknife) and the solver's bound, from these columns
# of an estimate; NaN for statistics without one and in tables written before they existed.
ERRORS = {
    "se": {"loss": "loss_se", "grad_norm": "grad_norm_se", "noise": "noise_se"},
    "bound": {"sharpness": "sharpness_bound", "top_eigenvalue": "sharpness_bound"},
}
# Columns that describe how a measurement was made, kept beside every value.
METADATA = [
    "run_identity", "samples", "tokens", "hvps", "sharpness_converged", "noise_method", "mode",
    "se_groups", "micro_batch", "subset_seed", "noise_requested", "sharpness_method",
    "sharpness_rtol", "max_hvps", "se_groups_requested", "seconds", "device", "version",
    "commit", "dirty",
]  # fmt: skip
COLUMNS = [*RUN, "kind", "step", "epoch", "size", "statistic", "value", *ERRORS, *METADATA]
ITERATION_STATISTICS = {"loss": "train_loss", "lr": "lr"}  # training-log column -> statistic


def run_labels(frame: pd.DataFrame) -> pd.Series:
    """The run name (``experiment/schedule/seedN``) of every row."""
    names = map(run_name, frame.experiment, frame.schedule, frame.seed)
    return pd.Series(list(names), index=frame.index, dtype=object)


def tidy_statistics(wide: pd.DataFrame, extra: Iterable[str] = ()) -> pd.DataFrame:
    """One row per (run, step, [extra], statistic) from one row per estimate."""
    ids = [*RUN, "step", "epoch", *extra]
    meta = [column for column in METADATA if column in wide]
    tidy = wide.melt(id_vars=ids + meta, value_vars=STATISTICS, var_name="statistic")
    # melt stacks one block of rows per statistic, each in the order of ``wide``.
    missing = pd.Series(np.nan, index=wide.index)
    for error, columns in ERRORS.items():
        blocks = [wide.get(columns.get(statistic), missing) for statistic in STATISTICS]
        tidy[error] = pd.concat(blocks, ignore_index=True).astype("float64")
    return tidy[[*ids, "statistic", "value", *ERRORS, *meta]].sort_values([*ids, "statistic"])


def tidy_iterations(log: pd.DataFrame, experiment: str, schedule: str, seed: int) -> pd.DataFrame:
    """A run's per-step training log (step, epoch, lr, loss) as tidy rows of one run."""
    log = log.astype({"epoch": "float64"})  # as in the estimates, where epochs are fractional
    tidy = log.melt(id_vars=["step", "epoch"], value_vars=list(ITERATION_STATISTICS))
    tidy = tidy.assign(statistic=tidy.variable.map(ITERATION_STATISTICS))
    return tidy.assign(experiment=experiment, schedule=schedule, seed=seed)[
        [*RUN, "step", "epoch", "statistic", "value"]
    ]


def nullable(frame: pd.DataFrame) -> pd.DataFrame:
    """Integer and boolean columns as nullable dtypes, so other kinds of rows can leave them out."""
    kinds = {"i": "Int64", "b": "boolean"}
    return frame.astype(
        {column: kinds[dtype.kind] for column, dtype in frame.dtypes.items() if dtype.kind in kinds}
    )


def run_table(estimates: pd.DataFrame, studies: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    """One run's tidy table from its tidy estimates, sample-size study and training log."""
    parts = [
        nullable(frame.assign(kind=kind))
        for kind, frame in (("estimate", estimates), ("sample_size", studies), ("iteration", log))
        if len(frame)
    ]
    table = pd.concat(parts, ignore_index=True)
    return table[[column for column in COLUMNS if column in table]]


def restored(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The columns of one kind of rows, nullable integers and booleans back to plain ones.

    Columns empty for these rows are dropped, except the errors: those stay, NaN where unknown.
    """
    frame = frame[[column for column in columns if column in frame]]
    empty = [c for c in frame if c not in ERRORS and frame[c].isna().all()]
    frame = frame.drop(columns=empty).reset_index(drop=True)
    plain = {"Int64": "int64", "Float64": "float64", "boolean": "bool"}
    return frame.astype(
        {
            column: plain[str(dtype)]
            for column, dtype in frame.dtypes.items()
            if str(dtype) in plain and not frame[column].isna().any()
        }
    )


def split_kinds(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The frames figures read: ``stats``, ``sample_size`` (tidy) and ``iterations`` (wide)."""
    ids = [*RUN, "step", "epoch"]
    table = table.reindex(columns=COLUMNS)  # a run without a sample-size study has no `size`
    stats = table[table.kind == "estimate"].sort_values([*ids, "statistic"], kind="stable")
    studies = table[table.kind == "sample_size"]
    studies = studies.sort_values([*ids, "size", "statistic"], kind="stable")
    rows = table[table.kind == "iteration"]
    iterations = rows.pivot(index=[*ids], columns="statistic", values="value").reset_index()
    iterations = iterations.rename(columns={v: k for k, v in ITERATION_STATISTICS.items()})
    iterations = iterations.astype({"epoch": "int64"})
    # Keep the runs in the order their tables were read, each run's steps in order.
    first = rows.drop_duplicates(RUN)[RUN].reset_index(drop=True).reset_index(names="position")
    iterations = iterations.merge(first, on=RUN).sort_values(["position", "step"], kind="stable")
    return {
        "stats": restored(stats, [*ids, "statistic", "value", *ERRORS, *METADATA]),
        "sample_size": restored(studies, [*ids, "size", "statistic", "value", *ERRORS, *METADATA]),
        "iterations": restored(iterations, [*ids, "lr", "loss"]),
    }


def read_tables(paths: Iterable[Path]) -> pd.DataFrame:
    """The Parquet files concatenated in the order given (an empty frame for none)."""
    frames = [pd.read_parquet(path) for path in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write a table atomically."""
    atomic_write_bytes(Path(path), frame.reset_index(drop=True).to_parquet(index=False))

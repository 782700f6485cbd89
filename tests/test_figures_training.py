"""Tidy tables and every figure of trained runs, on tiny hand-made frames."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from stationarity.figures import FIGURES
from stationarity.figures.measurement import eq10_sides
from stationarity.tables import run_table, split_kinds, tidy_iterations, tidy_statistics

TRAINING_FIGURES = {name: figure for name, figure in FIGURES.items() if not figure.synthetic}

RUNS = [("exp", "const_0.1"), ("exp", "const_0.01")]


def estimates() -> pd.DataFrame:
    """One row per estimate, as estimate_job writes them: 2 runs × 3 checkpoints."""
    rows = []
    for (experiment, schedule), lr in zip(RUNS, (0.1, 0.01), strict=True):
        for step in (0, 10, 20):
            rows.append(
                {
                    "experiment": experiment,
                    "schedule": schedule,
                    "seed": 0,
                    "step": step,
                    "epoch": step / 10,
                    "loss": 2.0 - step * lr,
                    "grad_norm": 1.0 + step / 100,
                    "noise": 4.0,
                    "sharpness": 10.0 / (1 + lr),
                    "top_eigenvalue": -10.0 / (1 + lr),
                    "samples": 64,
                    "tokens": 64,
                    "seconds": 0.1,
                }
            )
    return pd.DataFrame(rows)


def iterations() -> pd.DataFrame:
    """Per-step training logs of the same runs."""
    frames = [
        pd.DataFrame(
            {
                "experiment": e,
                "schedule": s,
                "seed": 0,
                "step": np.arange(20),
                "epoch": np.arange(20) // 10,
                "lr": lr,
                "loss": np.linspace(2, 1, 20),
            }
        )  # fmt: skip
        for (e, s), lr in zip(RUNS, (0.1, 0.01), strict=True)
    ]
    return pd.concat(frames, ignore_index=True)


def sample_size() -> pd.DataFrame:
    """A sample-size study of one checkpoint per run."""
    wide = pd.concat([estimates().assign(size=size) for size in (8, 16, 64)], ignore_index=True)
    return tidy_statistics(wide[wide.step == 20], ["size"])


def test_tidy_statistics_is_one_row_per_run_step_statistic():
    tidy = tidy_statistics(estimates())
    assert len(tidy) == 2 * 3 * 5
    assert not tidy.duplicated(["schedule", "step", "statistic"]).any()
    loss = tidy[(tidy.schedule == "const_0.1") & (tidy.step == 10) & (tidy.statistic == "loss")]
    assert float(loss.value.iloc[0]) == pytest.approx(1.0)
    assert {"samples", "seconds"} <= set(tidy.columns)


def test_run_tables_split_back_into_the_frames_they_were_made_of(tmp_path):
    tables = []
    for experiment, schedule in RUNS:
        log, wide, studies = [
            frame[frame.schedule == schedule].reset_index(drop=True)
            for frame in (iterations(), estimates(), sample_size())
        ]
        table = run_table(
            tidy_statistics(wide),
            studies,
            tidy_iterations(log[["step", "epoch", "lr", "loss"]], experiment, schedule, 0),
        )
        table.to_parquet(tmp_path / f"{schedule}.parquet")
        tables.append(pd.read_parquet(tmp_path / f"{schedule}.parquet"))
    frames = split_kinds(pd.concat(tables, ignore_index=True))
    stats = tidy_statistics(estimates()).reset_index(drop=True)
    pd.testing.assert_frame_equal(frames["stats"], stats, check_dtype=True)
    pd.testing.assert_frame_equal(frames["iterations"], iterations())
    studies = sample_size().reset_index(drop=True)
    pd.testing.assert_frame_equal(frames["sample_size"], studies[frames["sample_size"].columns])
    unstudied = split_kinds(tables[0][tables[0].kind != "sample_size"].drop(columns="size"))
    assert unstudied["sample_size"].empty and len(unstudied["stats"]) == 3 * 5


def test_eq10_sides_match_hand_computation():
    sides = eq10_sides(tidy_statistics(estimates()), iterations(), {"exp": 4})
    row = sides[(sides.schedule == "const_0.1") & (sides.step == 10)].iloc[0]
    grad, noise, sharp = 1.1, 4.0 / 2, 10.0 / 1.1
    assert row.lhs == pytest.approx(grad**2)
    assert row.rhs == pytest.approx(0.1 * noise * sharp * np.sqrt(grad**2 + noise**2))


@pytest.mark.parametrize("name", sorted(TRAINING_FIGURES))
def test_every_training_figure_draws_tiny_frames(name):
    sources = [
        {
            "experiment": "exp",
            "schedules": ["const_0.1", "const_0.01"],
            "batch_size": 4,
            "branches": {"const_0.01": ["const_0.1", 10]},
        }
    ]
    if name == "fig6":
        sources[0]["last_fraction"] = 0.5
    figure = TRAINING_FIGURES[name]
    fig, plotted = figure.function()(
        **figure.options,
        stats=tidy_statistics(estimates()),
        iterations=iterations(),
        sample_size=sample_size(),
        sources=sources,
    )
    assert {"run", "schedule", "x", "statistic", "value"} <= set(plotted.columns)
    assert len(plotted) > 0 and plotted.value.notna().all()
    assert set(plotted.schedule) <= {"const_0.1", "const_0.01"}
    assert len(fig.axes) >= 1


def test_figures_and_estimates_are_mirrored_to_offline_wandb(tmp_path):
    from stationarity.tracking import mirror_estimates, mirror_figure, read_offline_run

    png = tmp_path / "fig.png"
    fig, _ = TRAINING_FIGURES["fig2"].function()(
        stats=tidy_statistics(estimates()), iterations=iterations(), sample_size=None,
        sources=[{"experiment": "exp", "schedules": ["const_0.1"]}],
    )  # fmt: skip
    fig.savefig(png)
    wandb = {"mode": "offline", "project": "p", "dir": str(tmp_path / "wandb")}
    mirror_figure("fig2", png, wandb)
    tidy = tidy_statistics(estimates()).assign(se=0.01)
    for schedule, run in tidy.groupby("schedule"):
        mirror_estimates(f"exp/{schedule}/seed0", "0123456789ab", run, wandb)
    runs = sorted((tmp_path / "wandb" / "wandb").glob("offline-run-*"))
    logged = [read_offline_run(run) for run in runs]
    assert any("fig2" in run["summary"] for run in logged)
    history = [row for run in logged for row in run["history"] if "estimate/grad_norm" in row]
    assert sorted(row["estimate/grad_norm"] for row in history) == pytest.approx(
        sorted(estimates().grad_norm)
    )
    assert {row["estimate/grad_norm_se"] for row in history} == {0.01}  # with its error


def test_schedule_labels_of_the_config_reach_the_figure():
    sources = [
        {"experiment": "exp", "schedules": ["const_0.1"], "labels": {"const_0.1": "η = 0.1"}}
    ]
    fig, plotted = TRAINING_FIGURES["fig1"].function()(
        stats=tidy_statistics(estimates()), iterations=iterations(), sources=sources
    )
    row_titles = [text.get_text() for row in fig.subfigs for text in row.texts]
    assert row_titles == ["η = 0.1"] and set(plotted.label) == {"η = 0.1"}

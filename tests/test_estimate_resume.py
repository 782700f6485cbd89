"""Estimate jobs survive being killed: SIGKILL after a save in any phase, or SLURM's warning
signal; the rerun resumes from the saved state and writes what an uninterrupted job writes."""

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

from stationarity.data import prepare_demo
from stationarity.jobs.estimate_state import state_path
from stationarity.jobs.train import run_train_job
from stationarity.plan import StudyPlan

JOB = textwrap.dedent(
    """
    import json, os, pickle, signal, sys
    from pathlib import Path
    from stationarity.jobs import estimate_state
    from stationarity.jobs.estimate import measure

    settings = pickle.loads(Path(sys.argv[1]).read_bytes())
    checkpoint, out, phase, at, how = Path(sys.argv[2]), Path(sys.argv[3]), *sys.argv[4:7]
    sizes = json.loads(sys.argv[7])
    reported = estimate_state.SavedProgress.__call__

    def watched(self, name, done, total, snapshot):
        hit = name == phase and done == int(at)
        if hit and how == "usr1":
            os.kill(os.getpid(), signal.SIGUSR1)  # SLURM's warning, as --signal=USR1@300 sends it
        reported(self, name, done, total, snapshot)
        if hit and how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)  # right after the save: nothing cleans up

    estimate_state.SavedProgress.__call__ = watched
    measure(settings, checkpoint, out, threads=1, sizes=sizes)
    """
)
REPO = Path(__file__).resolve().parents[1]
MEASURED = ["loss", "grad_norm", "noise", "sharpness", "loss_se", "noise_se", "hvps"]


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """A trained digits MLP (2 epochs) and what its estimate job needs, in a temp dir."""
    root = tmp_path_factory.mktemp("estimate_job")
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    experiment = config["experiments"]["digits_overfit"]
    experiment.update(epochs=2)
    experiment["data"]["root"] = str(root / "data")
    experiment["schedules"]["multistep"]["milestones_epochs"] = [1]
    config.update(experiments={"digits_overfit": experiment}, figures=[])
    config.pop("figure_sources", None)
    config["wandb"] = {"mode": "disabled"}
    plan = StudyPlan(config)
    run = plan.runs[0]
    prepare_demo("digits", root / "data")
    checkpoints = root / "checkpoints"
    run_train_job(
        {**plan.train_settings(run), "wandb": config["wandb"]},
        checkpoint_dir=checkpoints,
        wandb_dir=root / "wandb",
        manifest=root / "manifest.tsv",
        train_log=root / "train_log.parquet",
        threads=1,
    )
    (root / "settings.pkl").write_bytes(pickle.dumps(plan.estimate_settings(run)))
    (root / "job.py").write_text(JOB)
    checkpoint = checkpoints / Path(plan.checkpoint_file(run, plan.checkpoints[run][-1])).name
    return root, checkpoint


def measure(job, out: Path, phase="", at=0, how="none", sizes=None):
    root, checkpoint = job
    env = {**os.environ, "STATIONARITY_STATE_S": "0", "STATIONARITY_PROGRESS_S": "0"}
    arguments = [str(root / "settings.pkl"), str(checkpoint), str(out), phase, str(at), how]
    return subprocess.run(
        [sys.executable, str(root / "job.py"), *arguments, json.dumps(sizes)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def uninterrupted(job):
    root, _ = job
    out = root / "whole.parquet"
    assert measure(job, out).returncode == 0
    studied = root / "whole_sizes.parquet"
    assert measure(job, studied, sizes=[200, 600, 1797]).returncode == 0
    return pd.read_parquet(out), pd.read_parquet(studied)


@pytest.mark.parametrize(
    ("phase", "at", "sizes"),
    [
        ("gradients", 5, None),
        ("sharpness", 3, None),
        ("sizes", 1, [200, 600, 1797]),
        ("sizes/600/sharpness", 2, [200, 600, 1797]),
    ],
)
def test_a_job_killed_in_a_phase_resumes_to_the_same_table(job, uninterrupted, phase, at, sizes):
    root, _ = job
    out = root / f"{phase.replace('/', '_')}.parquet"
    killed = measure(job, out, phase, at, "kill", sizes)
    assert killed.returncode == -9, killed.stderr
    assert state_path(out).exists() and not out.exists()

    rerun = measure(job, out, sizes=sizes)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resuming from {state_path(out).name}" in rerun.stderr
    assert f"{phase} started: {at}/" in rerun.stderr  # it went on from where the kill left it
    expected = uninterrupted[0 if sizes is None else 1]
    assert pd.read_parquet(out)[MEASURED].equals(expected[MEASURED])
    assert not state_path(out).exists()


def test_slurms_warning_signal_saves_and_exits_for_a_retry(job, uninterrupted):
    root, _ = job
    out = root / "signalled.parquet"
    signalled = measure(job, out, "gradients", 9, "usr1")
    assert signalled.returncode == 75, signalled.stderr
    assert "SIGUSR1 in gradients at 9/16" in signalled.stderr
    saved = state_path(out)
    assert saved.exists()

    rerun = measure(job, out)
    assert rerun.returncode == 0, rerun.stderr
    assert pd.read_parquet(out)[MEASURED].equals(uninterrupted[0][MEASURED])


def test_estimate_logs_show_progress_with_an_eta(job):
    root, _ = job
    result = measure(job, root / "logged.parquet")
    lines = result.stderr.splitlines()
    assert any("gradients started: 0/16 micro-batches" in line for line in lines)
    assert any("sharpness" in line and "ETA" in line for line in lines)
    assert any("sharpness done:" in line for line in lines)

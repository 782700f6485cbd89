"""Kill-safety of the training loop, with real processes: SIGKILL, SIGTERM, corrupt checkpoints."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from stationarity.data import prepare_demo
from stationarity.training.checkpoints import read_manifest

TOTAL_STEPS = 20 * 29  # 20 epochs of 1,797 digits in batches of 64
SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from stationarity.training.loop import train_run
    from stationarity.training.spec import TrainSpec

    out, data_root = Path(sys.argv[1]), Path(sys.argv[2])
    experiment = {
        "data": {"name": "digits", "augment": "shift", "label_noise": 0.3},
        "model": {"name": "cnn_8_16"},
        "optimizer": {"name": "sgd", "momentum": 0.9, "weight_decay": 5e-4},
        "batch_size": 64,
        "epochs": 20,
        "checkpoint_every": {"steps": 25},
        "schedules": {"step": {"kind": "step", "lr": 0.1, "gamma": 0.5, "every_epochs": 3}},
    }
    run = TrainSpec.from_config("digits_test", experiment, "step", 0, data_root)
    train_run(
        run,
        checkpoint_dir=out / "checkpoints",
        manifest_path=out / "manifest.tsv",
        log_path=out / "train_log.parquet",
        threads=1,
        device="cpu",
    )
    """
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    prepare_demo("digits", root / "data")
    (root / "train_digits.py").write_text(SCRIPT)
    return root


def _start(workdir, name):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(workdir / "train_digits.py"), str(workdir / name)]
    return subprocess.Popen(
        [*command, str(workdir / "data")], env=env, stderr=subprocess.PIPE, text=True
    )


def _run(workdir, name):
    proc = _start(workdir, name)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def _wait_for_checkpoint_after(workdir, name, proc, step):
    manifest = workdir / name / "manifest.tsv"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.exists() and read_manifest(manifest)[-1].step > step:
            return
        time.sleep(0.01)
    raise AssertionError(f"no checkpoint after step {step} appeared")


@pytest.fixture(scope="module")
def reference(workdir):
    code, err = _run(workdir, "reference")
    assert code == 0, err
    return workdir / "reference"


def _assert_same_as_reference(run_dir, reference):
    ours, theirs = (
        read_manifest(run_dir / "manifest.tsv"),
        read_manifest(reference / "manifest.tsv"),
    )
    # Same hashes at every common step; the final checkpoint (and so the manifest's end) identical.
    assert ours[-1] == theirs[-1] and ours[-1].step == TOTAL_STEPS
    shared = {e.step: e for e in theirs}
    assert all(e == shared[e.step] for e in ours if e.step in shared)
    final = ours[-1].file
    assert (run_dir / "checkpoints" / final).read_bytes() == (
        reference / "checkpoints" / final
    ).read_bytes()
    pd.testing.assert_frame_equal(
        pd.read_parquet(run_dir / "train_log.parquet"),
        pd.read_parquet(reference / "train_log.parquet"),
    )


def test_reference_run_logs_every_step_and_checkpoints_on_schedule(reference):
    steps = [e.step for e in read_manifest(reference / "manifest.tsv")]
    assert steps == [*range(0, TOTAL_STEPS, 25), TOTAL_STEPS]
    log = pd.read_parquet(reference / "train_log.parquet")
    assert log["step"].tolist() == list(range(TOTAL_STEPS))
    assert log["lr"].iloc[0] == 0.1 and log["lr"].iloc[-1] == pytest.approx(0.1 * 0.5**6)
    assert log["epoch"].iloc[-1] == 19


def test_sigkill_at_a_random_moment_then_restart_is_bit_identical(workdir, reference):
    proc = _start(workdir, "killed")
    _wait_for_checkpoint_after(workdir, "killed", proc, 0)
    time.sleep(random.uniform(0.0, 0.3))
    proc.kill()
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert read_manifest(workdir / "killed" / "manifest.tsv")[-1].step < TOTAL_STEPS
    code, err = _run(workdir, "killed")
    assert code == 0, err
    assert "resuming from step" in err
    _assert_same_as_reference(workdir / "killed", reference)


def test_sigterm_checkpoints_and_exits_75_and_a_truncated_checkpoint_falls_back(workdir, reference):
    proc = _start(workdir, "preempted")
    _wait_for_checkpoint_after(workdir, "preempted", proc, 25)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 75, err
    assert "SIGTERM" in err
    newest = read_manifest(workdir / "preempted" / "manifest.tsv")[-1]
    assert 25 < newest.step < TOTAL_STEPS
    # A user truncates the newest checkpoint by hand: the restart warns and uses the previous one.
    path = workdir / "preempted" / "checkpoints" / newest.file
    path.write_bytes(path.read_bytes()[:100])
    code, err = _run(workdir, "preempted")
    assert code == 0, err
    assert f"{newest.file} is truncated or corrupt" in err
    _assert_same_as_reference(workdir / "preempted", reference)

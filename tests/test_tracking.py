import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PIL import Image

from stationarity.tracking import Tracker, read_offline_run, stable_run_id

CONFIG = {"lr": 0.1, "model": {"name": "cnn_8_16"}}


def _start(tracker, tmp_path, mode):
    tracker.start(
        run_id=stable_run_id("exp/const/seed0"), name="exp/const/seed0", group="exp",
        job_type="train", config=CONFIG, mode=mode, project="stationarity-test",
        dir=tmp_path / "run",
    )  # fmt: skip


def _offline_dir(tmp_path):
    (run_dir,) = (tmp_path / "run" / "wandb").glob("offline-run-*")
    return run_dir


def test_offline_run_is_read_back(tmp_path):
    tracker = Tracker()
    _start(tracker, tmp_path, "offline")
    for step in range(0, 50, 10):
        tracker.log({"train/loss": 2.0 / (step + 1), "lr": 0.1}, step=step)
    image = tmp_path / "fig.png"
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(image)
    tracker.log_image("figures/fig1", image)
    tracker.finish()
    run = read_offline_run(_offline_dir(tmp_path))
    assert run["config"] == CONFIG
    assert [row["_step"] for row in run["history"] if "train/loss" in row] == [0, 10, 20, 30, 40]
    assert run["history"][1]["train/loss"] == pytest.approx(2.0 / 11)
    assert run["summary"]["lr"] == pytest.approx(0.1)
    assert run["summary"]["figures/fig1"]["_type"] == "image-file"
    assert run["exit_code"] == 0


def test_a_killed_runs_truncated_log_is_read_up_to_the_damage(tmp_path):
    tracker = Tracker()
    _start(tracker, tmp_path, "offline")
    for step in range(300):
        tracker.log({"train/loss": float(step)}, step=step)
    tracker.finish()
    (log,) = _offline_dir(tmp_path).glob("run-*.wandb")
    data = log.read_bytes()
    log.write_bytes(data[: len(data) * 2 // 3])
    history = read_offline_run(_offline_dir(tmp_path))["history"]
    assert 0 < len(history) < 300
    assert [row["_step"] for row in history] == list(range(len(history)))


def test_disabled_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE")
    tracker = Tracker()
    _start(tracker, tmp_path, "disabled")
    tracker.log({"x": 1.0}, step=0)
    tracker.finish()
    assert not (tmp_path / "run").exists()


def test_environment_mode_overrides_the_config(tmp_path):
    tracker = Tracker()  # the test environment sets WANDB_MODE=offline
    _start(tracker, tmp_path, "online")
    tracker.finish()
    assert tracker.mode == "offline" and _offline_dir(tmp_path).is_dir()


def test_stable_id_depends_only_on_the_run_path():
    assert stable_run_id("a/b/seed0") == stable_run_id("a/b/seed0") != stable_run_id("a/b/seed1")


def test_online_without_an_api_key_falls_back_to_offline_at_once(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    tracker = Tracker()
    start = time.monotonic()
    with pytest.warns(UserWarning, match="no W&B API key configured.*logging offline"):
        _start(tracker, tmp_path, "online")
    assert time.monotonic() - start < 15
    assert tracker.mode == "offline"
    tracker.log({"train/loss": 1.0}, step=0)
    tracker.finish()
    assert read_offline_run(_offline_dir(tmp_path))["history"][0]["train/loss"] == 1.0


def test_a_server_that_never_answers_costs_under_30_s_in_all(tmp_path, monkeypatch):
    """The whole process, W&B's teardown at exit included, with a key and a black-hole server."""
    script = textwrap.dedent(
        f"""
        import socket, sys
        from pathlib import Path
        from stationarity.tracking import Tracker, read_offline_run
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(16)  # accepts connections, never answers
        import os
        os.environ["WANDB_BASE_URL"] = f"http://127.0.0.1:{{server.getsockname()[1]}}"
        tracker = Tracker(init_timeout=5)
        tracker.start("blackhole1", "exp/const/seed0", "exp", "train", {{"lr": 0.1}},
                      mode="online", dir=Path({str(tmp_path)!r}) / "run")
        tracker.log({{"train/loss": 1.5}}, step=3)
        tracker.finish()
        print("mode", tracker.mode)
        """
    )
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    assert "mode offline" in proc.stdout
    assert "logging offline instead" in proc.stderr
    assert elapsed < 30
    assert read_offline_run(_offline_dir(tmp_path))["history"][0]["train/loss"] == 1.5


def test_training_mirrors_loss_and_lr_to_wandb(tmp_path):
    from stationarity.data import prepare_demo
    from stationarity.training.loop import train_run
    from stationarity.training.spec import TrainSpec

    prepare_demo("digits", tmp_path / "data")
    experiment = {
        "data": {"name": "digits"},
        "model": {"name": "mlp", "hidden": [16]},
        "optimizer": {"name": "sgd", "momentum": 0.9, "weight_decay": 0.0},
        "batch_size": 128,
        "epochs": 2,
        "schedules": {"const": {"kind": "constant", "lr": 0.05}},
    }
    run = TrainSpec.from_config(
        "digits_wb", experiment, "const", 0, tmp_path / "data", wandb_cfg={"mode": "offline"}
    )
    out = tmp_path / "run"
    train_run(
        run, checkpoint_dir=out / "checkpoints", manifest_path=out / "manifest.tsv",
        log_path=out / "train_log.parquet", threads=1, device="cpu", tracker=Tracker(),
    )  # fmt: skip
    (run_dir,) = (out / "wandb").glob("offline-run-*")
    logged = read_offline_run(run_dir)
    assert logged["config"]["model"] == {"name": "mlp", "hidden": [16]}
    rows = [row for row in logged["history"] if "train/loss" in row]
    assert [row["_step"] for row in rows] == [15, 30]  # once an epoch (15 steps)
    assert all(row["lr"] == pytest.approx(0.05) for row in rows)
    assert run_dir.name.endswith(stable_run_id(f"digits_wb/const/seed0/{run.identity}"))

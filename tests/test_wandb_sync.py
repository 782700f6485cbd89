"""A W&B run killed and resumed: its offline fragments hold each step once, and a sync uploads
every fragment, oldest first."""

import os
import signal
import subprocess
import sys
import time

import pytest

from stationarity.tracking import logged_steps, run_fragments, sync_plan
from stationarity.tracking.sync import sync_offline_runs, wandb_sync_command

# A training job's W&B side: log steps [first, last), then finish, or hang there until killed.
JOB = """
import sys, time
from pathlib import Path
from stationarity.tracking import Tracker
first, last, then, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
tracker = Tracker()
tracker.start("resumed01", "exp/const/seed0", "exp", "train", {"lr": 0.1}, dir=folder)
for step in range(first, last):
    tracker.log({"train/loss": 1.0 / (step + 1)}, step=step)
if then == "hang":
    print("logged", flush=True)
    time.sleep(600)
tracker.finish()
"""


def job(*args, **popen):
    return subprocess.Popen([sys.executable, "-c", JOB, *map(str, args)], text=True, **popen)


def wait_for_steps(folder, count, timeout_s=60.0):
    """Wait until W&B's service has written ``count`` steps of the run's only fragment."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        fragments = [f for f in (folder / "wandb").glob("offline-run-*") if any(f.glob("*.wandb"))]
        if fragments and len(logged_steps(fragments[0])) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"W&B wrote fewer than {count} steps in {timeout_s} s")


def test_a_killed_and_resumed_run_logs_each_step_once_and_syncs_every_fragment(tmp_path):
    killed = job(0, 11, "hang", tmp_path, stdout=subprocess.PIPE, start_new_session=True)
    assert killed.stdout.readline().strip() == "logged"
    # W&B's service writes every ~15 s, the newest row once the next one starts: steps 0-9.
    wait_for_steps(tmp_path, 10)
    os.killpg(killed.pid, signal.SIGKILL)  # the job and W&B's service, as at a time limit
    killed.wait()
    # The job restarts from its checkpoint at step 5 and trains (and logs) steps 5 to 19 again.
    assert job(5, 20, "finish", tmp_path).wait(timeout=120) == 0

    (fragments,) = run_fragments(tmp_path).values()
    assert [logged_steps(fragment) for fragment in fragments] == [
        list(range(10)),
        list(range(10, 20)),
    ]
    plan = sync_plan(tmp_path)
    assert (plan.fragments, plan.runs, plan.steps) == (fragments, 1, 20)
    assert plan.summary(done=True) == "uploaded 1 run(s) in 2 fragment(s), 20 logged step(s)"
    dry = subprocess.run(
        wandb_sync_command(plan.fragments, dry_run=True),
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    said = dry.stdout + dry.stderr
    assert "Would sync 2 run(s)" in said
    assert said.index(fragments[0].name) < said.index(fragments[1].name)


def test_a_failing_sync_is_retried_then_names_what_is_left(tmp_path, monkeypatch):
    fragment = tmp_path / "wandb" / "offline-run-20260101_000000-abc"
    fragment.mkdir(parents=True)
    calls = []

    def failing(command, **kwargs):
        calls.append(command)
        raise subprocess.CalledProcessError(1, command)

    monkeypatch.setattr("stationarity.tracking.sync.check_server", lambda: "http://w")
    monkeypatch.setattr(subprocess, "run", failing)
    monkeypatch.setattr(time, "sleep", lambda s: None)
    with pytest.raises(Exception, match=r"failed 3 times.*rerun to continue \(1 fragment"):
        sync_offline_runs(tmp_path, backoff_s=(1, 1))
    assert len(calls) == 3 and str(fragment) in calls[0]

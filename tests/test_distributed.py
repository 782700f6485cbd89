"""Data-parallel training on CPU (gloo, 2 processes): the single-process run, and resumable."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import psutil
import pytest
import torch

from stationarity.data import prepare_demo
from stationarity.jobs.train import launch, run_train_job
from stationarity.training.checkpoints import read_manifest

EXPERIMENT = {
    "data": {"name": "digits", "root": "", "augment": "shift"},  # a batch-wide augmentation
    "model": {"name": "mlp", "hidden": [16]},
    "optimizer": {"name": "sgd", "momentum": 0.9, "weight_decay": 5e-4},
    "batch_size": 256,  # 1,797 digits: the last batch has 5 samples, split 3 + 2
    "epochs": 3,
    "checkpoint_every": {"epochs": 1},
    "seeds": [0],
    "schedules": {"const": {"kind": "constant", "lr": 0.05}},
}
EPOCHS = 30  # about 2 s: long enough to interrupt after the first epoch


def job(root, name, epochs=3):
    """The arguments of run_train_job for a run in root/name."""
    experiment = {**EXPERIMENT, "epochs": epochs}
    experiment["data"] = {**EXPERIMENT["data"], "root": str(root / "data")}
    out = root / name
    return {
        "settings": {
            "experiment": "ddp",
            "schedule": "const",
            "seed": 0,
            "config": experiment,
            "wandb": {"mode": "disabled", "project": "t"},
        },
        "checkpoint_dir": out / "checkpoints",
        "wandb_dir": root / "wandb",  # part of the checkpoint: the same for every run
        "manifest": out / "manifest.tsv",
        "train_log": out / "train_log.parquet",
        "threads": 2,
    }


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    prepare_demo("digits", root / "data")
    return root


@pytest.fixture(scope="module")
def reference(root):
    """An uninterrupted data-parallel run."""
    run_job = job(root, "reference", EPOCHS)
    assert launch(2, run_job) == 0
    return run_job


def test_two_processes_train_the_single_process_run(root, reference):
    single = job(root, "single", epochs=3)
    run_train_job(**{**single, "threads": 1})
    entry = read_manifest(single["manifest"])[-1]
    assert entry.step == 3 * 8
    ours, theirs = (
        torch.load(j["checkpoint_dir"] / entry.file, weights_only=True)["model"]
        for j in (reference, single)
    )
    assert ours.keys() == theirs.keys()  # no "module." prefix: the checkpoint format is unchanged
    for key, value in theirs.items():
        torch.testing.assert_close(ours[key], value, rtol=1e-5, atol=1e-6)
    # The logged loss is the global batch's, as one process logs it.
    losses = [pd.read_parquet(j["train_log"]).loss.head(entry.step) for j in (reference, single)]
    pd.testing.assert_series_equal(*losses, rtol=1e-5)


def _torchrun(run_job):
    """torchrun as in a SLURM step: it and its shells ignore SIGUSR1, as Snakemake makes them."""
    job_file = run_job["checkpoint_dir"] / "ddp_job.json"
    job_file.parent.mkdir(parents=True)
    job_file.write_text(json.dumps(run_job, default=str))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    return subprocess.Popen(
        [*command, "-m", "stationarity.jobs.train", str(job_file)],
        preexec_fn=lambda: signal.signal(signal.SIGUSR1, signal.SIG_IGN),
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigusr1_to_every_process_checkpoints_and_resume_ends_identical(root, reference):
    interrupted = job(root, "interrupted", EPOCHS)
    proc = _torchrun(interrupted)
    deadline = time.monotonic() + 120
    durable = interrupted["checkpoint_dir"] / "manifest.tsv"  # published only at the end
    while not any(e.step > 0 for e in read_manifest(durable)):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    # SLURM's warning signal reaches every process of the job step, ranks included.
    for process in psutil.Process(proc.pid).children(recursive=True):
        process.send_signal(signal.SIGUSR1)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "SIGUSR1" in err, err[-3000:]
    stopped = read_manifest(durable)[-1].step
    assert 0 < stopped < EPOCHS * 8

    assert launch(2, interrupted) == 0
    final, expected = (
        read_manifest(interrupted["manifest"])[-1],
        read_manifest(reference["manifest"])[-1],
    )
    assert final == expected  # same step, same sha256: bit-identical to the uninterrupted run
    digest = hashlib.sha256((interrupted["checkpoint_dir"] / final.file).read_bytes()).hexdigest()
    assert digest == expected.sha256

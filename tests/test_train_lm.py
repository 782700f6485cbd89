"""The language-model task in the training loop: ordered segments, memory, clipping, resume."""

import shutil

import datasets
import pandas as pd
import pytest
import torch

from stationarity.data.text import save_text
from stationarity.training.checkpoints import (
    read_manifest,
    serialize_checkpoint,
    write_checkpoint,
    write_manifest,
)
from stationarity.training.lm_task import LmTask
from stationarity.training.loop import build_optimizer, train_run
from stationarity.training.spec import TrainSpec

STEPS = 12


@pytest.fixture(scope="module")
def corpus_root(tmp_path_factory):
    """A generated corpus of 3,000 lines, prepared through the real save/encode path."""
    root = tmp_path_factory.mktemp("corpus")
    generator = torch.Generator().manual_seed(0)
    words = [f"w{i}" for i in range(40)]
    lines = [
        " ".join(words[i] for i in torch.randint(0, 40, (5,), generator=generator))
        for _ in range(600)
    ]
    save_text(datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": lines})}), root)
    return root


def lm_run(root, schedule=None, **changes) -> TrainSpec:
    """A tiny Transformer-XL run on the generated corpus."""
    experiment = {
        "data": {"name": "wikipedia_demo", "tgt_len": 8},
        "model": {
            "name": "transformer_xl",
            **{"n_layer": 2, "d_model": 16, "n_head": 2, "d_head": 8, "d_inner": 32},
            **{"mem_len": 8, "cutoffs": [10], "dropout": 0.1},
        },
        "optimizer": {"name": "adam", "betas": [0.9, 0.999], "grad_clip": 0.25},
        "batch_size": 4,
        "max_steps": STEPS,
        "checkpoint_every": {"steps": 4},
        "schedules": {"s": schedule or {"kind": "cosine", "lr": 1e-2, "total_steps": STEPS}},
        **changes,
    }
    return TrainSpec.from_config("lm_test", experiment, "s", 0, root)


def train(run, out):
    train_run(
        run,
        checkpoint_dir=out / "checkpoints",
        manifest_path=out / "manifest.tsv",
        log_path=out / "train_log.parquet",
        threads=1,
        device="cpu",
    )


def test_segments_are_ordered_streams_and_memory_resets_each_epoch():
    tokens = torch.arange(23, dtype=torch.int32)
    task = LmTask(tokens, batch_size=2, segment_len=4, device=torch.device("cpu"))
    assert task.streams.tolist() == [list(range(11)), list(range(11, 22))]  # token 22 dropped
    assert task.steps_per_epoch == 3  # 10 predictions per stream: 4 + 4 + 2
    batches = list(task.batches(0, 0))
    assert batches[0][0].tolist() == [[0, 1, 2, 3], [11, 12, 13, 14]]
    assert batches[0][1].tolist() == [[1, 2, 3, 4], [12, 13, 14, 15]]
    assert batches[2][0].tolist() == [[8, 9], [19, 20]] and batches[2][1][0].tolist() == [9, 10]
    assert [b[0].tolist() for b in task.batches(0, 1)] == [b[0].tolist() for b in batches[1:]]
    task.memory = [torch.zeros(1)]
    next(task.batches(1, 0))
    assert task.memory is None
    task.memory = [torch.zeros(1)]
    next(task.batches(1, 2))
    assert task.memory is not None  # a resumed epoch keeps the restored memory


def test_gradient_clipping_is_honoured_and_not_passed_to_the_optimizer(corpus_root, tmp_path):
    run = lm_run(corpus_root, {"kind": "constant", "lr": 1.0}, max_steps=1)
    run = TrainSpec(**{**run.to_dict(), "optimizer": {"name": "sgd", "grad_clip": 1e-3}})
    model = torch.nn.Linear(2, 2)
    assert "grad_clip" not in build_optimizer(model, run.optimizer).defaults
    train(run, tmp_path)
    first, last = (
        torch.load(tmp_path / "checkpoints" / e.file)
        for e in read_manifest(tmp_path / "manifest.tsv")
    )
    change = torch.cat([(last["model"][k] - first["model"][k]).flatten() for k in first["model"]])
    assert change.norm().item() == pytest.approx(1e-3, rel=1e-4)  # lr 1 × clipped norm


def test_resume_restores_memory_and_ends_bit_identical(corpus_root, tmp_path):
    reference = tmp_path / "reference"
    train(lm_run(corpus_root), reference)
    entries = read_manifest(reference / "manifest.tsv")
    assert [e.step for e in entries] == [0, 4, 8, 12]
    assert torch.load(reference / "checkpoints" / entries[1].file)["task"]["memory"] is not None

    def restart_from_step_4(name):
        """A copy of the reference as if killed right after the checkpoint of step 4."""
        run_dir = tmp_path / name
        shutil.copytree(reference, run_dir)
        write_manifest(run_dir / "manifest.tsv", entries[:2])
        for entry in entries[2:]:
            (run_dir / "checkpoints" / entry.file).unlink()
        return run_dir

    resumed = restart_from_step_4("resumed")
    train(lm_run(corpus_root), resumed)
    final = entries[-1].file
    assert (resumed / "checkpoints" / final).read_bytes() == (
        reference / "checkpoints" / final
    ).read_bytes()
    pd.testing.assert_frame_equal(
        pd.read_parquet(resumed / "train_log.parquet"),
        pd.read_parquet(reference / "train_log.parquet"),
    )

    # Without its memory the resumed run would differ: the test can see the memory.
    forgetful = restart_from_step_4("forgetful")
    checkpoint = torch.load(forgetful / "checkpoints" / entries[1].file)
    checkpoint["task"]["memory"] = None
    write_checkpoint(
        serialize_checkpoint(checkpoint),
        forgetful / "checkpoints",
        forgetful / "manifest.tsv",
        step=4,
        epoch=0.0,
        identity=checkpoint["identity"],
    )
    train(lm_run(corpus_root), forgetful)
    assert (forgetful / "checkpoints" / final).read_bytes() != (
        reference / "checkpoints" / final
    ).read_bytes()

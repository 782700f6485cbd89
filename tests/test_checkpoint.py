import os

import pytest
import torch

from stationarity.files import atomic_write_bytes
from stationarity.training.checkpoints import (
    CorruptCheckpointError,
    latest_valid,
    load_checkpoint,
    read_manifest,
    serialize_checkpoint,
    write_checkpoint,
)


def _state(step):
    return {"model": {"w": torch.full((3,), float(step))}, "step": step}


def _save_three(tmp_path):
    ckpt, manifest = tmp_path / "checkpoints", tmp_path / "manifest.tsv"
    for step in (0, 10, 20):
        write_checkpoint(
            serialize_checkpoint(_state(step)), ckpt, manifest, step=step, epoch=step / 10
        )
    return ckpt, manifest


def test_manifest_lists_every_checkpoint_with_its_hash(tmp_path):
    ckpt, manifest = _save_three(tmp_path)
    entries = read_manifest(manifest)
    assert [e.step for e in entries] == [0, 10, 20]
    assert [e.file for e in entries] == ["step00000000.pt", "step00000010.pt", "step00000020.pt"]
    assert entries[2].epoch == 2.0
    assert manifest.read_text().splitlines()[0] == "step\tepoch\tfile\tsha256\tidentity"
    assert load_checkpoint(ckpt, entries[1])["step"] == 10
    assert sorted(os.listdir(ckpt)) == [e.file for e in entries]  # no temporary files left


def test_resaving_a_step_replaces_its_row(tmp_path):
    ckpt, manifest = _save_three(tmp_path)
    write_checkpoint(serialize_checkpoint(_state(99)), ckpt, manifest, step=10, epoch=1.0)
    entries = read_manifest(manifest)
    assert [e.step for e in entries] == [0, 10, 20]
    assert load_checkpoint(ckpt, entries[1])["step"] == 99


def test_atomic_write_keeps_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"old")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old"


def test_truncated_checkpoint_is_detected_and_the_previous_one_used(tmp_path):
    ckpt, manifest = _save_three(tmp_path)
    newest = ckpt / "step00000020.pt"
    size = newest.stat().st_size
    with open(newest, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(CorruptCheckpointError, match="truncated or corrupt"):
        load_checkpoint(ckpt, read_manifest(manifest)[2])
    with pytest.warns(UserWarning, match="step00000020.pt is truncated or corrupt"):
        entry, state = latest_valid(ckpt, manifest)
    assert entry.step == 10 and state["step"] == 10
    aside = ckpt / "step00000020.pt.damaged"  # moved aside, not deleted, and out of the manifest
    assert not newest.exists() and aside.stat().st_size == size // 2
    assert [e.step for e in read_manifest(manifest)] == [0, 10]


def test_flipped_byte_and_missing_file_are_skipped(tmp_path):
    ckpt, manifest = _save_three(tmp_path)
    data = bytearray((ckpt / "step00000020.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (ckpt / "step00000020.pt").write_bytes(bytes(data))
    (ckpt / "step00000010.pt").rename(ckpt / "moved.pt")
    with pytest.warns(UserWarning) as record:
        entry, _ = latest_valid(ckpt, manifest)
    assert entry.step == 0
    assert len(record) == 2


def test_no_manifest_means_no_checkpoint(tmp_path):
    assert latest_valid(tmp_path, tmp_path / "manifest.tsv") is None


def test_loading_refuses_pickled_objects(tmp_path):
    ckpt, manifest = tmp_path / "c", tmp_path / "m.tsv"
    write_checkpoint(serialize_checkpoint({"obj": object()}), ckpt, manifest, step=0, epoch=0.0)
    with pytest.raises(Exception, match="[Ww]eights only"):
        load_checkpoint(ckpt, read_manifest(manifest)[0])

"""Small holes: W&B's own mode names never stop a job; a failed atomic write leaves no temp file."""

import os

import pytest

from stationarity.files import atomic_write_bytes
from stationarity.tracking.runs import resolve_mode


def test_wandb_aliases_map_to_our_modes_and_unknown_ones_log_offline():
    assert resolve_mode("dryrun") == "offline" and resolve_mode("run") == "online"
    assert resolve_mode("disabled") == "disabled"
    with pytest.warns(UserWarning, match="unknown W&B mode 'ofline'.*logging offline"):
        assert resolve_mode("ofline") == "offline"


def test_a_failed_atomic_write_keeps_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "table.parquet"
    target.write_bytes(b"old")

    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["table.parquet"]

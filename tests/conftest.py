"""Hermetic test environment: no network, W&B offline in a temp dir, one torch thread."""

import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Nothing in the tests may wait on the network: fail fast instead of hanging.
socket.setdefaulttimeout(10)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def hermetic_env(tmp_path_factory, monkeypatch):
    """Point every W&B directory at a temp dir and keep W&B offline for each test."""
    root = tmp_path_factory.mktemp("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for name in ("DIR", "CACHE_DIR", "DATA_DIR", "CONFIG_DIR", "ARTIFACT_DIR"):
        path = root / name.lower()
        path.mkdir()
        monkeypatch.setenv(f"WANDB_{name}", str(path))
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)  # two jobs × two threads on two cores run many times slower


@pytest.fixture
def repo() -> Path:
    """The repository root."""
    return REPO

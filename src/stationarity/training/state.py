"""What a checkpoint must hold beyond weights: RNG states, and the per-iteration training log."""

import random
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..files import atomic_write_bytes


def rng_state() -> dict:
    """Every global RNG state (Python, NumPy, torch CPU and CUDA) as checkpoint-safe values."""
    numpy_state = np.random.get_state(legacy=False)
    return {
        "python": random.getstate(),
        # weights_only loading allows tensors, not NumPy arrays.
        "numpy_key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
        "numpy_pos": numpy_state["state"]["pos"],
        "numpy_gauss": (numpy_state["has_gauss"], numpy_state["gauss"]),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict) -> None:
    """Restore the RNG states saved by :func:`rng_state`."""
    random.setstate(state["python"])
    has_gauss, gauss = state["numpy_gauss"]
    key = state["numpy_key"].numpy().astype(np.uint32)
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": key, "pos": state["numpy_pos"]},
            "has_gauss": has_gauss,
            "gauss": gauss,
        }
    )
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class TrainLog:
    """Per-iteration training loss and learning rate; written whole and atomically as Parquet."""

    COLUMNS = ("step", "epoch", "lr", "loss")

    def __init__(self, frame: pd.DataFrame | None = None):
        self.frames = [] if frame is None else [frame]

    def append(self, steps: list[int], epochs: list[int], lrs: list[float], losses: list[float]):
        """Add rows (step = the 0-based index of the optimisation step that produced the loss)."""
        self.frames.append(
            pd.DataFrame(
                {
                    "step": np.asarray(steps, dtype=np.int64),
                    "epoch": np.asarray(epochs, dtype=np.int64),
                    "lr": np.asarray(lrs, dtype=np.float64),
                    "loss": np.asarray(losses, dtype=np.float64),
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        """All rows so far as one frame."""
        frames = [f for f in self.frames if len(f)]
        if not frames:
            return pd.DataFrame({c: pd.Series(dtype="float64") for c in self.COLUMNS})
        self.frames = [pd.concat(frames, ignore_index=True)]
        return self.frames[0]

    @classmethod
    def resume(cls, path: Path, step: int) -> "TrainLog":
        """The rows of an earlier attempt before ``step`` (the checkpoint resumed from)."""
        kept = cls(pd.read_parquet(path)).frame() if Path(path).exists() else cls().frame()
        kept = kept[kept["step"] < step].reset_index(drop=True)
        if len(kept) != step:
            message = f"{path} holds {len(kept)} of the {step} steps before the resume"
            warnings.warn(message, stacklevel=2)
        return cls(kept)


def write_log_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write a training-log frame to ``path`` as Parquet, atomically."""
    atomic_write_bytes(path, frame.to_parquet(index=False))

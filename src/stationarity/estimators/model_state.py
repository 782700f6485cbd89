"""Measure a model in the requested mode and hand it back exactly as it came."""

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def measuring_mode(model: nn.Module, mode: str) -> Iterator[None]:
    """Set eval or train mode; restore every module's mode and, after train mode, every buffer."""
    if mode not in ("eval", "train"):
        raise ValueError(f"mode must be 'eval' or 'train', not {mode!r}")
    modes = {module: module.training for module in model.modules()}
    # Train-mode BatchNorm updates its running statistics in place on every forward pass.
    saved = [(b, b.clone()) for b in model.buffers()] if mode == "train" else []
    model.train(mode == "train")
    try:
        yield
    finally:
        for module, training in modes.items():
            module.training = training
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)

"""Plumbing shared by every pass over the m samples: devices, parameters and dropout masks."""

from collections.abc import Iterable, Iterator

import torch
from torch import Tensor, nn

Batch = tuple[Tensor, Tensor]


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters θ that the statistics differentiate with respect to."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no parameters that require gradients")
    return params


def flatten(tensors: Iterable[Tensor]) -> Tensor:
    """One flat vector from tensors shaped like the parameters."""
    return torch.cat([t.reshape(-1) for t in tensors])


def require_reiterable(batches: Iterable[Batch]) -> None:
    """Refuse one-shot iterators: the statistics pass over the same samples several times."""
    if iter(batches) is batches:
        raise TypeError("batches must be re-iterable (a list or a DataLoader), not an iterator")


def on_device(
    batches: Iterable[Batch], device: torch.device, dropout_seed: int | None = None
) -> Iterator[Batch]:
    """Yield the micro-batches on ``device``; with a seed, micro-batch k always draws the same
    random numbers, so train-mode dropout masks agree between the gradient and every HVP pass."""
    for k, (inputs, targets) in enumerate(batches):
        inputs, targets = inputs.to(device), targets.to(device)
        if dropout_seed is None:
            yield inputs, targets
            continue
        with torch.random.fork_rng(devices=[device] if device.type != "cpu" else []):
            torch.manual_seed(dropout_seed + k)
            yield inputs, targets

"""Plumbing shared by every pass over the m samples: devices, parameters, dropout masks, groups."""

import itertools
import math
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


def skipped(batches: Iterable[Batch], start: int) -> Iterable[Batch]:
    """The micro-batches from number ``start`` on: by the batches' own ``skip(start)`` where they
    have one (which need not load the skipped samples), else by reading past them."""
    if start == 0:
        return batches
    skip = getattr(batches, "skip", None)
    return skip(start) if skip is not None else itertools.islice(batches, start, None)


def on_device(
    batches: Iterable[Batch], device: torch.device, dropout_seed: int | None = None, start: int = 0
) -> Iterator[Batch]:
    """Yield the micro-batches on ``device``, from number ``start`` on; with a seed, micro-batch
    k always draws the same random numbers, so train-mode dropout masks agree between the
    gradient and every HVP pass."""
    for k, (inputs, targets) in enumerate(skipped(batches, start), start):
        inputs, targets = inputs.to(device), targets.to(device)
        if dropout_seed is None:
            yield inputs, targets
            continue
        with torch.random.fork_rng(devices=[device] if device.type != "cpu" else []):
            torch.manual_seed(dropout_seed + k)
            yield inputs, targets


def micro_batch_count(batches: Iterable[Batch]) -> int:
    """K, the micro-batches of ``batches``: its ``len`` where defined, else by iterating once."""
    try:
        return len(batches)  # type: ignore[arg-type]
    except TypeError:
        return sum(1 for _ in batches)


def group_assignment(count: int, groups: int) -> list[int]:
    """The group of each of ``count`` micro-batches in order: k → ⌊k·G/K⌋, G = min(groups, K).

    Groups are contiguous and differ in size by at most one micro-batch.
    """
    used = max(1, min(groups, count))
    return [k * used // count for k in range(count)]


def group_micro_batch(samples: int, micro_batch: int, groups: int) -> int:
    """The micro-batch size that lets ``samples`` form ``groups`` groups: at most ceil(m/G)."""
    return max(1, min(micro_batch, math.ceil(samples / groups)))

"""Sums over the m samples that give the loss, ‖ḡ‖ and σ; the plain pass; the mini-batch estimator.

Every pass sums the loss over loss terms (tokens; one per image) and differentiates that sum, so a
sample's loss is ℓ_i = s_i / T̄ with s_i the sum over its tokens and T̄ = tokens/samples. Then
L = (1/m) Σ ℓ_i is the mean over tokens, and every gradient below is divided by T̄ at the end.
"""

import functools
import math
import operator
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace

import torch
from torch import Tensor, nn

from .losses import LossFn
from .microbatches import (
    Batch,
    flatten,
    group_assignment,
    micro_batch_count,
    on_device,
    trainable_parameters,
)
from .progress import Phase


@dataclass
class GradientSums:
    """Σ of losses, of per-sample gradients G_i = ∇s_i (float64) and, if known, of ‖G_i‖²."""

    loss: float
    samples: int
    tokens: int
    grad: Tensor
    sq_norms: float = math.nan

    @property
    def tokens_per_sample(self) -> float:
        """T̄, the scale between a sample's summed loss s_i and its loss ℓ_i."""
        return self.tokens / self.samples

    @property
    def mean_loss(self) -> float:
        """L = (1/m) Σ ℓ_i."""
        return self.loss / self.tokens

    @property
    def mean_grad(self) -> Tensor:
        """ḡ = (1/m) Σ ∇ℓ_i."""
        return self.grad / self.tokens

    @property
    def mean_sq_norm(self) -> float:
        """(1/m) Σ ‖∇ℓ_i‖²."""
        return self.sq_norms / self.samples / self.tokens_per_sample**2

    def __add__(self, other: "GradientSums") -> "GradientSums":
        """The sums over the samples of both."""
        return GradientSums(
            self.loss + other.loss,
            self.samples + other.samples,
            self.tokens + other.tokens,
            self.grad + other.grad,
            self.sq_norms + other.sq_norms,
        )

    def __sub__(self, other: "GradientSums") -> "GradientSums":
        """The sums over the samples of ``self`` that are not in ``other`` (a part of it)."""
        return GradientSums(
            self.loss - other.loss,
            self.samples - other.samples,
            self.tokens - other.tokens,
            self.grad - other.grad,
            self.sq_norms - other.sq_norms,
        )


Key = tuple[int, int]  # a cell of micro-batches: (group, size), size 0 where sizes are not kept


@dataclass
class GroupedSums:
    """The sums of one pass per cell of micro-batches, on the host, and their total.

    ``assignment`` gives each micro-batch's group; ``total`` is on the device of the pass and
    ``host_total`` the same on the host.
    """

    cells: dict[Key, GradientSums]
    assignment: list[int]
    total: GradientSums
    host_total: GradientSums

    @property
    def groups(self) -> int:
        """G, the number of groups (fewer than requested when there are fewer micro-batches)."""
        return max(self.assignment) + 1

    def group(self, g: int) -> GradientSums:
        """The sums over the samples of group g."""
        cells = [cell for (group, _), cell in self.cells.items() if group == g]
        return functools.reduce(operator.add, cells)

    def leave_out(self, g: int) -> GradientSums:
        """The sums over every sample but those of group g, on the host."""
        return self.host_total - self.group(g)

    def per_group(self, values: Sequence[float]) -> list[float]:
        """Per-micro-batch ``values`` summed over each group."""
        sums = [0.0] * self.groups
        for group, value in zip(self.assignment, values, strict=True):
            sums[group] += value
        return sums


class _Running:
    """The sums of one cell while its group streams, on the device: no sync per micro-batch."""

    def __init__(self, device: torch.device, length: int):
        self.loss = torch.zeros((), dtype=torch.float64, device=device)
        self.tokens = torch.zeros((), dtype=torch.int64, device=device)
        self.samples = 0
        self.grad = torch.zeros(length, dtype=torch.float64, device=device)
        self.sq_norms: Tensor | float = torch.zeros((), dtype=torch.float64, device=device)

    def on_host(self) -> GradientSums:
        """The finished sums, the gradient moved to the host."""
        tokens, sq_norms = int(self.tokens), float(self.sq_norms)
        return GradientSums(float(self.loss), self.samples, tokens, self.grad.cpu(), sq_norms)


class GroupTotals:
    """Sums of one pass per cell, running on the device until each group is complete, then moved
    to the host: G parameter vectors in float64 there, one at a time on the device.

    With a ``phase``, it resumes from the phase's saved state (the finished groups) and reports
    each micro-batch, with a snapshot at the end of each group; with a ``spread``, it also feeds
    the mini-batch estimator (whose state the snapshot holds too).
    """

    def __init__(
        self,
        assignment: list[int],
        params: list[nn.Parameter],
        by_size: bool = False,
        phase: Phase | None = None,
        spread: "MinibatchSpread | None" = None,
    ):
        self.assignment = assignment
        self.by_size = by_size
        self.device = params[0].device
        self.length = sum(p.numel() for p in params)
        self.cells: dict[Key, GradientSums] = {}
        self.running: dict[Key, _Running] = {}
        self.added = 0
        self.phase, self.spread = phase, spread
        if phase is not None and phase.saved is not None:
            self._restore(phase.saved)
        if phase is not None:
            phase.report(self.added)  # the start

    def _restore(self, saved: dict) -> None:
        if saved["assignment"] != self.assignment:
            raise ValueError("the saved sums come from other micro-batches: cannot resume")
        self.cells = {tuple(key): GradientSums(**cell) for key, cell in saved["cells"]}
        self.added = saved["added"]
        if self.spread is not None:
            self.spread.restore(saved["spread"])

    def snapshot(self) -> dict:
        """The finished groups' sums (and the spread's state), to resume from."""
        return {
            "assignment": self.assignment,
            "added": self.added,
            "cells": [(list(key), asdict(cell)) for key, cell in self.cells.items()],
            "spread": self.spread.snapshot() if self.spread is not None else None,
        }

    def add(self, loss: Tensor, count: Tensor, samples: int, grad: Tensor, sq_norms=None) -> Key:
        """Count the next micro-batch: its summed loss and gradient, loss terms, samples and
        Σ‖G_i‖² (a tensor; None where unknown). Returns its cell."""
        if self.added == len(self.assignment):
            raise RuntimeError("the batches yielded more micro-batches than their len() says")
        group = self.assignment[self.added]
        key = (group, samples if self.by_size else 0)
        if key not in self.running:
            self.running[key] = _Running(self.device, self.length)
        running = self.running[key]
        running.loss += loss.detach()
        running.tokens += count
        running.samples += samples
        running.grad += grad
        running.sq_norms = running.sq_norms + sq_norms if sq_norms is not None else math.nan
        if self.spread is not None:
            self.spread.add(grad, samples, key)
        self.added += 1
        finished = self.added == len(self.assignment) or self.assignment[self.added] != group
        if finished:
            self.cells.update((key, cell.on_host()) for key, cell in self.running.items())
            self.running.clear()
        if self.phase is not None:
            self.phase.report(self.added, self.snapshot if finished else None)
        return key

    @property
    def start(self) -> int:
        """The first micro-batch the pass still has to read (after a resume, not 0)."""
        return self.added

    def grouped(self) -> GroupedSums:
        """The sums of the finished pass."""
        if self.added != len(self.assignment):
            raise RuntimeError("the batches yielded fewer micro-batches than their len() says")
        host = functools.reduce(operator.add, self.cells.values())
        total = replace(host, grad=host.grad.to(self.device))
        return GroupedSums(self.cells, self.assignment, total, host)


@dataclass
class MinibatchSpread:
    """Streams Σ_k ‖g_k − s‖² over the micro-batches k of each cell, g_k their mean G_i.

    σ̂² = (1/K) Σ_k w_k ‖g_k − ḡ‖², w_k = b_k(m−1)/(m−b_k), is unbiased when the micro-batches
    partition a random sample (the finite-population factor). To keep the squared norms free of
    cancellation, every g_k is shifted by the first one, s; the rest of ‖g_k − ḡ‖² comes from
    the cells' gradient sums at the end, when m (and, for a jackknife, which cells) is known.
    """

    shift: Tensor | None = None
    sq_norms: dict[Key, float] = field(default_factory=lambda: defaultdict(float))
    counts: dict[Key, int] = field(default_factory=lambda: defaultdict(int))

    def snapshot(self) -> dict:
        """The streamed sums so far, to resume from (copies: they keep growing)."""
        return {
            "shift": self.shift.cpu() if self.shift is not None else None,
            "sq_norms": [(list(k), v) for k, v in self.sq_norms.items()],
            "counts": [(list(k), v) for k, v in self.counts.items()],
        }

    def restore(self, saved: dict) -> None:
        """Continue from a ``snapshot``."""
        self.shift = saved["shift"]
        self.sq_norms.update((tuple(k), v) for k, v in saved["sq_norms"])
        self.counts.update((tuple(k), v) for k, v in saved["counts"])

    def add(self, grad_sum: Tensor, size: int, key: Key) -> None:
        """Record one micro-batch of cell ``key`` from its summed gradient Σ_{i∈k} G_i."""
        mean = grad_sum / size
        if self.shift is None:
            self.shift = mean
        elif self.shift.device != mean.device:  # restored on the host
            self.shift = self.shift.to(mean.device)
        shifted = mean - self.shift
        self.sq_norms[key] += float(shifted @ shifted)
        self.counts[key] += 1

    def variance(self, cells: dict[Key, GradientSums], sums: GradientSums) -> float:
        """σ̂² over the micro-batches of ``cells`` (keyed (group, size)), whose sums (on the host)
        are ``sums``: unbiased over random partitions of their samples."""
        m = sums.samples
        if sum(self.counts[key] for key in cells) < 2:
            raise ValueError("the mini-batch noise estimate needs at least two micro-batches")
        shift = self.shift = self.shift.cpu()  # once: the cells are on the host
        centre = sums.grad / m - shift
        total = 0.0
        for key, cell in cells.items():
            size, count = key[1], self.counts[key]
            # Σ_k (g_k − s) from the cell's sum: float64 keeps this cross term accurate.
            cross = float(cell.grad @ centre) / size - count * float(shift @ centre)
            spread = self.sq_norms[key] - 2 * cross + count * float(centre @ centre)
            total += size * (m - 1) / (m - size) * spread
        return total / sum(self.counts[key] for key in cells) / sums.tokens_per_sample**2


def plain_pass(
    model: nn.Module,
    batches: Iterable[Batch],
    loss_fn: LossFn,
    *,
    groups: int = 1,
    dropout_seed: int | None = None,
    spread: MinibatchSpread | None = None,
    phase: Phase | None = None,
) -> GroupedSums:
    """One ordinary forward and backward pass per micro-batch: the loss and the summed gradient,
    per group of micro-batches (and per size with ``spread``); resumable by ``phase``."""
    params = trainable_parameters(model)
    assignment = group_assignment(micro_batch_count(batches), groups)
    totals = GroupTotals(assignment, params, spread is not None, phase, spread)
    for inputs, targets in on_device(batches, params[0].device, dropout_seed, totals.start):
        loss, count = loss_fn(model(inputs), targets)
        grads = torch.autograd.grad(loss, params, allow_unused=True, materialize_grads=True)
        totals.add(loss, count, len(targets), flatten(grads).double())
    return totals.grouped()

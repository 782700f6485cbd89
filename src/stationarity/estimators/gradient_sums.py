"""Sums over the m samples that give the loss, ‖ḡ‖ and σ; the plain pass; the mini-batch estimator.

Every pass sums the loss over loss terms (tokens; one per image) and differentiates that sum, so a
sample's loss is ℓ_i = s_i / T̄ with s_i the sum over its tokens and T̄ = tokens/samples. Then
L = (1/m) Σ ℓ_i is the mean over tokens, and every gradient below is divided by T̄ at the end.
"""

import functools
import math
import operator
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from .gram import Vector, flat_copy, gram_matrix
from .losses import LossFn
from .microbatches import (
    Batch,
    group_assignment,
    micro_batch_count,
    on_device,
    trainable_parameters,
)
from .progress import Phase

if TYPE_CHECKING:  # the spread module builds on this one
    from .minibatch_spread import MinibatchSpread


@dataclass
class GradientSums:
    """Σ of losses, of per-sample gradients G_i = ∇s_i and, if known, of ‖G_i‖².

    ``grad`` is the vector Σ G_i, flat or (in the cells of a pass) in per-parameter parts, None
    where only its norm was formed; ``grad_sq`` is ‖Σ G_i‖², NaN until known (then computed from
    ``grad`` in float64).
    """

    loss: float
    samples: int
    tokens: int
    grad: Vector | None
    sq_norms: float = math.nan
    grad_sq: float = math.nan

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
    def mean_grad_sq(self) -> float:
        """‖ḡ‖²."""
        grad_sq = self.grad_sq
        if math.isnan(grad_sq):
            grad = flat_copy(self.grad, torch.float64)
            grad_sq = float(grad @ grad)
        return grad_sq / self.tokens**2

    @property
    def mean_sq_norm(self) -> float:
        """(1/m) Σ ‖∇ℓ_i‖²."""
        return self.sq_norms / self.samples / self.tokens_per_sample**2

    def without_grad(self) -> "GradientSums":
        """The scalar sums only."""
        return replace(self, grad=None, grad_sq=math.nan)

    def __add__(self, other: "GradientSums") -> "GradientSums":
        """The sums over the samples of both (the vectors where both have them)."""
        both = self.grad is not None and other.grad is not None
        return GradientSums(
            self.loss + other.loss,
            self.samples + other.samples,
            self.tokens + other.tokens,
            _flat(self.grad) + _flat(other.grad) if both else None,
            self.sq_norms + other.sq_norms,
        )

    def add_(self, other: "GradientSums") -> None:
        """Add ``other`` in place, the gradient into this one's vector."""
        self.loss += other.loss
        self.samples += other.samples
        self.tokens += other.tokens
        _flat(self.grad).add_(_flat(other.grad))
        self.sq_norms += other.sq_norms
        self.grad_sq = math.nan

    def __sub__(self, other: "GradientSums") -> "GradientSums":
        """The sums over the samples of ``self`` that are not in ``other`` (a part of it)."""
        return GradientSums(
            self.loss - other.loss,
            self.samples - other.samples,
            self.tokens - other.tokens,
            _flat(self.grad) - _flat(other.grad),
            self.sq_norms - other.sq_norms,
        )


def _flat(grad: Vector) -> Tensor:
    """A flat gradient sum; one in parts must be made flat first (``cells64``): ``+`` on two
    lists would concatenate them, not add."""
    if not isinstance(grad, Tensor):
        raise TypeError("gradient sums in parts add only once flat (see GroupedSums.cells64)")
    return grad


Key = tuple[int, int]  # a cell of micro-batches: (group, size), size 0 where sizes are not kept


@dataclass
class GroupedSums:
    """The sums of one pass per cell of micro-batches, on the host, and their total.

    A cell's gradient sum is in per-parameter parts, in the parameters' dtype or float64 where
    the pass accumulated in float64 (see ``GroupTotals``). ``assignment`` gives each
    micro-batch's group. ``gram`` holds ⟨Σ_a G_i, Σ_b G_i⟩ of the cells a, b (in the order of
    ``cells``) in float64: the squared norms of every leave-one-group-out sum follow from it,
    without a vector per group.
    """

    cells: dict[Key, GradientSums]
    assignment: list[int]
    device: torch.device
    gram: Tensor

    @property
    def groups(self) -> int:
        """G, the number of groups (fewer than requested when there are fewer micro-batches)."""
        return max(self.assignment) + 1

    def scalars(self, leave_out: int | None = None) -> GradientSums:
        """Loss, counts, Σ‖G_i‖² and ‖Σ G_i‖² over every sample (but those of group
        ``leave_out``); ``grad`` is None: the vector is not formed."""
        kept = [k for k, (group, _) in enumerate(self.cells) if group != leave_out]
        cells = list(self.cells.values())
        sums = functools.reduce(operator.add, (cells[k].without_grad() for k in kept))
        sums.grad_sq = float(self.gram[kept][:, kept].sum())
        return sums

    @functools.cached_property
    def cells64(self) -> dict[Key, GradientSums]:
        """The cells with float64 gradient sums, for the estimators that need the vectors."""
        return {
            key: replace(cell, grad=flat_copy(cell.grad, torch.float64))
            for key, cell in self.cells.items()
        }

    @functools.cached_property
    def host_total(self) -> GradientSums:
        """The sums over all samples, the gradient a float64 vector on the host."""
        cells = iter(self.cells64.values())
        first = next(cells)
        total = replace(first, grad=first.grad.clone())
        for cell in cells:
            total.add_(cell)
        return total

    @functools.cached_property
    def total(self) -> GradientSums:
        """``host_total`` with its gradient on the device of the pass."""
        return replace(self.host_total, grad=self.host_total.grad.to(self.device))

    def group(self, g: int) -> GradientSums:
        """The sums over the samples of group g (float64 gradient)."""
        cells = [cell for (group, _), cell in self.cells64.items() if group == g]
        return functools.reduce(operator.add, cells)

    def leave_out(self, g: int) -> GradientSums:
        """The sums over every sample but those of group g, on the host (float64 gradient)."""
        return self.host_total - self.group(g)

    def per_group(self, values: Sequence[float]) -> list[float]:
        """Per-micro-batch ``values`` summed over each group."""
        sums = [0.0] * self.groups
        for group, value in zip(self.assignment, values, strict=True):
            sums[group] += value
        return sums


class _Running:
    """The sums of one cell while its group streams, on the device: no sync per micro-batch.

    The cell's first micro-batch gradient is kept as autograd returned it, one tensor per
    parameter, and later ones add to it in place: as ``loss.backward()`` steals the first
    gradient into ``.grad``. Copying every cell into a flat buffer cost a parameter-sized write
    per cell; on CPUs into fresh pages, which took 16-110 ms per 44 MB (ResNet-18).
    """

    def __init__(self, params: list[nn.Parameter], dtype: torch.dtype):
        device = params[0].device
        self.loss = torch.zeros((), dtype=torch.float64, device=device)
        self.tokens = torch.zeros((), dtype=torch.int64, device=device)
        self.samples = 0
        self.params, self.dtype = params, dtype
        self.parts: list[Tensor] = []
        self.sq_norms: Tensor | float = torch.zeros((), dtype=torch.float64, device=device)

    def _own(self, grad: Tensor | None, param: nn.Parameter) -> Tensor:
        """A tensor this cell may add into: ``grad`` itself where nothing else can see it."""
        if grad is None:
            return torch.zeros_like(param, dtype=self.dtype)
        if grad.dtype != self.dtype:
            return grad.to(self.dtype)
        # A view (of a rule's larger result, say) would keep its base alive, or share it; an
        # expanded one cannot take an add in place. Channels-last gradients are dense: kept.
        dense = grad.is_contiguous() or (
            grad.dim() == 4 and grad.is_contiguous(memory_format=torch.channels_last)
        )
        if grad._base is not None or not dense:
            return grad.clone(memory_format=torch.contiguous_format)
        return grad

    def add_grads(self, grads: Sequence[Tensor | None]) -> None:
        """Add one micro-batch's gradient, given per parameter (None: no gradient)."""
        if not self.parts:
            self.parts = [self._own(g, p) for g, p in zip(grads, self.params, strict=True)]
            return
        pairs = [(part, g) for part, g in zip(self.parts, grads, strict=True) if g is not None]
        torch._foreach_add_([part for part, _ in pairs], [g for _, g in pairs])

    def on_host(self) -> GradientSums:
        """The finished sums, the gradient moved to the host (in parts)."""
        tokens, sq_norms = int(self.tokens), float(self.sq_norms)
        parts = self.parts
        if parts[0].device.type != "cpu":  # one transfer, not one per parameter
            host = flat_copy(parts).cpu().split([part.numel() for part in parts])
            parts = [flat.view_as(part) for flat, part in zip(host, parts, strict=True)]
        return GradientSums(float(self.loss), self.samples, tokens, parts, sq_norms)


def accumulation_dtype(params: list[nn.Parameter]) -> torch.dtype:
    """The dtype of the running sums of a group: the parameters' own on CPUs, float64 elsewhere.

    A group sums a few micro-batch gradients. On CPUs an add that converts float32 to float64 runs
    about 7x slower than a float32 add (58 vs 8 ms for 11M parameters, 2 threads), and it would
    cost more than the backward pass; on GPUs it is as cheap as any other add.
    """
    return params[0].dtype if params[0].device.type == "cpu" else torch.float64


class GroupTotals:
    """Sums of one pass per cell, running on the device until each group is complete, then moved
    to the host: G parameter vectors there, one (per size) at a time on the device.

    With a ``phase``, it resumes from the phase's saved state (the finished groups) and reports
    each micro-batch, with a snapshot at the end of each group; with a ``spread`` (which the pass
    feeds), the snapshot holds the mini-batch estimator's state too.
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
        self.params = params
        self.device = params[0].device
        self.dtype = accumulation_dtype(params)
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

    def add(self, loss: Tensor, count: Tensor, samples: int, grads, sq_norms=None) -> Key:
        """Count the next micro-batch: its summed loss, its gradient per parameter (None where a
        parameter has none), loss terms, samples and Σ‖G_i‖² (a tensor; None where unknown).
        Returns its cell."""
        key = self.next_key(samples)
        group = key[0]
        if key not in self.running:
            self.running[key] = _Running(self.params, self.dtype)
        running = self.running[key]
        running.loss += loss.detach()
        running.tokens += count
        running.samples += samples
        running.add_grads(grads)
        running.sq_norms = running.sq_norms + sq_norms if sq_norms is not None else math.nan
        self.added += 1
        finished = self.added == len(self.assignment) or self.assignment[self.added] != group
        if finished:
            for cell_key, cell in self.running.items():
                self.cells[cell_key] = cell.on_host()
            self.running.clear()
        if self.phase is not None:
            self.phase.report(self.added, self.snapshot if finished else None)
        return key

    @property
    def start(self) -> int:
        """The first micro-batch the pass still has to read (after a resume, not 0)."""
        return self.added

    def next_key(self, samples: int) -> Key:
        """The cell that the next micro-batch, of ``samples`` samples, goes to."""
        if self.added == len(self.assignment):
            raise RuntimeError("the batches yielded more micro-batches than their len() says")
        return (self.assignment[self.added], samples if self.by_size else 0)

    def grouped(self, extra: Sequence[Tensor] = ()) -> GroupedSums:
        """The sums of the finished pass; ``extra`` vectors join the cells in the Gram matrix."""
        if self.added != len(self.assignment):
            raise RuntimeError("the batches yielded fewer micro-batches than their len() says")
        vectors = [cell.grad for cell in self.cells.values()] + list(extra)
        gram = gram_matrix(vectors, self.device)
        return GroupedSums(self.cells, self.assignment, self.device, gram)


def plain_pass(
    model: nn.Module,
    batches: Iterable[Batch],
    loss_fn: LossFn,
    *,
    groups: int = 1,
    dropout_seed: int | None = None,
    spread: "MinibatchSpread | None" = None,
    phase: Phase | None = None,
) -> GroupedSums:
    """One ordinary forward and backward pass per micro-batch: the loss and the summed gradient,
    per group of micro-batches (and per size with ``spread``); resumable by ``phase``."""
    params = trainable_parameters(model)
    assignment = group_assignment(micro_batch_count(batches), groups)
    totals = GroupTotals(assignment, params, spread is not None, phase, spread)
    for inputs, targets in on_device(batches, params[0].device, dropout_seed, totals.start):
        loss, count = loss_fn(model(inputs), targets)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        if spread is not None:  # before the totals: a group's end snapshots both
            filled = [
                torch.zeros_like(p) if g is None else g for g, p in zip(grads, params, strict=True)
            ]
            spread.add(filled, len(targets), totals.next_key(len(targets)))
        totals.add(loss, count, len(targets), grads)
    return totals.grouped(extra=[spread.first] if spread is not None else [])

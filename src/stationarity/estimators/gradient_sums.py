"""Sums over the m samples that give the loss, ‖ḡ‖ and σ; the plain pass; the mini-batch estimator.

Every pass sums the loss over loss terms (tokens; one per image) and differentiates that sum, so a
sample's loss is ℓ_i = s_i / T̄ with s_i the sum over its tokens and T̄ = tokens/samples. Then
L = (1/m) Σ ℓ_i is the mean over tokens, and every gradient below is divided by T̄ at the end.
"""

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .losses import LossFn
from .microbatches import Batch, flatten, on_device, trainable_parameters


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


class BatchTotals:
    """Running totals of losses, samples and tokens, kept on the device to avoid syncs."""

    def __init__(self, device: torch.device):
        self.loss = torch.zeros((), dtype=torch.float64, device=device)
        self.tokens = torch.zeros((), dtype=torch.int64, device=device)
        self.samples = 0

    def add(self, loss: Tensor, count: Tensor, samples: int) -> None:
        """Count one micro-batch."""
        self.loss += loss.detach()
        self.tokens += count
        self.samples += samples

    def sums(self, grad: Tensor, sq_norms: float = math.nan) -> GradientSums:
        """The totals with the summed gradient."""
        return GradientSums(float(self.loss), self.samples, int(self.tokens), grad, sq_norms)


@dataclass
class MinibatchSpread:
    """Streams Σ_k w_k ‖g_k − ḡ‖² over micro-batches k of sizes b_k, with w_k = b_k(m−1)/(m−b_k).

    Each term is an unbiased estimate of σ² when the micro-batches partition a random sample
    (the finite-population factor), so their mean is too. To keep the squared norms free of
    cancellation, every micro-batch mean gradient is shifted by the first one; sums are kept per
    distinct size because w_k depends on m, known only at the end.
    """

    shift: Tensor | None = None
    sq_norms: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    sums: dict[int, Tensor] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, grad_sum: Tensor, size: int) -> None:
        """Record one micro-batch from its summed gradient Σ_{i∈k} G_i (float64)."""
        mean = grad_sum / size
        if self.shift is None:
            self.shift = mean
        shifted = mean - self.shift
        self.sq_norms[size] += float(shifted @ shifted)
        self.sums[size] = self.sums[size] + shifted if size in self.sums else shifted
        self.counts[size] += 1

    def variance(self, sums: GradientSums) -> float:
        """σ̂², unbiased over random partitions of the m samples."""
        m = sums.samples
        if max(self.counts) >= m:
            raise ValueError("the mini-batch noise estimate needs at least two micro-batches")
        centre = sums.grad / m - self.shift
        total = 0.0
        for size, count in self.counts.items():
            spread = self.sq_norms[size] - 2 * float(self.sums[size] @ centre)
            spread += count * float(centre @ centre)
            total += size * (m - 1) / (m - size) * spread
        return total / sum(self.counts.values()) / sums.tokens_per_sample**2


def plain_pass(
    model: nn.Module,
    batches: Iterable[Batch],
    loss_fn: LossFn,
    *,
    dropout_seed: int | None = None,
    spread: MinibatchSpread | None = None,
) -> GradientSums:
    """One ordinary forward and backward pass per micro-batch: the loss and the summed gradient."""
    params = trainable_parameters(model)
    device = params[0].device
    totals = BatchTotals(device)
    grad = torch.zeros(sum(p.numel() for p in params), dtype=torch.float64, device=device)
    for inputs, targets in on_device(batches, device, dropout_seed):
        loss, count = loss_fn(model(inputs), targets)
        grads = torch.autograd.grad(loss, params, allow_unused=True, materialize_grads=True)
        batch_grad = flatten(grads).double()
        grad += batch_grad
        totals.add(loss, count, len(targets))
        if spread is not None:
            spread.add(batch_grad, len(targets))
    return totals.sums(grad)

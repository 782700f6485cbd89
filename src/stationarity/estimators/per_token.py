"""Exact per-token gradient noise of a language model: σ over the loss terms, not the segments.

The per-sample pass treats a segment of L tokens as one sample, so its σ is the spread of segment
gradients ∇ℓ_i = (1/L) Σ_t ∇ℓ_it. Per token, σ_tok² = (1/N) Σ_t ‖∇ℓ_t − ḡ‖² over all N target
tokens, with the same ḡ. The tokens of a segment share its forward pass, so ∇ℓ_t needs a backward
pass of its own: one forward per micro-batch, then its token losses' gradients by autograd with
batched one-hot output gradients (vmap over the backward), ``chunk`` tokens at a time. It costs
about L/``chunk`` … L backward passes per segment; use it to check the per-segment convention,
not at every checkpoint of a large model.
"""

import math
from collections.abc import Iterable
from dataclasses import replace

import torch
from torch import Tensor, nn

from .gradient_sums import GradientSums, GroupedSums, GroupTotals
from .losses import IGNORE_INDEX, LossFn, summed_cross_entropy, summed_target_nll
from .microbatches import (
    Batch,
    group_assignment,
    micro_batch_count,
    on_device,
    trainable_parameters,
)
from .progress import Phase

TOKEN_CHUNK = 16


def _cross_entropy_terms(outputs: Tensor, targets: Tensor) -> Tensor:
    logits = outputs.reshape(-1, outputs.shape[-1])
    terms = nn.functional.cross_entropy(logits, targets.reshape(-1), reduction="none")
    return terms[targets.reshape(-1) != IGNORE_INDEX]


def _nll_terms(outputs: Tensor, targets: Tensor) -> Tensor:
    return outputs[targets != IGNORE_INDEX]


# Each summed loss's terms, one per target token.
LOSS_TERMS = {summed_cross_entropy: _cross_entropy_terms, summed_target_nll: _nll_terms}


def per_token_pass(
    model: nn.Module,
    batches: Iterable[Batch],
    loss_fn: LossFn,
    *,
    groups: int = 1,
    chunk: int = TOKEN_CHUNK,
    phase: Phase | None = None,
) -> GroupedSums:
    """Loss, summed gradient and Σ_t ‖∇ℓ_t‖² over every target token (the sums' ``sq_norms``),
    per group of micro-batches; samples still count segments."""
    terms_of = LOSS_TERMS.get(loss_fn)
    if terms_of is None:
        raise ValueError(f"per-token noise needs one of {[f.__name__ for f in LOSS_TERMS]}")
    params = trainable_parameters(model)
    totals = GroupTotals(group_assignment(micro_batch_count(batches), groups), params, phase=phase)
    for inputs, targets in on_device(batches, params[0].device, start=totals.start):
        terms = terms_of(model(inputs), targets)
        loss = terms.sum()
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        sq_norms = torch.zeros((), dtype=torch.float64, device=terms.device)
        for first in range(0, len(terms), chunk):
            count = min(chunk, len(terms) - first)
            one_hot = torch.zeros(count, len(terms), dtype=terms.dtype, device=terms.device)
            one_hot[torch.arange(count), torch.arange(first, first + count)] = 1
            per_token = torch.autograd.grad(
                terms, params, one_hot, retain_graph=True, is_grads_batched=True,
                materialize_grads=True,
            )  # fmt: skip
            sq_norms += sum(g.double().square().sum() for g in per_token)
        count = torch.tensor(len(terms), device=terms.device)
        totals.add(loss, count, len(targets), grads, sq_norms)
    return totals.grouped()


def per_token_noise(sums: GradientSums) -> float:
    """σ_tok = √(mean_t ‖∇ℓ_t‖² − ‖ḡ‖²): each token a sample of the sums' ``sq_norms``."""
    tokens = replace(sums, samples=sums.tokens)
    return math.sqrt(max(tokens.mean_sq_norm - tokens.mean_grad_sq, 0.0))

"""The slow per-sample references of the estimator benchmark: a backward pass per sample, and
torch.func's vmap over per-sample gradients."""

import math

import torch
from torch import nn
from torch.func import functional_call, grad_and_value, vmap

from ..estimators.losses import LossFn

Batches = list[tuple[torch.Tensor, torch.Tensor]]
Result = tuple[float, float, float]  # loss, ‖ḡ‖, σ


def _one_pass_noise(sq_norm_sum: float, grad_sum: torch.Tensor, samples: int, tokens: int) -> float:
    """σ from Σ‖G_i‖² and ΣG_i of the per-sample summed losses."""
    scale = tokens / samples
    mean = grad_sum / tokens
    return math.sqrt(max(sq_norm_sum / samples / scale**2 - float(mean @ mean), 0.0))


def naive_loop(model: nn.Module, batches: Batches, loss_fn: LossFn) -> Result:
    """One backward pass per sample."""
    params = [p for p in model.parameters() if p.requires_grad]
    grad_sum, sq_norms, loss_sum, tokens, samples = 0.0, 0.0, 0.0, 0, 0
    for inputs, targets in batches:
        for x, y in zip(inputs, targets, strict=True):
            loss, count = loss_fn(model(x[None]), y[None])
            flat = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)]).double()
            grad_sum = grad_sum + flat
            sq_norms += float(flat @ flat)
            loss_sum += float(loss.detach())
            tokens += int(count)
            samples += 1
    sigma = _one_pass_noise(sq_norms, grad_sum, samples, tokens)
    return loss_sum / tokens, float(grad_sum.norm()) / tokens, sigma


def vmap_gradients(model: nn.Module, batches: Batches, loss_fn: LossFn, chunk: int = 32) -> Result:
    """torch.func vmap(grad) over each micro-batch, ``chunk`` samples at a time."""
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}

    def sample_loss(params, x, y):
        return loss_fn(functional_call(model, params, (x[None],)), y[None])

    per_sample = vmap(
        grad_and_value(sample_loss, has_aux=True), in_dims=(None, 0, 0), chunk_size=chunk
    )
    grad_sum, sq_norms, loss_sum, tokens, samples = 0.0, 0.0, 0.0, 0, 0
    for inputs, targets in batches:
        grads, (losses, counts) = per_sample(params, inputs, targets)
        flat = torch.cat([g.reshape(len(inputs), -1) for g in grads.values()], 1).double()
        grad_sum = grad_sum + flat.sum(0)
        sq_norms += float(flat.square().sum())
        loss_sum += float(losses.sum())
        tokens += int(counts.sum())
        samples += len(inputs)
    sigma = _one_pass_noise(sq_norms, grad_sum, samples, tokens)
    return loss_sum / tokens, float(grad_sum.norm()) / tokens, sigma

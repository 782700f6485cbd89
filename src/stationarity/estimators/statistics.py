"""The four statistics of the paper (eq. 2) at a checkpoint, over a fixed set of m samples."""

import math
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn

from .gradient_sums import GradientSums, MinibatchSpread, plain_pass
from .hessian import EigenResult, hvp, top_eigenvalue_lanczos, top_eigenvalue_power
from .losses import LossFn, summed_cross_entropy
from .microbatches import Batch, require_reiterable, trainable_parameters
from .model_state import measuring_mode
from .per_sample_norms import per_sample_pass
from .vmap_fallback import centred_sq_norm_sum

# Above this ‖ḡ‖² / mean‖g_i‖², σ² = mean‖g_i‖² − ‖ḡ‖² would lose digits to cancellation, so
# a second pass sums ‖g_i − ḡ‖² directly.
CENTRED_PASS_RATIO = 0.5

SOLVERS = {"lanczos": top_eigenvalue_lanczos, "power": top_eigenvalue_power}


@dataclass(frozen=True)
class Statistics:
    """Loss, gradient norm, noise and sharpness of one model over m samples, and their cost.

    ``sharpness`` is max |λ| of the Hessian and ``top_eigenvalue`` that λ with its sign; both are
    NaN when skipped or when the solver missed ``sharpness_rtol`` within ``max_hvps`` (then a
    RuntimeWarning reports the last estimate and ``sharpness_residual`` how far it was).
    ``noise_method`` is "per_sample", "per_sample_centred" (a second pass, taken when σ ≪ ‖ḡ‖),
    "minibatch" or "none"; ``samples`` counts sequences and ``tokens`` the targets in the loss.
    """

    loss: float
    grad_norm: float
    noise: float
    sharpness: float
    top_eigenvalue: float
    samples: int
    tokens: int
    hvps: int
    sharpness_converged: bool
    sharpness_residual: float
    noise_method: str
    mode: str
    seconds: float


def _noise(model, batches, loss_fn, noise, mode, dropout_seed) -> tuple[GradientSums, float, str]:
    """The gradient sums and σ, by the requested method."""
    if noise == "per_sample":
        if mode != "eval":
            raise ValueError(
                "per-sample noise needs mode='eval': train-mode BatchNorm mixes samples"
            )
        sums = per_sample_pass(model, batches, loss_fn)
        grad_sq = float(sums.mean_grad @ sums.mean_grad)
        if grad_sq <= CENTRED_PASS_RATIO * sums.mean_sq_norm:
            return sums, math.sqrt(max(sums.mean_sq_norm - grad_sq, 0.0)), "per_sample"
        centred = centred_sq_norm_sum(model, batches, loss_fn, sums.grad / sums.samples)
        variance = centred / sums.samples / sums.tokens_per_sample**2
        return sums, math.sqrt(variance), "per_sample_centred"
    if noise == "minibatch":
        spread = MinibatchSpread()
        sums = plain_pass(model, batches, loss_fn, dropout_seed=dropout_seed, spread=spread)
        return sums, math.sqrt(max(spread.variance(sums), 0.0)), "minibatch"
    if noise is None:
        return plain_pass(model, batches, loss_fn, dropout_seed=dropout_seed), math.nan, "none"
    raise ValueError(f"noise must be 'per_sample', 'minibatch' or None, not {noise!r}")


def _random_start(model: nn.Module, generator: torch.Generator) -> torch.Tensor:
    """A seeded Gaussian vector shaped like the flat trainable parameters."""
    params = trainable_parameters(model)
    start = torch.randn(sum(p.numel() for p in params), generator=generator, dtype=torch.float64)
    return start.to(device=params[0].device, dtype=params[0].dtype)


def _sharpness(matvec, start, method: str, rtol: float, max_hvps: int) -> EigenResult:
    """The Hessian eigenvalue of largest magnitude; warns when it misses the tolerance."""
    result = SOLVERS[method](matvec, start, rtol=rtol, max_matvecs=max_hvps)
    if not result.converged:
        warnings.warn(
            f"sharpness did not converge in {max_hvps} HVPs: last estimate {result.value:.6g}, "
            f"relative residual {result.residual:.2g} > {rtol:g}; reporting NaN",
            RuntimeWarning,
            stacklevel=3,
        )
    return result


def estimate(
    model: nn.Module,
    batches: Iterable[Batch],
    *,
    mode: str = "eval",
    noise: str | None = "per_sample",
    sharpness: str | None = "lanczos",
    sharpness_rtol: float = 1e-3,
    max_hvps: int = 100,
    generator: torch.Generator | None = None,
    loss_fn: LossFn = summed_cross_entropy,
) -> Statistics:
    """Loss, ‖ḡ‖, σ and ‖∇²L‖ over the samples of ``batches`` (re-iterable (inputs, targets)).

    ``mode="eval"`` uses BatchNorm running statistics and no dropout; ``mode="train"`` follows the
    authors' code (batch statistics per micro-batch; dropout masks fixed per micro-batch). With
    ``generator=None`` the random start and dropout seeds come from seed 0, so calls agree. The
    model leaves as it came: modes, buffers and ``.grad`` untouched.
    """
    if sharpness is not None and sharpness not in SOLVERS:
        raise ValueError(f"sharpness must be one of {sorted(SOLVERS)} or None, not {sharpness!r}")
    require_reiterable(batches)
    started = time.perf_counter()
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    dropout_seed = int(torch.randint(2**62, (), generator=generator)) if mode == "train" else None
    with measuring_mode(model, mode):
        sums, sigma, noise_method = _noise(model, batches, loss_fn, noise, mode, dropout_seed)
        eigen = EigenResult(math.nan, False, 0, math.nan)
        if sharpness is not None:
            matvec = partial(hvp, model, batches, loss_fn=loss_fn, dropout_seed=dropout_seed)
            start = _random_start(model, generator)
            eigen = _sharpness(matvec, start, sharpness, sharpness_rtol, max_hvps)
    top = eigen.value if eigen.converged else math.nan
    return Statistics(
        loss=sums.mean_loss,
        grad_norm=float(sums.mean_grad.norm()),
        noise=sigma,
        sharpness=abs(top),
        top_eigenvalue=top,
        samples=sums.samples,
        tokens=sums.tokens,
        hvps=eigen.matvecs,
        sharpness_converged=eigen.converged,
        sharpness_residual=eigen.residual,
        noise_method=noise_method,
        mode=mode,
        seconds=time.perf_counter() - started,
    )

"""The four statistics of the paper (eq. 2) at a checkpoint, over a fixed set of m samples."""

import math
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn

from .gradient_sums import GroupedSums, plain_pass
from .hessian import EigenResult, hvp, top_eigenvalue_lanczos, top_eigenvalue_power
from .jackknife import (
    SE_GROUPS,
    NoiseLeaveOut,
    centred_leave_out,
    centred_noise,
    minibatch_leave_out,
    minibatch_noise,
    one_pass_noise,
    standard_errors,
)
from .losses import LossFn, summed_cross_entropy
from .microbatches import Batch, micro_batch_count, require_reiterable, trainable_parameters
from .minibatch_spread import MinibatchSpread
from .model_state import measuring_mode
from .per_sample_norms import per_sample_pass
from .per_token import per_token_noise, per_token_pass
from .progress import Progress, phase
from .vmap_fallback import centred_sq_norms

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
    "per_token" (σ over the target tokens of a language model, not its segments), "minibatch" or
    "none"; ``samples`` counts sequences and ``tokens`` the targets in the loss.

    ``loss_se``, ``grad_norm_se`` and ``noise_se`` are standard errors by the delete-a-group
    jackknife over ``se_groups`` contiguous groups of micro-batches (fewer groups than requested
    when there are fewer micro-batches; NaN for one, and ``noise_se`` for ``noise=None``).
    ``sharpness_bound`` bounds the distance from ``top_eigenvalue`` to an eigenvalue of the
    Hessian: the solver's residual ‖Hy − θy‖ (relative residual × |θ|); NaN where it is.
    """

    loss: float
    grad_norm: float
    noise: float
    sharpness: float
    top_eigenvalue: float
    loss_se: float
    grad_norm_se: float
    noise_se: float
    sharpness_bound: float
    se_groups: int
    samples: int
    tokens: int
    hvps: int
    sharpness_converged: bool
    sharpness_residual: float
    noise_method: str
    mode: str
    seconds: float


def _noise(
    model, batches, loss_fn, noise, mode, dropout_seed, groups, phases
) -> tuple[GroupedSums, float, str, NoiseLeaveOut | None]:
    """The gradient sums per group, σ by the requested method, and σ without one group."""
    count = micro_batch_count(batches)
    gradients = phases("gradients", count)
    if noise == "per_sample":
        if mode != "eval":
            raise ValueError(
                "per-sample noise needs mode='eval': train-mode BatchNorm mixes samples"
            )
        grouped = per_sample_pass(model, batches, loss_fn, groups=groups, phase=gradients)
        sums = grouped.scalars()
        if sums.mean_grad_sq <= CENTRED_PASS_RATIO * sums.mean_sq_norm:
            return grouped, one_pass_noise(sums), "per_sample", lambda g, rest: one_pass_noise(rest)
        centre = grouped.total.grad / sums.samples
        norms = centred_sq_norms(model, batches, loss_fn, centre, phases("centred", count))
        centred = grouped.per_group(norms)
        leave_out = partial(centred_leave_out, grouped, centred)
        return grouped, centred_noise(sums, math.fsum(centred)), "per_sample_centred", leave_out
    if noise == "per_token":
        if mode != "eval":
            raise ValueError("per-token noise needs mode='eval': dropout would differ per token")
        grouped = per_token_pass(model, batches, loss_fn, groups=groups, phase=gradients)
        leave_out = lambda g, rest: per_token_noise(rest)  # noqa: E731
        return grouped, per_token_noise(grouped.scalars()), "per_token", leave_out
    if noise == "minibatch":
        spread = MinibatchSpread()
        grouped = plain_pass(
            model,
            batches,
            loss_fn,
            groups=groups,
            dropout_seed=dropout_seed,
            spread=spread,
            phase=gradients,
        )
        leave_out = partial(minibatch_leave_out, spread, grouped)
        return grouped, minibatch_noise(spread, grouped), "minibatch", leave_out
    if noise is None:
        grouped = plain_pass(
            model, batches, loss_fn, groups=groups, dropout_seed=dropout_seed, phase=gradients
        )
        return grouped, math.nan, "none", None
    raise ValueError(f"noise must be 'per_sample', 'per_token', 'minibatch' or None, not {noise!r}")


def _random_start(model: nn.Module, generator: torch.Generator) -> torch.Tensor:
    """A seeded Gaussian vector shaped like the flat trainable parameters."""
    params = trainable_parameters(model)
    start = torch.randn(sum(p.numel() for p in params), generator=generator, dtype=torch.float64)
    return start.to(device=params[0].device, dtype=params[0].dtype)


def _sharpness(matvec, start, method: str, rtol: float, max_hvps: int, phase) -> EigenResult:
    """The Hessian eigenvalue of largest magnitude; warns when it misses the tolerance."""
    result = SOLVERS[method](matvec, start, rtol=rtol, max_matvecs=max_hvps, phase=phase)
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
    se_groups: int = SE_GROUPS,
    hessian_batches: Iterable[Batch] | None = None,
    progress: Progress | None = None,
    resume: dict[str, dict] | None = None,
) -> Statistics:
    """Loss, ‖ḡ‖, σ and ‖∇²L‖ over the samples of ``batches`` (re-iterable (inputs, targets)),
    with standard errors.

    ``mode="eval"`` uses BatchNorm running statistics and no dropout; ``mode="train"`` follows the
    authors' code (batch statistics per micro-batch; dropout masks fixed per micro-batch). With
    ``generator=None`` the random start and dropout seeds come from seed 0, so calls agree. The
    model leaves as it came: modes, buffers and ``.grad`` untouched. Micro-batch k of K belongs
    to jackknife group ⌊k·G/K⌋, G = min(se_groups, K): give at least ``se_groups`` micro-batches
    (at most ceil(m/se_groups) samples each) for that many groups. ``hessian_batches``, if
    given, holds the same samples in larger micro-batches for the Hessian-vector products, whose
    cost falls with fewer, larger batches and which need no groups; the sharpness is that of
    the samples they hold (a prefix of ``batches``' samples, say). In train mode their
    micro-batches are BatchNorm's batches: give them the size of ``batches``' micro-batches.

    ``progress`` hears of every micro-batch and Hessian-vector product, with the state to resume
    from at the end of each group of micro-batches and each solver step; ``resume`` continues
    from such states (``estimators.progress``), with the result of an uninterrupted call.
    """
    if se_groups < 2:
        raise ValueError(f"se_groups must be at least 2, not {se_groups}")
    if sharpness is not None and sharpness not in SOLVERS:
        raise ValueError(f"sharpness must be one of {sorted(SOLVERS)} or None, not {sharpness!r}")
    require_reiterable(batches)
    started = time.perf_counter()
    phases = partial(phase, progress=progress, resume=resume)
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    dropout_seed = int(torch.randint(2**62, (), generator=generator)) if mode == "train" else None
    with measuring_mode(model, mode):
        grouped, sigma, noise_method, noise_leave_out = _noise(
            model, batches, loss_fn, noise, mode, dropout_seed, se_groups, phases
        )
        eigen = EigenResult(math.nan, False, 0, math.nan)
        if sharpness is not None:
            hessian = batches if hessian_batches is None else hessian_batches
            require_reiterable(hessian)
            matvec = partial(hvp, model, hessian, loss_fn=loss_fn, dropout_seed=dropout_seed)
            start = _random_start(model, generator)
            solver = phases("sharpness", max_hvps)
            eigen = _sharpness(matvec, start, sharpness, sharpness_rtol, max_hvps, solver)
    top = eigen.value if eigen.converged else math.nan
    sums = grouped.scalars()
    loss_se, grad_norm_se, noise_se = standard_errors(grouped, noise_leave_out)
    return Statistics(
        loss=sums.mean_loss,
        grad_norm=math.sqrt(sums.mean_grad_sq),
        noise=sigma,
        sharpness=abs(top),
        top_eigenvalue=top,
        loss_se=loss_se,
        grad_norm_se=grad_norm_se,
        noise_se=noise_se,
        # For a symmetric operator an eigenvalue lies within ‖Hy − θy‖ of the Ritz value θ.
        sharpness_bound=eigen.residual * abs(top),
        se_groups=grouped.groups,
        samples=sums.samples,
        tokens=sums.tokens,
        hvps=eigen.matvecs,
        sharpness_converged=eigen.converged,
        sharpness_residual=eigen.residual,
        noise_method=noise_method,
        mode=mode,
        seconds=time.perf_counter() - started,
    )

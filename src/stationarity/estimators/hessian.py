"""Hessian-vector products of the mean loss, and its eigenvalue of largest magnitude.

Both solvers take any symmetric ``matvec`` on flat vectors and stop on a residual bound, which
for a symmetric matrix bounds the distance from the estimate to an eigenvalue (Krylov–Weinstein):
power iteration stops when ‖Hv − λv‖ ≤ rtol·|λ| (not on the change of λ, which stops early when
|λ₂/λ₁| is close to 1); Lanczos stops when the Ritz pair's residual β_j·|s_j| ≤ rtol·|θ|.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

import torch
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from .losses import LossFn, summed_cross_entropy
from .microbatches import Batch, flatten, on_device, trainable_parameters
from .progress import Phase

MatVec = Callable[[Tensor], Tensor]


@dataclass
class EigenResult:
    """The eigenvalue estimate (signed), whether it met the tolerance, and its cost."""

    value: float
    converged: bool
    matvecs: int
    residual: float  # ‖Hy − θy‖ / |θ| at the last step
    history: list[float] = field(default_factory=list)  # the estimate after each matvec
    residuals: list[float] = field(default_factory=list)  # and its relative residual


def hvp(
    model: nn.Module,
    batches: Iterable[Batch],
    vector: Tensor,
    *,
    loss_fn: LossFn = summed_cross_entropy,
    dropout_seed: int | None = None,
) -> Tensor:
    """H·v for the mean loss over all batches, by double backward one micro-batch at a time."""
    params = trainable_parameters(model)
    sizes = [p.numel() for p in params]
    pieces = [v.view_as(p) for v, p in zip(vector.split(sizes), params, strict=True)]
    product = torch.zeros_like(vector)
    count = torch.zeros((), dtype=torch.int64, device=vector.device)
    for inputs, targets in on_device(batches, vector.device, dropout_seed):
        # The fused attention kernels have no double backward; the math one does.
        with sdpa_kernel(SDPBackend.MATH):
            loss, batch_count = loss_fn(model(inputs), targets)
        grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
        pairing = sum((g * v).sum() for g, v in zip(grads, pieces, strict=True) if g is not None)
        second = torch.autograd.grad(pairing, params, allow_unused=True, materialize_grads=True)
        product += flatten(second)
        count += batch_count
    return product / count


def _dot(a: Tensor, b: Tensor) -> float:
    return float(a.double() @ b.double())


def _relative(residual: float, value: float) -> float:
    return residual / abs(value) if value else (0.0 if residual == 0 else float("inf"))


def _on(saved: list[Tensor], like: Tensor) -> list[Tensor]:
    return [v.to(device=like.device, dtype=like.dtype) for v in saved]


def top_eigenvalue_power(
    matvec: MatVec,
    start: Tensor,
    *,
    rtol: float = 1e-3,
    max_matvecs: int = 100,
    phase: Phase | None = None,
) -> EigenResult:
    """Power iteration for the eigenvalue of largest magnitude, stopped on the residual;
    resumable by ``phase`` after any matvec."""
    v = start / start.norm()
    history: list[float] = []
    residuals: list[float] = []
    if phase is not None and phase.saved is not None:
        (v,) = _on([phase.saved["vector"]], start)
        history, residuals = list(phase.saved["history"]), list(phase.saved["residuals"])
    value, residual = float("nan"), float("inf")
    _start(phase, len(history))
    for step in range(len(history) + 1, max_matvecs + 1):
        w = matvec(v)
        value = _dot(v, w)
        residual = _relative(float((w - value * v).norm()), value)
        history.append(value)
        residuals.append(residual)
        if residual <= rtol:
            _finish(phase, step)
            return EigenResult(value, True, step, residual, history, residuals)
        v = w / w.norm()
        if phase is not None:
            saved = {"vector": v, "history": list(history), "residuals": list(residuals)}
            phase.report(step, lambda saved=saved: saved)
    _finish(phase, max_matvecs)
    return EigenResult(value, False, max_matvecs, residual, history, residuals)


def top_eigenvalue_lanczos(
    matvec: MatVec,
    start: Tensor,
    *,
    rtol: float = 1e-3,
    max_matvecs: int = 100,
    phase: Phase | None = None,
) -> EigenResult:
    """Lanczos with full reorthogonalisation for the eigenvalue of largest magnitude; resumable
    by ``phase`` after any matvec.

    The basis holds one vector per matvec, so memory grows by one parameter vector per step.
    """
    basis = [start / start.norm()]
    alphas: list[float] = []
    betas: list[float] = []
    history: list[float] = []
    residuals: list[float] = []
    if phase is not None and phase.saved is not None:
        basis = _on(phase.saved["basis"], start)
        alphas, betas = list(phase.saved["alphas"]), list(phase.saved["betas"])
        history, residuals = list(phase.saved["history"]), list(phase.saved["residuals"])
    value, residual = float("nan"), float("inf")
    _start(phase, len(alphas))
    for step in range(len(alphas) + 1, max_matvecs + 1):
        w = matvec(basis[-1])
        alphas.append(_dot(basis[-1], w))
        # Twice is enough: one classical Gram–Schmidt sweep leaves rounding-level components.
        for _ in range(2):
            for q in basis:
                w -= (q @ w) * q
        beta = float(w.norm())
        tridiagonal = torch.diag(torch.tensor(alphas, dtype=torch.float64))
        if betas:
            off = torch.tensor(betas, dtype=torch.float64)
            tridiagonal += torch.diag(off, 1) + torch.diag(off, -1)
        thetas, vectors = torch.linalg.eigh(tridiagonal)
        top = int(thetas.abs().argmax())
        value = float(thetas[top])
        residual = _relative(beta * abs(float(vectors[-1, top])), value)
        history.append(value)
        residuals.append(residual)
        if residual <= rtol:
            _finish(phase, step)
            return EigenResult(value, True, step, residual, history, residuals)
        betas.append(beta)
        basis.append(w / beta)
        if phase is not None:
            phase.report(step, partial(_lanczos_state, basis, alphas, betas, history, residuals))
    _finish(phase, max_matvecs)
    return EigenResult(value, False, max_matvecs, residual, history, residuals)


def _start(phase: Phase | None, steps: int) -> None:
    if phase is not None:
        phase.report(steps)


def _finish(phase: Phase | None, steps: int) -> None:
    if phase is not None:
        phase.finish(steps)


def _lanczos_state(basis, alphas, betas, history, residuals) -> dict:
    """Lanczos's state after a step (the lists are copied: they keep growing; the vectors stay
    where they are, never changed, and a save streams them one at a time)."""
    return {
        "basis": list(basis),
        "alphas": list(alphas),
        "betas": list(betas),
        "history": list(history),
        "residuals": list(residuals),
    }

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
from torch.func import functional_call, grad, jvp
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


def _double_backward(model, params, pieces, inputs, targets, loss_fn) -> tuple[Tensor, Tensor]:
    """H·v of one micro-batch's summed loss by differentiating ⟨∇L, v⟩, and its loss terms."""
    # The fused attention kernels have no double backward; the math one does.
    with sdpa_kernel(SDPBackend.MATH):
        loss, count = loss_fn(model(inputs), targets)
    grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
    pairing = sum((g * v).sum() for g, v in zip(grads, pieces, strict=True) if g is not None)
    second = torch.autograd.grad(pairing, params, allow_unused=True, materialize_grads=True)
    return flatten(second), count


def _forward_over_reverse(model, params, pieces, inputs, targets, loss_fn):
    """H·v of one micro-batch's summed loss as the forward-mode derivative of ∇L along v."""
    names = [name for name, p in model.named_parameters() if p.requires_grad]

    def summed_loss(values: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        with sdpa_kernel(SDPBackend.MATH):
            return loss_fn(functional_call(model, values, (inputs,)), targets)

    primals = {name: p.detach() for name, p in zip(names, params, strict=True)}
    tangents = dict(zip(names, pieces, strict=True))
    gradient = grad(summed_loss, has_aux=True)
    _, second, count = jvp(gradient, (primals,), (tangents,), has_aux=True)
    return flatten(second[name] for name in names), count


HVP_METHODS = {
    "double_backward": _double_backward,
    "forward_over_reverse": _forward_over_reverse,
}


def hvp(
    model: nn.Module,
    batches: Iterable[Batch],
    vector: Tensor,
    *,
    loss_fn: LossFn = summed_cross_entropy,
    dropout_seed: int | None = None,
    method: str = "double_backward",
) -> Tensor:
    """H·v for the mean loss over all batches, one micro-batch at a time, by double backward
    or forward-over-reverse (``method``, one of ``HVP_METHODS``)."""
    product_of = HVP_METHODS[method]
    params = trainable_parameters(model)
    sizes = [p.numel() for p in params]
    pieces = [v.view_as(p) for v, p in zip(vector.split(sizes), params, strict=True)]
    product = torch.zeros_like(vector)
    count = torch.zeros((), dtype=torch.int64, device=vector.device)
    for inputs, targets in on_device(batches, vector.device, dropout_seed):
        batch_product, batch_count = product_of(model, params, pieces, inputs, targets, loss_fn)
        product += batch_product
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


def basis_device(
    device: torch.device, vector_bytes: int, max_matvecs: int, free_bytes: int | None
) -> torch.device:
    """Where a Lanczos basis of up to ``max_matvecs`` vectors lives: beside the model, unless it
    would take more than half the accelerator's free memory (``free_bytes``; None: not an
    accelerator), which the model's activations need; then on the host."""
    if free_bytes is None or max_matvecs * vector_bytes <= free_bytes / 2:
        return device
    return torch.device("cpu")


def _free_bytes(device: torch.device) -> int | None:
    return torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else None


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

    The basis holds one vector per matvec, so memory grows by one parameter vector per step; it
    is kept on the host where it would not fit beside the model (``basis_device``).
    """
    vector_bytes = start.numel() * start.element_size()
    home = basis_device(start.device, vector_bytes, max_matvecs, _free_bytes(start.device))
    basis = [(start / start.norm()).to(home)]
    alphas: list[float] = []
    betas: list[float] = []
    history: list[float] = []
    residuals: list[float] = []
    if phase is not None and phase.saved is not None:
        basis = [q.to(device=home, dtype=start.dtype) for q in phase.saved["basis"]]
        alphas, betas = list(phase.saved["alphas"]), list(phase.saved["betas"])
        history, residuals = list(phase.saved["history"]), list(phase.saved["residuals"])
    value, residual = float("nan"), float("inf")
    _start(phase, len(alphas))
    for step in range(len(alphas) + 1, max_matvecs + 1):
        w = matvec(basis[-1].to(start.device)).to(home)
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

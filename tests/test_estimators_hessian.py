"""Hessian-vector products and the two eigenvalue solvers, on known matrices and small nets."""

import pytest
import torch
from estimator_models import TinyTransformer, dense_hessian, seeded, split, token_data

from stationarity.estimators import hvp, top_eigenvalue_lanczos, top_eigenvalue_power
from stationarity.estimators.hessian import basis_device

SOLVERS = {"lanczos": top_eigenvalue_lanczos, "power": top_eigenvalue_power}


def symmetric_with_spectrum(eigenvalues: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Q diag(λ) Qᵀ for a random orthogonal Q."""
    size = len(eigenvalues)
    q, _ = torch.linalg.qr(torch.randn(size, size, generator=seeded(seed), dtype=torch.float64))
    return q @ torch.diag(eigenvalues) @ q.T


def spectrum(top: float, second: float, size: int = 300, seed: int = 1) -> torch.Tensor:
    """``top`` and ``second`` followed by values spread inside ±|second|·0.95."""
    bulk = (torch.rand(size - 2, generator=seeded(seed), dtype=torch.float64) * 2 - 1) * 0.95
    return torch.cat([torch.tensor([top, second], dtype=torch.float64), bulk * abs(second)])


def _start(size: int) -> torch.Tensor:
    return torch.randn(size, generator=seeded(7), dtype=torch.float64)


@pytest.mark.parametrize("solver", sorted(SOLVERS))
@pytest.mark.parametrize("rtol", [1e-3, 1e-6])
def test_a_dominant_negative_eigenvalue_is_found_within_the_tolerance(solver, rtol):
    matrix = symmetric_with_spectrum(spectrum(-2.0, 1.6))

    result = SOLVERS[solver](lambda v: matrix @ v, _start(300), rtol=rtol, max_matvecs=300)

    assert result.converged
    assert abs(result.value + 2.0) <= rtol * 2.0
    assert result.residual <= rtol
    assert len(result.history) == len(result.residuals) == result.matvecs


def _both_solvers(second: float):
    """Lanczos and power iteration to 1e-3 on a spectrum with top 1.0 and the given runner-up."""
    matrix = symmetric_with_spectrum(spectrum(1.0, second))

    def matvec(v):
        return matrix @ v

    lanczos = top_eigenvalue_lanczos(matvec, _start(300), rtol=1e-3, max_matvecs=300)
    return lanczos, top_eigenvalue_power(matvec, _start(300), rtol=1e-3, max_matvecs=300)


def test_lanczos_needs_at_most_half_the_matvecs_of_power_on_a_small_gap():
    lanczos, power = _both_solvers(0.9)

    assert lanczos.converged and power.converged
    assert abs(lanczos.value - 1.0) <= 1e-3 and abs(power.value - 1.0) <= 1e-3
    assert power.matvecs >= 20
    assert 2 * lanczos.matvecs <= power.matvecs


def test_lanczos_needs_no_more_matvecs_than_power_on_a_large_gap():
    lanczos, power = _both_solvers(0.5)

    assert lanczos.matvecs <= power.matvecs


def test_a_relative_change_rule_would_stop_early_where_the_residual_rule_does_not():
    matrix = symmetric_with_spectrum(spectrum(1.0, 0.95))
    power = top_eigenvalue_power(lambda v: matrix @ v, _start(300), rtol=1e-3, max_matvecs=500)
    changes = [abs(b - a) / abs(a) for a, b in zip(power.history, power.history[1:], strict=False)]
    early = next(step for step, change in enumerate(changes, start=1) if change < 1e-3)

    assert abs(power.history[early] - 1.0) > 1e-3
    assert abs(power.value - 1.0) <= 1e-3


def test_lanczos_stops_exactly_on_an_invariant_subspace():
    matrix = torch.diag(torch.tensor([3.0, -1.0, 0.5], dtype=torch.float64))

    result = top_eigenvalue_lanczos(lambda v: matrix @ v, _start(3), rtol=1e-12, max_matvecs=10)

    assert result.converged and result.matvecs <= 3
    assert result.value == pytest.approx(3.0, rel=1e-12)


@pytest.mark.parametrize("method", ["double_backward", "forward_over_reverse"])
def test_hvp_matches_the_dense_hessian_across_uneven_micro_batches(method):
    torch.manual_seed(0)
    model = TinyTransformer().double().eval()
    inputs, targets = token_data(13, 5, 11, seed=2)
    hessian = dense_hessian(model, inputs, targets)
    vector = torch.randn(len(hessian), generator=seeded(3), dtype=torch.float64)

    product = hvp(model, split(inputs, targets, 5), vector, method=method)

    torch.testing.assert_close(product, hessian @ vector, rtol=1e-10, atol=1e-12)


def test_the_lanczos_basis_moves_to_the_host_only_when_it_would_crowd_the_accelerator():
    gpu, mib = torch.device("cuda", 0), 2**20
    # 100 vectors of 170 MiB (ResNet-101 in float32) take 16.6 GiB: more than half of 30 GiB.
    assert basis_device(gpu, 170 * mib, 100, 30 * 1024 * mib) == torch.device("cpu")
    assert basis_device(gpu, 170 * mib, 100, 40 * 1024 * mib) == gpu
    assert basis_device(torch.device("cpu"), 170 * mib, 100, None) == torch.device("cpu")

"""The mini-batch noise estimate with the finite-population factor is unbiased over partitions."""

import pytest
import torch
from estimator_models import image_data, mlp, seeded, split

from stationarity.estimators import estimate
from stationarity.estimators.gradient_sums import GradientSums, GroupedSums
from stationarity.estimators.gram import gram_matrix
from stationarity.estimators.losses import summed_cross_entropy
from stationarity.estimators.minibatch_spread import MinibatchSpread

PARTITIONS = 2000


@pytest.fixture(scope="module")
def per_sample_gradients():
    """Float64 per-sample gradients G_i (one target per sample, so g_i = G_i) of a small MLP."""
    torch.manual_seed(0)
    model = mlp().double().eval()
    inputs, targets = image_data(50, (6,), 3, seed=1)
    inputs = inputs.double()
    params = list(model.parameters())
    grads = []
    for x, y in zip(inputs, targets, strict=True):
        loss, _ = summed_cross_entropy(model(x[None]), y[None])
        grads.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)]))
    return model, inputs, targets, torch.stack(grads)


def _spread_estimate(grads: torch.Tensor, order: torch.Tensor, size: int) -> float:
    m = len(grads)
    spread = MinibatchSpread()
    cells = {}  # one group; a cell per micro-batch size
    for chunk in order.split(size):
        key, batch = (0, len(chunk)), grads[chunk].sum(0)
        spread.add(batch, len(chunk), key)
        cell = GradientSums(0.0, len(chunk), len(chunk), batch)
        cells[key] = cells[key] + cell if key in cells else cell
    vectors = [cell.grad for cell in cells.values()] + [spread.first]
    gram = gram_matrix(vectors, grads.device)
    assert sum(cell.samples for cell in cells.values()) == m
    return spread.variance(GroupedSums(cells, [0] * len(cells), grads.device, gram))


def _exact_variance(grads: torch.Tensor) -> float:
    return float((grads - grads.mean(0)).square().sum(1).mean())


def _partition_estimates(grads: torch.Tensor, size: int) -> torch.Tensor:
    """σ̂² for many random partitions into micro-batches of ``size`` (the last may be smaller)."""
    generator = seeded(2)
    m = len(grads)
    orders = (torch.randperm(m, generator=generator) for _ in range(PARTITIONS))
    return torch.tensor([_spread_estimate(grads, order, size) for order in orders])


@pytest.mark.parametrize("m", [48, 50])  # 50: the last micro-batch is smaller
def test_minibatch_variance_is_unbiased_over_random_partitions(per_sample_gradients, m):
    grads = per_sample_gradients[3][:m]

    estimates = _partition_estimates(grads, size=8)

    standard_error = float(estimates.std()) / PARTITIONS**0.5
    assert abs(float(estimates.mean()) - _exact_variance(grads)) <= 4 * standard_error


def test_without_the_factor_the_bias_is_visible(per_sample_gradients):
    grads, m, size = per_sample_gradients[3][:48], 48, 8

    # b·mean‖g_k − ḡ‖², as in the authors' code: the estimate without b(m−1)/(m−b).
    plain_spread = _partition_estimates(grads, size) * (m - size) / (m - 1)

    standard_error = float(plain_spread.std()) / PARTITIONS**0.5
    bias = float(plain_spread.mean()) / _exact_variance(grads) - 1
    assert abs(bias + (size - 1) / (m - 1)) * _exact_variance(grads) <= 4 * standard_error


def test_estimate_reports_the_spread_of_its_micro_batches(per_sample_gradients):
    model, inputs, targets, grads = per_sample_gradients
    order = torch.randperm(48, generator=seeded(5))

    stats = estimate(
        model, split(inputs[order], targets[order], 8), noise="minibatch", sharpness=None
    )

    assert stats.noise**2 == pytest.approx(_spread_estimate(grads[order], torch.arange(48), 8))


def test_a_single_micro_batch_is_refused(per_sample_gradients):
    model, inputs, targets, _ = per_sample_gradients
    with pytest.raises(ValueError, match="two micro-batches"):
        estimate(model, split(inputs, targets, 64), noise="minibatch", sharpness=None)


def test_the_shifted_norms_of_float32_sums_are_summed_in_float64():
    first, second = torch.randn(2, 2**22, generator=seeded(3))
    spread = MinibatchSpread()

    spread.add(first, 8, (0, 8))
    spread.add(second, 8, (0, 8))

    exact = float(((second.double() - first.double()) / 8).square().sum())
    assert float(spread.sq_norms[(0, 8)]) == pytest.approx(exact, rel=1e-7)

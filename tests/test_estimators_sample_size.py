"""The sample-size study runs on nested subsets, the largest being the whole set."""

import pytest
import torch
from estimator_models import image_data, mlp, seeded
from torch.utils.data import Subset, TensorDataset

from stationarity.estimators import estimate, nested_subsets, sample_size_study


def test_subsets_are_nested_and_the_largest_is_everything():
    sizes = [5, 10, 20, 40]

    subsets = nested_subsets(40, sizes, seeded(0))

    assert [len(s) for s in subsets] == sizes
    for smaller, larger in zip(subsets, subsets[1:], strict=False):
        assert set(smaller.tolist()) <= set(larger.tolist())
    assert sorted(subsets[-1].tolist()) == list(range(40))


def test_sizes_beyond_the_data_set_are_refused():
    with pytest.raises(ValueError, match="sizes"):
        nested_subsets(10, [5, 11], seeded(0))


def test_each_row_is_the_estimate_on_its_subset():
    torch.manual_seed(0)
    model = mlp().double().eval()
    inputs, targets = image_data(40, (6,), 3, seed=1)
    dataset = TensorDataset(inputs.double(), targets)
    sizes = [8, 16, 40]

    table = sample_size_study(model, dataset, sizes, micro_batch=8, seed=3, sharpness=None)

    assert table["size"].tolist() == sizes
    assert table["samples"].tolist() == sizes
    subsets = nested_subsets(len(dataset), sizes, seeded(3))
    for row, subset in zip(table.itertuples(), subsets, strict=True):
        loader = torch.utils.data.DataLoader(Subset(dataset, subset.tolist()), batch_size=8)
        stats = estimate(model, loader, sharpness=None)
        assert row.noise == pytest.approx(stats.noise, rel=1e-12)
        assert row.grad_norm == pytest.approx(stats.grad_norm, rel=1e-12)
    whole = estimate(model, [(dataset.tensors[0], dataset.tensors[1])], sharpness=None)
    assert table["loss"].iloc[-1] == pytest.approx(whole.loss, rel=1e-12)
    assert table["noise"].iloc[-1] == pytest.approx(whole.noise, rel=1e-12)

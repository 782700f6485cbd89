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


def test_sharpness_only_at_its_own_sizes():
    model = mlp().eval()
    inputs, targets = image_data(40, (6,), 3, seed=1)
    dataset = TensorDataset(inputs, targets)

    table = sample_size_study(model, dataset, [8, 16, 40], micro_batch=8, sharpness_sizes=[16])

    assert table.sharpness.isna().tolist() == [True, False, True]
    assert table.hvps.tolist()[0] == table.hvps.tolist()[2] == 0
    assert table.noise.notna().all()


def test_a_resumed_study_equals_an_uninterrupted_one():
    model = mlp().eval()
    inputs, targets = image_data(40, (6,), 3, seed=1)
    dataset = TensorDataset(inputs, targets)
    options = {"micro_batch": 8, "se_groups": 2, "sharpness_rtol": 1e-6}
    whole = sample_size_study(model, dataset, [8, 16, 40], **options)

    saved: dict[str, dict] = {}

    def stop_in_the_second_size(phase, done, total, snapshot):
        if snapshot is not None:
            # A phase's state replaces those under it, as the estimate job keeps them.
            for key in [k for k in saved if k.startswith(phase + "/")]:
                del saved[key]
            saved[phase] = snapshot()
        if phase == "sizes/16/sharpness" and done == 2:
            raise InterruptedError

    with pytest.raises(InterruptedError):
        sample_size_study(model, dataset, [8, 16, 40], progress=stop_in_the_second_size, **options)
    assert len(saved["sizes"]["rows"]) == 1 and "sizes/16/sharpness" in saved
    resumed = sample_size_study(model, dataset, [8, 16, 40], resume=saved, **options)

    columns = [c for c in whole if c != "seconds"]
    assert resumed[columns].equals(whole[columns])

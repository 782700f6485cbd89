"""Standard errors: the jackknife against leave-one-group-out recomputation, its calibration over
random subsets, the sharpness bound, and the se and bound columns of the tidy tables."""

import math
from dataclasses import asdict

import pandas as pd
import pytest
import torch
from estimator_models import float64, image_data, mlp, seeded, split, top_dense_eigenvalue
from torch import nn
from torch.utils.data import TensorDataset

from stationarity.estimators import estimate, group_micro_batch, sample_size_study
from stationarity.jobs.estimate import estimate_micro_batch
from stationarity.tables import run_table, split_kinds, tidy_iterations, tidy_statistics

KEYS = ("loss", "grad_norm", "noise")
pytestmark = pytest.mark.usefixtures(float64.__name__)


def _jackknife(values: list[float]) -> float:
    values = torch.tensor(values)
    count = len(values)
    return float(((count - 1) / count * (values - values.mean()).square().sum()).sqrt())


def _leave_one_group_out(model, batches, groups: int, **options) -> dict[str, float]:
    """The jackknife by brute force: ``estimate`` on the micro-batches outside each group."""
    assignment = [k * groups // len(batches) for k in range(len(batches))]
    values: dict[str, list[float]] = {key: [] for key in KEYS}
    for g in range(groups):
        rest = [batch for batch, a in zip(batches, assignment, strict=True) if a != g]
        stats = estimate(model, rest, sharpness=None, **options)
        for key in KEYS:
            values[key].append(getattr(stats, key))
    return {key: _jackknife(found) for key, found in values.items()}


def _near_identical(count: int, spread: float):
    generator = seeded(4)
    inputs = torch.randn(1, 6, generator=generator) + spread * torch.randn(
        count, 6, generator=generator
    )
    return inputs, torch.zeros(count, dtype=torch.long)


@pytest.mark.parametrize(
    ("noise", "method", "micro_batch", "se_groups", "groups"),
    [
        ("per_sample", "per_sample", 4, 4, 4),  # 10 micro-batches, the last of 2 samples
        ("per_sample", "per_sample", 8, 16, 5),  # 5 micro-batches: 5 groups
        ("per_sample", "per_sample_centred", 4, 4, 4),
        ("minibatch", "minibatch", 4, 4, 4),  # the last micro-batch has a size of its own
    ],
)
def test_jackknife_equals_leave_one_group_out(noise, method, micro_batch, se_groups, groups):
    torch.manual_seed(0)
    model = mlp().eval()
    if method == "per_sample_centred":
        inputs, targets = _near_identical(38, 1e-3)
    else:
        inputs, targets = image_data(38, (6,), 3, seed=1)
    batches = split(inputs, targets, micro_batch)

    stats = estimate(model, batches, noise=noise, sharpness=None, se_groups=se_groups)

    reference = _leave_one_group_out(model, batches, groups, noise=noise)
    assert stats.noise_method == method
    assert stats.se_groups == groups
    for key in KEYS:
        found = getattr(stats, f"{key}_se")
        assert math.isfinite(found) and found > 0, key
        assert found == pytest.approx(reference[key], rel=1e-7), key


def test_without_noise_the_noise_has_no_error():
    model = mlp().eval()
    inputs, targets = image_data(32, (6,), 3, seed=1)

    stats = estimate(model, split(inputs, targets, 4), noise=None, sharpness=None)

    assert stats.se_groups == 8
    assert math.isfinite(stats.loss_se) and math.isfinite(stats.grad_norm_se)
    assert math.isnan(stats.noise_se)


def test_one_micro_batch_has_no_errors_and_fewer_than_two_groups_are_refused():
    model = mlp().eval()
    inputs, targets = image_data(16, (6,), 3, seed=1)

    stats = estimate(model, split(inputs, targets, 16), sharpness=None)

    assert stats.se_groups == 1
    assert all(math.isnan(getattr(stats, f"{key}_se")) for key in KEYS)
    with pytest.raises(ValueError, match="se_groups"):
        estimate(model, split(inputs, targets, 4), sharpness=None, se_groups=1)


def test_micro_batches_are_cut_so_that_every_group_gets_its_own():
    assert group_micro_batch(2048, 512, 16) == 128
    assert group_micro_batch(160_000, 256, 16) == 256
    assert group_micro_batch(1797, 600, 16) == 113  # 16 micro-batches, the last of 102
    assert group_micro_batch(8, 64, 16) == 1
    statistics = {"samples": 2048, "micro_batch": 512, "seed": 0}
    assert estimate_micro_batch(statistics, 2048) == 128
    assert estimate_micro_batch({**statistics, "se_groups": 8}, 2048) == 256
    # In train mode a micro-batch is BatchNorm's batch: what is measured, so it stays.
    assert estimate_micro_batch({**statistics, "mode": "train"}, 2048) == 512


def test_the_sharpness_bound_contains_the_top_eigenvalue():
    torch.manual_seed(0)
    model = mlp().eval()
    inputs, targets = image_data(40, (6,), 3, seed=1)
    top = top_dense_eigenvalue(model, inputs, targets)

    stats = estimate(model, split(inputs, targets, 8), noise=None, sharpness_rtol=1e-2)
    skipped = estimate(model, split(inputs, targets, 8), noise=None, sharpness=None)

    assert stats.sharpness_converged
    assert 0 < stats.sharpness_bound <= 1e-2 * stats.sharpness
    assert abs(stats.top_eigenvalue - top) <= stats.sharpness_bound
    assert math.isnan(skipped.sharpness_bound)


def _tidy(stats) -> pd.DataFrame:
    run = {"experiment": "exp", "schedule": "const", "seed": 0, "step": 10, "epoch": 1.0}
    return tidy_statistics(pd.DataFrame([{**run, **asdict(stats)}])).set_index("statistic")


def test_the_tidy_table_has_an_error_for_every_statistic():
    model = mlp().eval()
    inputs, targets = image_data(40, (6,), 3, seed=1)
    stats = estimate(model, split(inputs, targets, 8), sharpness_rtol=1e-2)

    tidy = _tidy(stats)

    assert tidy.loc["loss", "se"] == stats.loss_se
    assert tidy.loc["noise", "se"] == stats.noise_se
    assert tidy.loc[list(KEYS), "se"].gt(0).all()
    assert tidy.loc[list(KEYS), "bound"].isna().all()
    assert tidy.loc[["sharpness", "top_eigenvalue"], "se"].isna().all()
    assert (tidy.loc[["sharpness", "top_eigenvalue"], "bound"] == stats.sharpness_bound).all()
    assert tidy.se_groups.eq(5).all()


def test_tables_without_errors_read_back_with_nan_errors(tmp_path):
    model = mlp().eval()
    inputs, targets = image_data(40, (6,), 3, seed=1)
    stats = asdict(estimate(model, split(inputs, targets, 8), sharpness=None))
    old = {key: value for key, value in stats.items() if "_se" not in key and "bound" not in key}
    run = {"experiment": "exp", "schedule": "const", "seed": 0, "step": 10, "epoch": 1.0}
    log = pd.DataFrame({"step": [0, 10], "epoch": [0, 1], "lr": 0.1, "loss": [1.0, 0.9]})
    tidy = tidy_statistics(pd.DataFrame([{**run, **old}]))
    table = run_table(tidy, pd.DataFrame(), tidy_iterations(log, "exp", "const", 0))
    table.drop(columns=["se", "bound"]).to_parquet(tmp_path / "old.parquet")

    frame = split_kinds(pd.read_parquet(tmp_path / "old.parquet"))["stats"]

    assert {"se", "bound"} <= set(frame.columns)
    assert frame.se.isna().all() and frame.bound.isna().all()
    assert frame.value.notna().sum() == 3


def test_every_row_of_the_sample_size_study_has_errors():
    torch.manual_seed(0)
    model = mlp().eval()
    inputs, targets = image_data(40, (6,), 3, seed=1)
    dataset = TensorDataset(inputs, targets)

    table = sample_size_study(
        model, dataset, [8, 40], micro_batch=64, seed=3, sharpness=None, se_groups=4
    )

    assert table.se_groups.tolist() == [4, 4]  # micro-batches of 2 and 10 samples
    assert table[[f"{key}_se" for key in KEYS]].gt(0).all().all()
    assert table.noise_se.iloc[0] > table.noise_se.iloc[1]
    options = dict(sharpness=None, se_groups=4, mode="train", noise="minibatch")
    trained = sample_size_study(model, dataset, [8, 40], micro_batch=4, seed=3, **options)
    assert trained.se_groups.tolist() == [2, 4]  # 2 and 10 micro-batches of 4 samples


# Calibration: the standard errors against the spread of the estimates over random subsets.
POPULATION, SUBSETS, M, MICRO_BATCH = 20_000, 200, 512, 32


def _population():
    """A teacher-labelled 3-class problem and a logistic regression away from the teacher."""
    generator = seeded(11)
    inputs = torch.randn(POPULATION, 8, generator=generator)
    teacher = torch.randn(8, 3, generator=generator)
    labels = torch.multinomial((inputs @ teacher).softmax(1), 1, generator=generator)[:, 0]
    model = nn.Linear(8, 3)
    with torch.no_grad():
        model.weight.copy_(teacher.T + torch.randn(3, 8, generator=generator))
        model.bias.zero_()
    return model.eval(), inputs, labels


def test_standard_errors_match_the_spread_over_random_subsets():
    model, inputs, labels = _population()
    full = estimate(model, split(inputs, labels, 2000), sharpness=None)
    generator = seeded(12)
    rows = []
    for _ in range(SUBSETS):
        chosen = torch.randperm(POPULATION, generator=generator)[:M]
        stats = estimate(model, split(inputs[chosen], labels[chosen], MICRO_BATCH), sharpness=None)
        rows.append(asdict(stats))
    found = pd.DataFrame(rows)

    assert found.se_groups.eq(16).all()
    for key in KEYS:
        spread = found[key].std()
        # Centred on the full-data value up to ‖ḡ‖'s bias, about σ²/(2m‖ḡ‖) = 0.4 sd here.
        assert abs(found[key].mean() - getattr(full, key)) <= spread, key
        assert found[f"{key}_se"].median() == pytest.approx(spread, rel=0.25), key


def test_hessian_batches_hold_the_same_samples_in_larger_micro_batches():
    model = mlp().eval()
    inputs, targets = image_data(40, (6,), 3, seed=1)
    fine, coarse = split(inputs, targets, 4), split(inputs, targets, 20)
    alone = estimate(model, fine, sharpness_rtol=1e-8, max_hvps=40)
    paired = estimate(model, fine, hessian_batches=coarse, sharpness_rtol=1e-8, max_hvps=40)
    assert paired.sharpness == pytest.approx(alone.sharpness, rel=1e-6)
    assert (paired.loss, paired.grad_norm, paired.se_groups) == (
        alone.loss, alone.grad_norm, alone.se_groups
    )  # fmt: skip


def test_sharpness_on_a_prefix_is_that_of_the_prefix_alone():
    model = mlp().eval()
    inputs, targets = image_data(40, (6,), 3, seed=1)
    prefix = split(inputs[:12], targets[:12], 4)
    whole = estimate(model, split(inputs, targets, 4), hessian_batches=prefix, sharpness_rtol=1e-8)
    alone = estimate(model, prefix, sharpness_rtol=1e-8)
    assert whole.sharpness == pytest.approx(alone.sharpness, rel=1e-6)
    assert whole.loss != pytest.approx(alone.loss)  # the other statistics keep all 40 samples

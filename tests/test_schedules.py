import math

import pytest

from stationarity.training.schedules import check_schedule, learning_rate

SPE = 10  # steps per epoch


def test_constant():
    spec = {"kind": "constant", "lr": 0.01}
    assert [learning_rate(spec, s, SPE) for s in (0, 9, 10, 10_000)] == [0.01] * 4


def test_step_every_30_epochs_like_the_imagenet_recipe():
    spec = {"kind": "step", "lr": 0.1, "gamma": 0.1, "every_epochs": 30}
    # epoch 29 ends at step 299; epoch 30 starts at step 300
    assert learning_rate(spec, 0, SPE) == pytest.approx(0.1)
    assert learning_rate(spec, 299, SPE) == pytest.approx(0.1)
    assert learning_rate(spec, 300, SPE) == pytest.approx(0.01)
    assert learning_rate(spec, 599, SPE) == pytest.approx(0.01)
    assert learning_rate(spec, 600, SPE) == pytest.approx(0.001)
    assert learning_rate(spec, 899, SPE) == pytest.approx(0.001)


def test_multistep_cifar_milestones():
    spec = {"kind": "multistep", "lr": 0.1, "gamma": 0.1, "milestones_epochs": [100, 150]}
    assert learning_rate(spec, 99 * SPE + 9, SPE) == pytest.approx(0.1)
    assert learning_rate(spec, 100 * SPE, SPE) == pytest.approx(0.01)
    assert learning_rate(spec, 149 * SPE + 9, SPE) == pytest.approx(0.01)
    assert learning_rate(spec, 150 * SPE, SPE) == pytest.approx(0.001)
    assert learning_rate(spec, 199 * SPE + 9, SPE) == pytest.approx(0.001)


def test_cosine_decays_per_step_and_stays_at_min_after_the_end():
    spec = {"kind": "cosine", "lr": 2.5e-4, "min_lr": 0.0, "total_steps": 200}
    assert learning_rate(spec, 0, SPE) == pytest.approx(2.5e-4)
    assert learning_rate(spec, 100, SPE) == pytest.approx(1.25e-4)
    # 0.5 * (1 + cos(pi/4)) = 0.853553...
    assert learning_rate(spec, 50, SPE) == pytest.approx(2.5e-4 * 0.8535533905932737)
    assert learning_rate(spec, 51, SPE) < learning_rate(spec, 50, SPE)  # not epoch-wise
    assert learning_rate(spec, 200, SPE) == pytest.approx(0.0)
    assert learning_rate(spec, 10_000, SPE) == pytest.approx(0.0)
    with_floor = {"kind": "cosine", "lr": 1.0, "min_lr": 0.1, "total_steps": 4}
    assert learning_rate(with_floor, 2, SPE) == pytest.approx(0.55)
    assert learning_rate(with_floor, 1, SPE) == pytest.approx(0.1 + 0.45 * (1 + math.sqrt(0.5)))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "linear", "lr": 0.1}, "unknown schedule kind 'linear'; allowed kinds: constant"),
        ({"lr": 0.1}, "unknown schedule kind None"),
        ({"kind": "step", "lr": 0.1, "gamma": 0.1}, "needs key(s) every_epochs"),
        ({"kind": "constant", "lr": 0.1, "gama": 0.1}, "unknown key(s) gama"),
        ({"kind": "constant", "lr": 0.0}, "lr must be > 0"),
        ({"kind": "step", "lr": 0.1, "gamma": 0.1, "every_epochs": 0}, "every_epochs"),
        (
            {"kind": "multistep", "lr": 0.1, "gamma": 0.1, "milestones_epochs": [150, 100]},
            "increasing list",
        ),
        ({"kind": "cosine", "lr": 0.1, "total_steps": 10, "min_lr": 1.0}, "min_lr"),
    ],
)
def test_check_schedule_names_the_problem(spec, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_schedule(spec)


def test_check_schedule_accepts_valid_specs_with_a_label():
    check_schedule({"kind": "constant", "lr": 0.1, "label": "constant 0.1"})
    check_schedule({"kind": "cosine", "lr": 0.1, "total_steps": 10})
    check_schedule({"kind": "multistep", "lr": 0.1, "gamma": 0.1, "milestones_epochs": [15, 22]})

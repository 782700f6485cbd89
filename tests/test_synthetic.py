"""The synthetic experiments against closed forms: Fig. 5's dynamics, Lemma 2, Theorem 1."""

from fractions import Fraction

import numpy as np
import pytest

from stationarity.synthetic import (
    gradient_descent,
    lemma2_orbit,
    lemma2_table,
    one_step_gain,
    sine_gradient,
    sine_loss,
    sine_table,
    theorem1_table,
)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    theta = rng.uniform(-4, 4, size=(50, 2))
    h = 1e-6
    for axis in range(2):
        step = np.zeros(2)
        step[axis] = h
        numeric = (sine_loss(theta + step) - sine_loss(theta - step)) / (2 * h)
        np.testing.assert_allclose(sine_gradient(theta)[:, axis], numeric, rtol=1e-7, atol=1e-6)


def test_gradient_descent_follows_the_update_rule():
    theta = gradient_descent(0.04, (1.0, 0.5), 10)
    for t in range(10):
        np.testing.assert_array_equal(theta[t + 1], theta[t] - 0.04 * sine_gradient(theta[t]))


def test_sine_table_columns_and_dtypes():
    table = sine_table([0.01, 0.04], (1.0, 0.5), 600)
    assert len(table) == 2 * 601
    for column in ("step_size", "theta1", "theta2", "loss", "grad_norm"):
        assert table[column].dtype == np.float64


def test_small_step_reaches_a_stationary_point_large_step_does_not():
    table = sine_table([0.01, 0.04], (1.0, 0.5), 2000)
    small = table[table.step_size == 0.01].grad_norm.to_numpy()
    large = table[table.step_size == 0.04].grad_norm.to_numpy()
    assert small[-500:].max() < 1e-8
    running = np.cumsum(large) / np.arange(1, len(large) + 1)
    assert running[-500:].min() > 10  # far from 0 on a function whose gradient is at most 100


@pytest.mark.parametrize("n", [1, 2, 5, 10, 37])
def test_lemma2_orbit_has_period_exactly_n_plus_1(n):
    orbit = lemma2_orbit(n, 3 * (n + 1))
    assert all(orbit[t] == orbit[t + n + 1] for t in range(2 * (n + 1)))
    assert len(set(orbit[: n + 1])) == n + 1  # no shorter period
    assert orbit[0] == Fraction(1, 5) / (n + 1)


def test_lemma2_window_change_never_vanishes_and_matches_closed_form():
    table = lemma2_table([2, 5, 10], periods=3)
    for n, run in table.groupby("n"):
        limsup = run.window_change.max()
        assert limsup == pytest.approx((0.8 * n - 0.2) / (n * (n + 1) ** 2), rel=1e-12)
        late = run[run.iteration > run.iteration.max() - (n + 1)]
        assert late.window_change.max() == pytest.approx(limsup)  # it recurs every period


def test_lemma2_rejects_non_positive_n():
    with pytest.raises(ValueError, match="positive integer n"):
        lemma2_orbit(0, 5)


def test_one_step_gain_matches_monte_carlo():
    rng = np.random.default_rng(1)
    theta = np.array([[1.0, 0.5], [-2.0, 0.3]])
    eta, s = 0.04, 10.0
    xi = rng.standard_normal((400_000, 1, 2))
    moved = theta - eta * (sine_gradient(theta) + s * xi)
    monte_carlo = sine_loss(theta) - sine_loss(moved).mean(axis=0)
    np.testing.assert_allclose(one_step_gain(theta, eta, s), monte_carlo, atol=0.3)


def test_theorem1_gain_falls_like_inverse_square_root():
    table = theorem1_table(0.04, 10.0, (1.0, 0.5), 20_000, list(range(8)), points=12)
    rms = table.groupby("n").gain.apply(lambda g: np.sqrt((g**2).mean()))
    big = rms[rms.index >= 100]
    slope = np.polyfit(np.log(big.index), np.log(big.to_numpy()), 1)[0]
    assert -0.8 < slope < -0.3

"""Theorem 1: for a stochastic update F, the time-averaged change E_{μ_n}[φ(θ) − φ(F(θ))] → 0.

The update is SGD on the sine landscape with Gaussian gradient noise, θ' = θ − η(∇f(θ) + sξ),
ξ ~ N(0, I), and φ = f. Since E[sin(u − ηsξ)] = sin(u)·exp(−η²s²/2), the expectation over F is
exact: E φ(F(θ)) = f(θ − η∇f(θ))·exp(−η²s²). So the only randomness left is the trajectory's.
"""

import numpy as np
import pandas as pd

from stationarity.synthetic.sine import sine_gradient, sine_loss


def sgd_trajectories(
    step_size: float, noise: float, start: tuple[float, float], iterations: int, seeds: list[int]
) -> np.ndarray:
    """Iterates θ₀ … θ_T of noisy gradient descent, one trajectory per seed: shape (S, T + 1, 2)."""
    xi = np.stack([np.random.default_rng(s).standard_normal((iterations, 2)) for s in seeds])
    theta = np.empty((len(seeds), iterations + 1, 2), dtype=np.float64)
    theta[:, 0] = start
    for t in range(iterations):  # all seeds advance together: one vectorised step per iteration
        theta[:, t + 1] = theta[:, t] - step_size * (sine_gradient(theta[:, t]) + noise * xi[:, t])
    return theta


def one_step_gain(theta: np.ndarray, step_size: float, noise: float) -> np.ndarray:
    """φ(θ) − E_F φ(F(θ)) at each iterate, in closed form."""
    drift = theta - step_size * sine_gradient(theta)
    return sine_loss(theta) - sine_loss(drift) * np.exp(-((step_size * noise) ** 2))


def theorem1_table(
    step_size: float,
    noise: float,
    start: tuple[float, float],
    iterations: int,
    seeds: list[int],
    points: int,
) -> pd.DataFrame:
    """|E_{μ_n}[φ(θ) − φ(F(θ))]| at log-spaced n for each seed, with the c·n^(−1/2) reference."""
    n = np.unique(np.geomspace(1, iterations, points).astype(np.int64))
    theta = sgd_trajectories(step_size, noise, start, iterations, seeds)[
        :, 1:
    ]  # θ₁ … θ_n as in μ_n
    running = np.cumsum(one_step_gain(theta, step_size, noise), axis=1) / np.arange(
        1, iterations + 1
    )
    frames = [
        pd.DataFrame({"seed": seed, "n": n, "gain": np.abs(running[i, n - 1])})
        for i, seed in enumerate(seeds)
    ]
    table = pd.concat(frames, ignore_index=True)
    # Anchor the n^(-1/2) line at √n times the RMS over seeds, taken as a median over the larger n.
    rms = np.sqrt(np.mean(np.abs(running[:, n - 1]) ** 2, axis=0))
    late = slice(len(n) // 2, None)
    table["reference"] = float(np.median((rms * np.sqrt(n))[late])) / np.sqrt(table.n)
    return table

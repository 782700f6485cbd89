"""Gradient descent on f(θ₁, θ₂) = A sin θ₁ sin θ₂ (paper Sec. 3, Fig. 5)."""

import numpy as np
import pandas as pd

# The paper's A: f is A-smooth and A-Lipschitz, so gradient descent converges iff η < 2/A.
AMPLITUDE = 100.0


def sine_loss(theta: np.ndarray, amplitude: float = AMPLITUDE) -> np.ndarray:
    """f(θ) = A sin θ₁ sin θ₂ for θ of shape (..., 2)."""
    return amplitude * np.sin(theta[..., 0]) * np.sin(theta[..., 1])


def sine_gradient(theta: np.ndarray, amplitude: float = AMPLITUDE) -> np.ndarray:
    """∇f(θ) = A (cos θ₁ sin θ₂, sin θ₁ cos θ₂) for θ of shape (..., 2)."""
    s, c = np.sin(theta), np.cos(theta)
    return amplitude * np.stack([c[..., 0] * s[..., 1], s[..., 0] * c[..., 1]], axis=-1)


def gradient_descent(
    step_size: float, start: tuple[float, float], iterations: int, amplitude: float = AMPLITUDE
) -> np.ndarray:
    """Iterates θ₀ … θ_T of θ ← θ − η∇f(θ), as an array of shape (T + 1, 2)."""
    theta = np.empty((iterations + 1, 2), dtype=np.float64)
    theta[0] = start
    for t in range(iterations):
        theta[t + 1] = theta[t] - step_size * sine_gradient(theta[t], amplitude)
    return theta


def sine_table(
    step_sizes: list[float],
    start: tuple[float, float],
    iterations: int,
    amplitude: float = AMPLITUDE,
) -> pd.DataFrame:
    """One row per (step size, iteration): θ, loss and gradient norm, all float64."""
    frames = []
    for eta in step_sizes:
        theta = gradient_descent(eta, start, iterations, amplitude)
        frames.append(
            pd.DataFrame(
                {
                    "step_size": np.full(len(theta), eta, dtype=np.float64),
                    "iteration": np.arange(len(theta), dtype=np.int64),
                    "theta1": theta[:, 0],
                    "theta2": theta[:, 1],
                    "loss": sine_loss(theta, amplitude),
                    "grad_norm": np.linalg.norm(sine_gradient(theta, amplitude), axis=1),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)

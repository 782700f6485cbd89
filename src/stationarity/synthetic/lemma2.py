"""Lemma 2: a 1-Lipschitz f whose unit-step GD orbit has period n+1; window-n averages never settle.

f(θ) = −θ/(n+1) for θ ≤ 0 and nθ/(n+1) for θ > 0; unit-step gradient descent from θ₀ = 0.2/(n+1).
The orbit is computed in exact rational arithmetic so that its period is exact, not up to rounding.
"""

from fractions import Fraction

import numpy as np
import pandas as pd


def lemma2_loss(theta: Fraction, n: int) -> Fraction:
    """The piecewise-linear objective of the lemma's proof (paper eq. 11)."""
    return -theta / (n + 1) if theta <= 0 else n * theta / (n + 1)


def lemma2_orbit(n: int, iterations: int) -> list[Fraction]:
    """Exact iterates θ₀ … θ_T of θ ← θ − f′(θ) from θ₀ = 0.2/(n+1)."""
    if n < 1:
        raise ValueError(f"Lemma 2 needs a positive integer n, got {n}")
    theta = [Fraction(1, 5) / (n + 1)]
    for _ in range(iterations):
        slope = Fraction(-1, n + 1) if theta[-1] <= 0 else Fraction(n, n + 1)
        theta.append(theta[-1] - slope)
    return theta


def lemma2_table(windows: list[int], periods: int) -> pd.DataFrame:
    """Per n: θ_t, f(θ_t), the window-n mean M_t, |M_t − M_{t−1}| and the proof's bound 1/(2n)."""
    frames = []
    for n in windows:
        iterations = periods * (n + 1) + n
        orbit = lemma2_orbit(n, iterations)
        loss = np.array([float(lemma2_loss(t, n)) for t in orbit])
        window_mean = np.convolve(loss, np.ones(n) / n, mode="valid")  # M_t for t = 0 … T−n+1
        change = np.abs(np.diff(window_mean, prepend=np.nan))
        t = np.arange(len(window_mean))
        frames.append(
            pd.DataFrame(
                {
                    "n": n,
                    "iteration": t,
                    "theta": [float(orbit[i]) for i in t],
                    "loss": loss[t],
                    "window_mean": window_mean,
                    "window_change": change,
                    "bound": 1.0 / (2 * n),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)

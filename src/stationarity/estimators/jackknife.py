"""Standard errors of L, ‖ḡ‖ and σ by the delete-a-group jackknife, from the passes already made.

The m samples arrive as K micro-batches in a fixed order; micro-batch k belongs to group
⌊k·G/K⌋ (G = min(``se_groups``, K)). The passes keep their sums per group (``GroupedSums``):
summed loss, loss terms, samples, Σ G_i as a vector on the host (float64 after a GPU pass, the
parameters' dtype after a CPU one) and Σ‖G_i‖². That is G parameter vectors of host memory:
16 × 44.5M × 8 B ≈ 5.7 GB for ResNet-101 in float64. Each statistic θ is recomputed from the
totals minus group g by the same formulas as the full estimate, θ_(−g), and norms of such sums
come from the float64 Gram matrix of the groups' sums, without forming a vector per group.

    se(θ)² = (G−1)/G · Σ_g (θ_(−g) − θ̄)²,   θ̄ = (1/G) Σ_g θ_(−g),

the spread of θ over draws of the m samples. The groups are contiguous runs of one seeded
shuffle, so they are random subsets; a non-random order (a corpus read in sequence) would make
neighbouring groups alike and the errors too small.
"""

import math
from collections.abc import Callable, Sequence

from .gradient_sums import GradientSums, GroupedSums
from .minibatch_spread import MinibatchSpread

SE_GROUPS = 16

# σ of everything but group g, from g and the sums of the rest.
NoiseLeaveOut = Callable[[int, GradientSums], float]


def jackknife_se(leave_outs: Sequence[float]) -> float:
    """√((G−1)/G · Σ_g (θ_(−g) − θ̄)²); NaN for fewer than two values or any NaN."""
    count = len(leave_outs)
    if count < 2:
        return math.nan
    mean = math.fsum(leave_outs) / count
    return math.sqrt((count - 1) / count * math.fsum((v - mean) ** 2 for v in leave_outs))


def one_pass_noise(sums: GradientSums) -> float:
    """σ = √(mean ‖∇ℓ_i‖² − ‖ḡ‖²), from Σ‖G_i‖² and Σ G_i."""
    return math.sqrt(max(sums.mean_sq_norm - sums.mean_grad_sq, 0.0))


def centred_noise(sums: GradientSums, centred: float) -> float:
    """σ from Σ_i ‖G_i − c‖² around the samples' own mean c = Σ G_i / m."""
    return math.sqrt(max(centred, 0.0) / sums.samples / sums.tokens_per_sample**2)


def centred_leave_out(
    grouped: GroupedSums, centred: list[float], g: int, rest: GradientSums
) -> float:
    """σ_(−g) from each group's Σ‖G_i − c‖² around the mean c of all m samples."""
    part, rest = grouped.group(g), grouped.leave_out(g)  # the vectors: the given rest has none
    # Σ_{i∉g} ‖G_i − c_(−g)‖² = Σ_{i∉g} ‖G_i − c‖² − m_(−g) ‖c_(−g) − c‖², and
    # c_(−g) − c = (m_g/m)(c_(−g) − c_g) is a difference of means, free of cancellation.
    weight = part.samples / (part.samples + rest.samples)
    offset = weight * (rest.grad / rest.samples - part.grad / part.samples)
    spread = math.fsum(centred) - centred[g] - rest.samples * float(offset @ offset)
    return centred_noise(rest, spread)


def minibatch_noise(spread: MinibatchSpread, grouped: GroupedSums) -> float:
    """σ̂ of the mini-batch estimator over all micro-batches."""
    return math.sqrt(max(spread.variance(grouped), 0.0))


def minibatch_leave_out(
    spread: MinibatchSpread, grouped: GroupedSums, g: int, rest: GradientSums
) -> float:
    """σ̂_(−g): the mini-batch estimator on the micro-batches outside group g (NaN for one)."""
    if sum(count for key, count in spread.counts.items() if key[0] != g) < 2:
        return math.nan
    return math.sqrt(max(spread.variance(grouped, leave_out=g), 0.0))


def standard_errors(
    grouped: GroupedSums, noise: NoiseLeaveOut | None
) -> tuple[float, float, float]:
    """Jackknife standard errors of L, ‖ḡ‖ and σ (NaN for σ without ``noise``, all for G < 2)."""
    losses, norms, sigmas = [], [], []
    for g in range(grouped.groups if grouped.groups > 1 else 0):
        rest = grouped.scalars(leave_out=g)  # ‖Σ G_i‖² from the Gram matrix, no vector
        losses.append(rest.mean_loss)
        norms.append(math.sqrt(rest.mean_grad_sq))
        sigmas.append(noise(g, rest) if noise is not None else math.nan)
    return jackknife_se(losses), jackknife_se(norms), jackknife_se(sigmas)

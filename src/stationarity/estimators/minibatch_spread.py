"""The mini-batch noise estimator: σ̂ from the spread of micro-batch gradients (the authors' way)."""

import math
from collections import defaultdict
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .gradient_sums import GroupedSums, Key
from .gram import Vector, gram_matrix, parts_of


@dataclass
class MinibatchSpread:
    """Streams Σ_k ‖g_k − s‖² over the micro-batches k of each cell, g_k their mean G_i.

    σ̂² = (1/K) Σ_k w_k ‖g_k − ḡ‖², w_k = b_k(m−1)/(m−b_k), is unbiased when the micro-batches
    partition a random sample (the finite-population factor). To keep the squared norms free of
    cancellation, every g_k is shifted by the first one, s = S_1/b_1 (S_1 its summed gradient);
    the rest of ‖g_k − ḡ‖² comes at the end, when m (and, for a jackknife, which cells) is known,
    from the Gram matrix of the cells' gradient sums and S_1 (pass ``first`` to the Gram matrix
    as its last vector).
    """

    first: Vector | None = None  # in flat parts once a micro-batch was added in this process
    first_size: int = 0
    sq_norms: dict[Key, Tensor | float] = field(default_factory=lambda: defaultdict(float))
    counts: dict[Key, int] = field(default_factory=lambda: defaultdict(int))

    def snapshot(self) -> dict:
        """The streamed sums so far, to resume from (copies: they keep growing)."""
        return {
            "first": self.first,  # never changed once set
            "first_size": self.first_size,
            "sq_norms": [(list(k), float(v)) for k, v in self.sq_norms.items()],
            "counts": [(list(k), v) for k, v in self.counts.items()],
        }

    def restore(self, saved: dict) -> None:
        """Continue from a ``snapshot``."""
        self.first, self.first_size = saved["first"], saved["first_size"]
        self.sq_norms.update((tuple(k), v) for k, v in saved["sq_norms"])
        self.counts.update((tuple(k), v) for k, v in saved["counts"])

    def add(self, grad_sum: Vector, size: int, key: Key) -> None:
        """Record one micro-batch of cell ``key`` from its summed gradient Σ_{i∈k} G_i (flat, or
        in per-parameter parts)."""
        parts = parts_of(grad_sum)
        if self.first is None:
            self.first, self.first_size = [part.clone() for part in parts], size
        device = parts[0].device
        if isinstance(self.first, Tensor) or self.first[0].device != device:  # restored
            sizes = [part.numel() for part in parts]
            self.first = [part.to(device) for part in parts_of(self.first, sizes)]
        if size == self.first_size:
            # Both sums are exact in their own dtype, so g_k − s = (S_k − S_1)/b is rounded once,
            # relative to itself: no float64 copy needed to keep it accurate where σ ≪ ‖ḡ‖. Its
            # squared norm sums in float64 (a float32 sum of 11M squares was off by 1e-3).
            shifted = torch._foreach_sub(parts, self.first)
            sq_norm = gram_matrix([shifted], device)[0, 0] / size**2
        else:
            shifted = [
                g.double() / size - s.double() / self.first_size
                for g, s in zip(parts, self.first, strict=True)
            ]
            sq_norm = gram_matrix([shifted], device)[0, 0]
        self.sq_norms[key] = self.sq_norms[key] + sq_norm  # on the device: no sync here
        self.counts[key] += 1

    def variance(self, grouped: GroupedSums, leave_out: int | None = None) -> float:
        """σ̂² over the micro-batches of ``grouped`` (cells keyed (group, size); its Gram matrix
        ends with ``first``), but those of group ``leave_out``: unbiased over random partitions
        of their samples."""
        keys = list(grouped.cells)
        kept = [i for i, (group, _) in enumerate(keys) if group != leave_out]
        count = sum(self.counts[keys[i]] for i in kept)
        if count < 2:
            raise ValueError("the mini-batch noise estimate needs at least two micro-batches")
        sums = grouped.scalars(leave_out)
        m, b1, last = sums.samples, self.first_size, len(keys)
        gram = grouped.gram.cpu().tolist()
        to_total = {i: math.fsum(gram[i][j] for j in kept) for i in kept}  # ⟨S_c, Σ S⟩
        first_total = math.fsum(gram[last][j] for j in kept)
        first_sq = gram[last][last]
        # centre = ḡ − s = Σ S / m − S_1 / b_1, through its products only.
        shift_centre = first_total / (b1 * m) - first_sq / b1**2
        centre_sq = (
            math.fsum(to_total.values()) / m**2 - 2 * first_total / (m * b1) + first_sq / b1**2
        )
        total = 0.0
        for i in kept:
            size, cell_count = keys[i][1], self.counts[keys[i]]
            # Σ_k (g_k − s)·centre over the cell's micro-batches, from the cell's sum S_c.
            cell_centre = to_total[i] / m - gram[i][last] / b1
            cross = cell_centre / size - cell_count * shift_centre
            spread = float(self.sq_norms[keys[i]]) - 2 * cross + cell_count * centre_sq
            total += size * (m - 1) / (m - size) * spread
        return total / count / sums.tokens_per_sample**2

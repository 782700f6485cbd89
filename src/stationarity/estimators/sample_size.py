"""The batch-size convergence study (paper Figs. 8, 9): the statistics on nested growing subsets."""

from collections.abc import Sequence
from dataclasses import asdict

import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset

from .jackknife import SE_GROUPS
from .microbatches import group_micro_batch
from .statistics import estimate


def nested_subsets(n: int, sizes: Sequence[int], generator: torch.Generator) -> list[Tensor]:
    """Index sets of the given sizes, each containing every smaller one: prefixes of one shuffle."""
    if any(not 0 < size <= n for size in sizes):
        raise ValueError(f"sizes must lie in 1..{n}, got {list(sizes)}")
    order = torch.randperm(n, generator=generator)
    return [order[:size] for size in sizes]


def sample_size_study(
    model: nn.Module,
    dataset: Dataset,
    sizes: Sequence[int],
    *,
    micro_batch: int = 128,
    seed: int = 0,
    **estimate_kwargs,
) -> pd.DataFrame:
    """One row of statistics per subset size; the subsets are nested and the seed fixes them.

    In eval mode each subset is read in micro-batches of at most ceil(size/se_groups) samples,
    so that its standard errors have their ``se_groups`` jackknife groups; in train mode a
    micro-batch is BatchNorm's batch, part of what is measured, and stays ``micro_batch``.
    """
    generator = torch.Generator().manual_seed(seed)
    groups = estimate_kwargs.get("se_groups", SE_GROUPS)
    train = estimate_kwargs.get("mode", "eval") == "train"
    rows = []
    for size, indices in zip(sizes, nested_subsets(len(dataset), sizes, generator), strict=True):
        batch_size = micro_batch if train else group_micro_batch(size, micro_batch, groups)
        subset = Subset(dataset, indices.tolist())
        loader = DataLoader(subset, batch_size=batch_size)
        # The HVPs need no jackknife groups: they read the subset in full-size micro-batches.
        hessian = None if batch_size == micro_batch else DataLoader(subset, batch_size=micro_batch)
        stats = estimate(model, loader, hessian_batches=hessian, **estimate_kwargs)
        rows.append({"size": size, **asdict(stats)})
    return pd.DataFrame(rows)

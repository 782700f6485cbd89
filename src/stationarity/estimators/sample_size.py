"""The batch-size convergence study (paper Figs. 8, 9): the statistics on nested growing subsets."""

from collections.abc import Sequence
from dataclasses import asdict

import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset

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
    """One row of statistics per subset size; the subsets are nested and the seed fixes them."""
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for size, indices in zip(sizes, nested_subsets(len(dataset), sizes, generator), strict=True):
        loader = DataLoader(Subset(dataset, indices.tolist()), batch_size=micro_batch)
        rows.append({"size": size, **asdict(estimate(model, loader, **estimate_kwargs))})
    return pd.DataFrame(rows)

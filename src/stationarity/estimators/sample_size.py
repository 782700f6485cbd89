"""The batch-size convergence study (paper Figs. 8, 9): the statistics on nested growing subsets."""

from collections.abc import Sequence
from dataclasses import asdict

import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset

from .jackknife import SE_GROUPS
from .microbatches import group_micro_batch
from .progress import Progress
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
    sharpness_sizes: Sequence[int] | None = None,
    progress: Progress | None = None,
    resume: dict[str, dict] | None = None,
    **estimate_kwargs,
) -> pd.DataFrame:
    """One row of statistics per subset size; the subsets are nested and the seed fixes them.

    The sharpness is measured at ``sharpness_sizes`` (default: every size) and NaN elsewhere. In
    eval mode each subset is read in micro-batches of at most ceil(size/se_groups) samples, so
    that its standard errors have their ``se_groups`` jackknife groups; in train mode a
    micro-batch is BatchNorm's batch, part of what is measured, and stays ``micro_batch``.

    Resumable: after each size, ``progress`` hears phase "sizes" with the rows so far; the
    phases of the estimate at size n are reported as "sizes/<n>/<phase>".
    """
    generator = torch.Generator().manual_seed(seed)
    groups = estimate_kwargs.get("se_groups", SE_GROUPS)
    train = estimate_kwargs.get("mode", "eval") == "train"
    sharp = set(sizes if sharpness_sizes is None else sharpness_sizes)
    method = estimate_kwargs.pop("sharpness", "lanczos")
    resume = resume or {}
    rows = list(resume.get("sizes", {}).get("rows", []))
    subsets = nested_subsets(len(dataset), sizes, generator)
    if progress is not None:
        progress("sizes", len(rows), len(sizes), None)  # the start
    for i, (size, indices) in enumerate(zip(sizes, subsets, strict=True)):
        if i < len(rows):
            continue  # measured before the job was stopped
        batch_size = micro_batch if train else group_micro_batch(size, micro_batch, groups)
        subset = Subset(dataset, indices.tolist())
        loader = DataLoader(subset, batch_size=batch_size)
        # The HVPs need no jackknife groups: they read the subset in full-size micro-batches.
        hessian = None if batch_size == micro_batch else DataLoader(subset, batch_size=micro_batch)
        prefix = f"sizes/{size}/"
        stats = estimate(
            model,
            loader,
            hessian_batches=hessian,
            sharpness=method if size in sharp else None,
            progress=_nested(progress, prefix),
            resume={k.removeprefix(prefix): v for k, v in resume.items() if k.startswith(prefix)},
            **estimate_kwargs,
        )
        rows.append({"size": size, **asdict(stats)})
        if progress is not None:
            progress("sizes", len(rows), len(sizes), lambda: {"rows": list(rows)})
    return pd.DataFrame(rows)


def _nested(progress: Progress | None, prefix: str) -> Progress | None:
    """``progress`` with the phases of one size's estimate named under ``prefix``."""
    if progress is None:
        return None
    return lambda phase, done, total, snapshot: progress(prefix + phase, done, total, snapshot)

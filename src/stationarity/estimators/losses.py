"""The measured loss: cross-entropy summed over all targets, and the number of targets."""

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor

IGNORE_INDEX = -100

# (model outputs, targets) -> (summed loss, number of loss terms); a sample's loss is its sum.
LossFn = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


def summed_cross_entropy(outputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Cross-entropy summed over all targets (one per image, or one per token) and their count."""
    logits = outputs.reshape(-1, outputs.shape[-1])
    flat_targets = targets.reshape(-1)
    loss = F.cross_entropy(logits, flat_targets, reduction="sum", ignore_index=IGNORE_INDEX)
    return loss, (flat_targets != IGNORE_INDEX).sum()


def summed_target_nll(outputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """For models whose outputs are already −log p of each target: their sum and count."""
    kept = targets != IGNORE_INDEX
    return outputs.masked_fill(~kept, 0.0).sum(), kept.sum()

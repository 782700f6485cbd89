"""Augmentation of image batches on tensors, random only through the generator passed in.

Each function draws its per-sample parameters on the CPU from ``generator``, so a batch's
augmentation is reproducible from the generator's seed whatever device the images are on.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .image_data import BatchAugment

# Strengths of the demo's augmentation (reference/demo-regimes.md section 2, setting A).
MAX_SHIFT_PX = 2
MAX_ROTATION_DEG = 20.0
SCALE_RANGE = (0.85, 1.15)


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def random_shift(x: Tensor, generator: torch.Generator, max_px: int = MAX_SHIFT_PX) -> Tensor:
    """Shift each image by whole pixels in [-max_px, max_px], filling with the minimum value."""
    n, _, h, w = x.shape
    offsets = torch.randint(-max_px, max_px + 1, (n, 2), generator=generator).to(x.device)
    padded = F.pad(x, (max_px,) * 4, value=x.min().item())
    rows = torch.arange(h, device=x.device) + max_px - offsets[:, :1]  # (n, h)
    cols = torch.arange(w, device=x.device) + max_px - offsets[:, 1:]  # (n, w)
    batch = torch.arange(n, device=x.device)[:, None, None]
    # (n, h, w, c) after advanced indexing; back to (n, c, h, w).
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def random_affine(
    x: Tensor,
    generator: torch.Generator,
    max_rotation_deg: float = MAX_ROTATION_DEG,
    scale_range: tuple[float, float] = SCALE_RANGE,
    max_shift_px: float = MAX_SHIFT_PX,
) -> Tensor:
    """Rotate, scale and shift each image at random (bilinear), filling with the minimum value."""
    n, _, h, w = x.shape
    angle = _uniform(n, -max_rotation_deg, max_rotation_deg, generator) * math.pi / 180
    scale = _uniform(n, *scale_range, generator)
    # affine_grid works in [-1, 1] coordinates: one pixel is 2/size.
    shift_x = _uniform(n, -max_shift_px, max_shift_px, generator) * 2 / w
    shift_y = _uniform(n, -max_shift_px, max_shift_px, generator) * 2 / h
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1
    ).to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # grid_sample pads with zeros; shifting by the minimum makes the padding the background value.
    background = x.min()
    out = F.grid_sample(x - background, grid, mode="bilinear", align_corners=False)
    return out + background


AUGMENTATIONS: dict[str, BatchAugment | None] = {
    "none": None,
    "shift": random_shift,
    "affine": random_affine,
}


def batch_augmentation(name: str) -> BatchAugment | None:
    """The batch augmentation called ``name`` (``none`` gives None)."""
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augment {name!r}; allowed: {', '.join(AUGMENTATIONS)}")
    return AUGMENTATIONS[name]

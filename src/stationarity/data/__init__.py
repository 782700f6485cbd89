"""Data sets by name: images return :class:`ImageData`, text a :class:`TextCorpus`.

Preparation (network or archive unpacking, run once by a login-node rule) is separate from loading:
``prepare_imagenet``, ``download_cifar10``, ``prepare_demo``, ``prepare_wikitext103``,
``prepare_wikipedia_demo``.
"""

from pathlib import Path

from .cifar10 import download_cifar10, load_cifar10
from .demo import DEMO_SETS, load_demo, prepare_demo
from .image_data import ImageData, TensorImageDataset
from .imagenet import load_imagenet, prepare_imagenet
from .text import TEXT_SETS, ContextSegments, TextCorpus, load_text_corpus

DATASETS = ("imagenet", "cifar10", *DEMO_SETS)
DEMO_OPTIONS = {"resize", "augment", "label_noise"}

__all__ = [
    "DATASETS",
    "TEXT_SETS",
    "ContextSegments",
    "ImageData",
    "TextCorpus",
    "TensorImageDataset",
    "build_image_data",
    "download_cifar10",
    "load_text_corpus",
    "prepare_demo",
    "prepare_imagenet",
]


def build_image_data(name: str, root: Path, *, seed: int, **options) -> ImageData:
    """Load data set ``name`` from its prepared ``root`` with the data set's ``options``."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    allowed = DEMO_OPTIONS if name in DEMO_SETS else set()
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(
            f"data set {name!r} has unknown option(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed)) or 'none'}"
        )
    if name in DEMO_SETS:
        return load_demo(name, root, seed=seed, **options)
    return load_cifar10(root) if name == "cifar10" else load_imagenet(root)

"""Load a prepared image data set by name, with the options its catalog entry allows."""

from pathlib import Path

from .catalog import IMAGE_SETS, data_set
from .cifar10 import load_cifar10
from .demo import load_demo
from .image_data import ImageData
from .imagenet import load_imagenet

# One loader per image data set of the catalog: (name, root, seed, options) -> ImageData.
LOADERS = {
    "imagenet": lambda name, root, seed, **options: load_imagenet(root),
    "cifar10": lambda name, root, seed, **options: load_cifar10(root),
    "mnist5k": load_demo,
    "digits": load_demo,
}


def build_image_data(name: str, root: Path, *, seed: int, **options) -> ImageData:
    """Load data set ``name`` from its prepared ``root`` with the data set's ``options``."""
    if name not in IMAGE_SETS:
        raise ValueError(f"unknown data set {name!r} for images; known: {', '.join(IMAGE_SETS)}")
    allowed = data_set(name).options
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(
            f"data set {name!r} has unknown option(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed)) or 'none'}"
        )
    return LOADERS[name](name, root, seed=seed, **options)

"""Prepare a data set once, on a node with the archives or the network (a login-node rule)."""

from pathlib import Path

from .catalog import CATALOG
from .cifar10 import download_cifar10
from .demo import prepare_demo
from .imagenet import prepare_imagenet
from .wikipedia_demo import prepare_wikipedia_demo
from .wikitext103 import prepare_wikitext103

# One preparer per data set of the catalog: (root, config_key) -> the file or folder proving it.
PREPARERS = {
    "imagenet": lambda root, key: prepare_imagenet(root, root, config_key=key),
    "cifar10": lambda root, key: download_cifar10(root),
    "mnist5k": lambda root, key: prepare_demo("mnist5k", root),
    "digits": lambda root, key: prepare_demo("digits", root),
    "wikitext103": lambda root, key: prepare_wikitext103(root),
    "wikipedia_demo": lambda root, key: prepare_wikipedia_demo(root),
}


def prepare_data(name: str, root: Path, *, config_key: str) -> Path:
    """Prepare data set ``name`` under ``root``; return the file or folder proving it is ready."""
    if name not in PREPARERS:
        raise ValueError(f"unknown data set {name!r} at {config_key}; known: {', '.join(CATALOG)}")
    return PREPARERS[name](Path(root), config_key)

"""Prepare a data set once, on a node with the archives or the network (a login-node rule)."""

from pathlib import Path

from .cifar10 import download_cifar10
from .demo import DEMO_SETS, prepare_demo
from .imagenet import prepare_imagenet
from .wikipedia_demo import prepare_wikipedia_demo
from .wikitext103 import prepare_wikitext103


def prepare_data(name: str, root: Path, *, config_key: str) -> Path:
    """Prepare data set ``name`` under ``root``; return the file or folder proving it is ready."""
    if name == "imagenet":
        return prepare_imagenet(root, root, config_key=config_key)
    if name == "cifar10":
        return download_cifar10(root)
    if name in DEMO_SETS:
        return prepare_demo(name, root)
    if name == "wikitext103":
        return prepare_wikitext103(root)
    if name == "wikipedia_demo":
        return prepare_wikipedia_demo(root)
    raise ValueError(f"unknown data set {name!r} at {config_key}")

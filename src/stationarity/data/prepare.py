"""Prepare a data set once: downloads on the login node, ImageNet unpacked by a cluster job."""

from pathlib import Path

from .catalog import CATALOG
from .cifar10 import download_cifar10
from .demo import prepare_demo
from .imagenet import prepare_imagenet
from .wikipedia_demo import prepare_wikipedia_demo
from .wikitext103 import prepare_wikitext103

# One preparer per data set of the catalog: (root, config_key, revision) -> the file or folder
# proving it. Only data sets from the Hub take a revision (the catalog's options say which).
PREPARERS = {
    "imagenet": lambda root, key, revision: prepare_imagenet(root, root, config_key=key),
    "cifar10": lambda root, key, revision: download_cifar10(root),
    "mnist5k": lambda root, key, revision: prepare_demo("mnist5k", root),
    "digits": lambda root, key, revision: prepare_demo("digits", root),
    "wikitext103": lambda root, key, revision: prepare_wikitext103(root, revision),
    "wikipedia_demo": lambda root, key, revision: prepare_wikipedia_demo(root),
}


def prepare_data(name: str, root: Path, *, config_key: str, revision: str | None = None) -> Path:
    """Prepare data set ``name`` under ``root``; return the file or folder proving it is ready."""
    if name not in PREPARERS:
        raise ValueError(f"unknown data set {name!r} at {config_key}; known: {', '.join(CATALOG)}")
    if revision is not None and "revision" not in CATALOG[name].options:
        raise ValueError(f"data set {name!r} comes from no Hub repository: it takes no revision")
    return PREPARERS[name](Path(root), config_key, revision)

"""Data sets by name: the torch-free ``catalog`` of facts, loaders and preparers.

Images load as :class:`ImageData` (``build_image_data``), text as a :class:`TextCorpus`
(``load_text_corpus``). Preparation (downloads on the login node, ImageNet's checked archives
unpacked by a cluster job) is separate from loading: ``prepare.prepare_data`` dispatches to each
data set's preparer. The names below load on first use, so that planning, which reads only the
catalog, never imports torch.
"""

from importlib import import_module

from .catalog import CATALOG, IMAGE_SETS, TEXT_SETS, DataSet, data_set

LAZY = {
    "ImageData": "image_data",
    "TensorImageDataset": "image_data",
    "build_image_data": "loaders",
    "download_cifar10": "cifar10",
    "prepare_demo": "demo",
    "prepare_imagenet": "imagenet",
    "ContextSegments": "text",
    "TextCorpus": "text",
    "load_text_corpus": "text",
}

__all__ = ["CATALOG", "IMAGE_SETS", "TEXT_SETS", "DataSet", "data_set", *LAZY]


def __getattr__(name: str):
    """The lazily loaded names of ``LAZY``, imported from their module on first use."""
    if name not in LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{LAZY[name]}", __name__), name)

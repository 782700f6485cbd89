"""CIFAR-10 through torchvision: a download step for the login node, and the kuangliu transforms."""

import copy
import socket
import urllib.error
from pathlib import Path

from .catalog import CATALOG
from .checksums import verify_archives
from .image_data import ImageData

# kuangliu/pytorch-cifar's normalisation constants.
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2023, 0.1994, 0.2010)


def check_cifar10_archive(root: Path) -> dict[str, str]:
    """Check the kept tarball against the catalog's MD5 (ChecksumError if it differs)."""
    archives = CATALOG["cifar10"].archives
    if not all((Path(root) / name).is_file() for name, _ in archives.values()):
        return {}  # unpacked batches alone, which torchvision checked one by one
    return verify_archives(root, archives, source="https://www.cs.toronto.edu/~kriz/cifar.html")


def download_cifar10(root: Path, timeout_s: float = 60.0) -> Path:
    """Download and check CIFAR-10 into ``root``; without network fail in a few ``timeout_s``."""
    from torchvision import datasets  # imports triton and sympy: 1.6 s, so only when needed

    previous = socket.getdefaulttimeout()
    # torchvision calls urlopen with no timeout: a firewall that drops packets would hang forever.
    socket.setdefaulttimeout(timeout_s)
    try:
        datasets.CIFAR10(root, train=True, download=True)
    except (urllib.error.URLError, OSError) as err:
        raise RuntimeError(
            f"could not download CIFAR-10 from {datasets.CIFAR10.url} into {root} ({err}). "
            f"Without network, place {datasets.CIFAR10.filename} in {root} and rerun."
        ) from err
    except RuntimeError:
        check_cifar10_archive(root)  # torchvision says only "corrupted": name the sums instead
        raise
    finally:
        socket.setdefaulttimeout(previous)
    check_cifar10_archive(root)
    return Path(root) / datasets.CIFAR10.base_folder


def load_cifar10(root: Path) -> ImageData:
    """The 50,000 training images: RandomCrop 32 (padding 4) + flip, and a clean copy."""
    from torchvision import datasets, transforms

    normalise = [transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
    augment = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()]
    try:
        train = datasets.CIFAR10(
            root, train=True, download=False, transform=transforms.Compose([*augment, *normalise])
        )
    except RuntimeError as err:
        raise FileNotFoundError(
            f"CIFAR-10 is not in {root} or is corrupt ({err}); run the data rule "
            "(stationarity.data.download_cifar10) first"
        ) from err
    # A shallow copy shares the decoded pixel array instead of reading the batches twice.
    clean = copy.copy(train)
    clean.transform = transforms.Compose(normalise)
    return ImageData(train=train, clean=clean, num_classes=10, input_shape=(3, 32, 32))

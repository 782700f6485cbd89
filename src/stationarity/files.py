"""Files: atomic writes (a reader sees the old file or the whole new one) and run names."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename."""
    atomic_write(path, lambda f: f.write(data))


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """``write(file)`` into a temporary file in the same directory, then rename it to ``path``:
    for data too large to hold twice in memory (``torch.save`` straight to the file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk or an interrupt leaves no temp file behind
        raise
    # fsync the directory so the rename itself survives a crash of the node.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def copy_atomically(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` through the atomic writer (for small files)."""
    atomic_write_bytes(target, Path(source).read_bytes())


def run_name(experiment: str, schedule: str, seed: int) -> str:
    """The one spelling of a run's name, as in the results tree: ``experiment/schedule/seedN``."""
    return f"{experiment}/{schedule}/seed{seed}"

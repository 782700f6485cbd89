"""Archives checked against their published MD5 sums, once.

Hashing ImageNet's 150 GB takes minutes to an hour on a shared filesystem, so each archive that
matched is noted in ``<folder>/.checked-md5.json`` with its size and modification time: a rerun
hashes only archives that are new, replaced or touched since.
"""

import hashlib
import json
from pathlib import Path

from ..files import atomic_write_bytes

RECORD = ".checked-md5.json"
CHUNK_BYTES = 16 << 20  # large reads: the hash, not the system calls, sets the pace


class ChecksumError(ValueError):
    """An archive whose MD5 differs from the published sum: damaged, truncated or another file."""


def md5_of(path: Path) -> str:
    """The MD5 of a file, read in chunks (the file may be far larger than memory)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _read_record(folder: Path) -> dict:
    try:
        return json.loads((folder / RECORD).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}  # no record, or a damaged one: hash again


def _stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def verify_archives(folder: Path, archives: dict, source: str) -> dict[str, str]:
    """Check every archive (role -> (file name, published md5)) in ``folder``; file -> md5.

    Archives recorded as checked, unchanged since, are not hashed again. Every mismatch is named
    in one ChecksumError, after the good archives are recorded (a rerun skips those).
    """
    folder = Path(folder)
    record = _read_record(folder)
    checked, wrong = {}, []
    for name, expected in sorted(archives.values()):
        path = folder / name
        seen = record.get(name, {})
        if seen.get("md5") == expected and seen.get("stamp") == _stamp(path):
            checked[name] = expected
            continue
        record.pop(name, None)
        actual = md5_of(path)
        if actual == expected:
            record[name] = {"md5": actual, "stamp": _stamp(path)}
            checked[name] = actual
        else:
            wrong.append(f"{name} has md5 {actual}, expected {expected}")
    atomic_write_bytes(folder / RECORD, json.dumps(record, indent=1, sort_keys=True).encode())
    if wrong:
        raise ChecksumError(
            f"archive(s) in {folder} differ from their published MD5 sums: {'; '.join(wrong)}. "
            f"They are damaged or truncated: download them again from {source} and rerun"
        )
    return checked


def recorded_sums(folder: Path, archives: dict) -> dict[str, str]:
    """File -> md5 of the archives (role -> (file name, md5)) recorded as checked in ``folder``."""
    record = _read_record(Path(folder))
    return {name: md5 for name, md5 in archives.values() if record.get(name, {}).get("md5") == md5}

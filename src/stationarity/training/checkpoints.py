"""Checkpoints that survive kills: atomic writes, a sha256 manifest, loading with ``weights_only``.

Layout: ``<checkpoint_dir>/step{N:08d}.pt`` plus a ``manifest.tsv`` (columns step, epoch, file,
sha256, identity; ``file`` is the name inside ``checkpoint_dir``). Every checkpoint records the
identity of its run, and the one loader, ``load_checkpoint``, checks hash and identity. A file is
written before its manifest row, so every row names a complete file; nothing here deletes a file.
"""

import csv
import hashlib
import io
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from ..files import atomic_write_bytes

MANIFEST_COLUMNS = ("step", "epoch", "file", "sha256", "identity")


@dataclass(frozen=True)
class ManifestEntry:
    """One saved checkpoint: its step, epoch (fractional), file name, sha256, run identity."""

    step: int
    epoch: float
    file: str
    sha256: str
    identity: str = ""


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated or does not match its manifest hash."""


class IdentityMismatchError(RuntimeError):
    """A checkpoint belongs to another run identity than the one asked for."""


def checkpoint_name(step: int) -> str:
    """The file name of the checkpoint taken after ``step`` optimisation steps."""
    return f"step{step:08d}.pt"


def read_manifest(manifest_path: Path) -> list[ManifestEntry]:
    """The manifest's entries sorted by step; an absent manifest is empty."""
    manifest_path = Path(manifest_path)
    if not manifest_path.exists():
        return []
    with open(manifest_path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    entries = [
        ManifestEntry(
            int(r["step"]), float(r["epoch"]), r["file"], r["sha256"], r.get("identity") or ""
        )
        for r in rows
    ]
    return sorted(entries, key=lambda e: e.step)


def write_manifest(manifest_path: Path, entries: list[ManifestEntry]) -> None:
    """Atomically rewrite the manifest with ``entries`` (sorted by step)."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t", lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    for e in sorted(entries, key=lambda e: e.step):
        writer.writerow([e.step, f"{e.epoch:.6g}", e.file, e.sha256, e.identity])
    atomic_write_bytes(manifest_path, buf.getvalue().encode())


def _interned(obj):
    """``obj`` with every string interned, so that equal states pickle to equal bytes."""
    # The pickler shares repeated objects by identity: a resumed run holds equal strings that
    # are distinct objects (loaded ones) where a fresh run holds one literal, and would differ.
    if isinstance(obj, str):
        return sys.intern(obj)
    if isinstance(obj, dict):
        out = type(obj)((_interned(k), _interned(v)) for k, v in obj.items())
        if hasattr(obj, "_metadata"):  # a state_dict's module versions
            out._metadata = _interned(obj._metadata)
        return out
    if isinstance(obj, list | tuple):
        return type(obj)(_interned(v) for v in obj)
    return obj


def serialize_checkpoint(state: dict) -> bytes:
    """The bytes of ``state`` as a checkpoint (a snapshot: training may go on afterwards)."""
    buf = io.BytesIO()
    torch.save(_interned(state), buf)
    return buf.getvalue()


def write_checkpoint(
    data: bytes,
    checkpoint_dir: Path,
    manifest_path: Path,
    *,
    step: int,
    epoch: float,
    identity: str = "",
) -> ManifestEntry:
    """Write serialised checkpoint ``data`` as the one of ``step``, then its manifest row."""
    digest = hashlib.sha256(data).hexdigest()
    entry = ManifestEntry(step, epoch, checkpoint_name(step), digest, identity)
    atomic_write_bytes(Path(checkpoint_dir) / entry.file, data)
    # A rerun of a step (after falling back past a corrupt file) replaces that step's row.
    others = [e for e in read_manifest(manifest_path) if e.step != step]
    write_manifest(manifest_path, [*others, entry])
    return entry


def load_checkpoint(
    checkpoint_dir: Path,
    entry: ManifestEntry,
    map_location: str | torch.device = "cpu",
    identity: str | None = None,
) -> dict:
    """Load a checkpoint after checking its sha256 and, if given, the run identity it records.

    A changed hash raises CorruptCheckpointError, another identity IdentityMismatchError; both
    name the file, the expected and the actual value.
    """
    path = Path(checkpoint_dir) / entry.file
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CorruptCheckpointError(f"cannot read checkpoint {path}: {err}") from err
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise CorruptCheckpointError(
            f"checkpoint {path} is truncated or corrupt: sha256 {digest[:12]}… "
            f"!= {entry.sha256[:12]}… in the manifest ({len(data)} bytes)"
        )
    state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    recorded = {entry.identity, state.get("identity", "")}
    if identity is not None and recorded != {identity}:
        raise IdentityMismatchError(
            f"checkpoint {path} belongs to run identity {' / '.join(sorted(recorded))!r}, "
            f"expected {identity!r}: it was written by a run with other settings"
        )
    return state


def load_verified(path: Path, identity: str, map_location: str | torch.device = "cpu") -> dict:
    """The checkpoint at ``path``, checked against its folder's manifest and ``identity``."""
    path = Path(path)
    entries = [e for e in read_manifest(path.parent / "manifest.tsv") if e.file == path.name]
    if not entries:
        raise CorruptCheckpointError(f"checkpoint {path} is not in {path.parent / 'manifest.tsv'}")
    try:
        return load_checkpoint(path.parent, entries[0], map_location, identity)
    except CorruptCheckpointError as err:
        raise CorruptCheckpointError(
            f"{err}. Nothing was used: restore the file, or move the folder {path.parent} "
            "aside and rerun the run's train job to train it again"
        ) from None


def latest_valid(
    checkpoint_dir: Path,
    manifest_path: Path,
    map_location: str | torch.device = "cpu",
    identity: str | None = None,
) -> tuple[ManifestEntry, dict] | None:
    """The newest checkpoint that loads and matches its hash.

    A damaged one is moved aside (``<file>.damaged``, never deleted) and dropped from the
    manifest, with a warning, so that training resumes from the newest valid one.
    """
    for entry in reversed(read_manifest(manifest_path)):
        try:
            return entry, load_checkpoint(checkpoint_dir, entry, map_location, identity)
        except CorruptCheckpointError as err:
            set_aside(Path(checkpoint_dir), Path(manifest_path), entry)
            warnings.warn(
                f"{err}; moved aside as {entry.file}.damaged, falling back to the previous one",
                stacklevel=2,
            )
    return None


def set_aside(checkpoint_dir: Path, manifest_path: Path, entry: ManifestEntry) -> None:
    """Rename a damaged checkpoint to ``<file>.damaged`` and drop its row from the manifest."""
    path = checkpoint_dir / entry.file
    if path.exists():
        path.replace(path.with_name(f"{entry.file}.damaged"))
    kept = [e for e in read_manifest(manifest_path) if e.step != entry.step]
    write_manifest(manifest_path, kept)

"""Where a result came from: the package version, the git commit and whether the tree was dirty."""

import subprocess
from functools import cache
from pathlib import Path

from . import __version__


def git(*args: str) -> str | None:
    """The output of a git command in the package's checkout, or None outside one."""
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


@cache
def provenance() -> dict:
    """``version``, ``commit`` (12 hex digits, or 'unknown') and ``dirty`` (uncommitted changes)."""
    commit = git("rev-parse", "--short=12", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "version": __version__,
        "commit": commit or "unknown",
        "dirty": bool(status) if status is not None else None,
    }

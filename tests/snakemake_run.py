"""Run the workflow in a subprocess, as a user would, with a hard time limit."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def snakemake(*args: str, workdir: Path | None = None, timeout: int = 300):
    """Run `snakemake ARGS` from the repo root, results under workdir; return the process."""
    command = [sys.executable, "-m", "snakemake", "--cores", "1", *args]
    if workdir is not None:
        command += ["--directory", str(workdir)]
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )

"""An estimate job's running state on disk, and its progress in the job's log.

The estimators report every micro-batch and Hessian-vector product, with a snapshot of their
state at the points they can resume from (``estimators.progress``). This keeps the latest snapshot
of each phase and writes them all to one file beside the output, atomically: every
``STATIONARITY_STATE_S`` seconds (300 by default) and at once when SLURM's warning signal arrives,
after which the job exits with code 75 and Snakemake's retry resumes from the file. The file
carries a fingerprint of what is measured, so a changed setting or checkpoint starts afresh.
"""

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import torch

from ..files import atomic_write
from ..progress import ProgressLog
from ..training.preemption import Preempted, PreemptionSignals

DEFAULT_SAVE_S = 300.0
UNITS = {"sharpness": "HVPs at most"}  # the passes count micro-batches


def save_interval_s() -> float:
    """Seconds between saves of the running state (``STATIONARITY_STATE_S``, default 300)."""
    return float(os.environ.get("STATIONARITY_STATE_S", DEFAULT_SAVE_S))


def state_path(output: Path) -> Path:
    """Where the running state of the job that writes ``output`` is kept."""
    return output.with_name(f"{output.name}.resume.pt")


def fingerprint(*parts) -> str:
    """A hash of what defines a measurement: settings, checkpoint, options (JSON-able)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class SavedProgress:
    """The progress callback of one estimate job: log lines, snapshots kept, saves, signals."""

    def __init__(self, path: Path, key: str, name: str, signals: PreemptionSignals, stream=None):
        self.path, self.key, self.name, self.signals = path, key, name, signals
        self.stream = stream or sys.stderr
        self.phases: dict[str, dict] = {}
        self.logs: dict[str, ProgressLog] = {}
        self.every = save_interval_s()
        self.last_save = time.monotonic()

    def resume(self) -> dict[str, dict] | None:
        """The phases saved by an earlier try of this same measurement, if any."""
        if not self.path.exists():
            return None
        saved = torch.load(self.path, map_location="cpu", weights_only=True)
        if saved.get("key") != self.key:
            self._say(f"ignoring {self.path.name}: it is the state of another measurement")
            return None
        self.phases = saved["phases"]
        self._say(f"resuming from {self.path.name}: {', '.join(self.phases) or 'nothing'} saved")
        return dict(self.phases)

    def __call__(self, phase: str, done: int, total: int, snapshot) -> None:
        log = self.logs.get(phase)
        if log is None:
            unit = UNITS.get(phase.rsplit("/", 1)[-1], "micro-batches")
            # A phase's first report is its start, with the units a resume skips.
            log = self.logs[phase] = ProgressLog(self.name, phase, total, unit, done, self.stream)
        else:
            log.update(done)
        if done == total:
            log.finish()
        if snapshot is None:
            return
        due = time.monotonic() - self.last_save >= self.every
        if done == total or due or self.signals.requested:
            self.keep(phase, snapshot())
        if due or self.signals.requested:
            self.save()
        if self.signals.requested:
            message = (
                f"{self.signals.requested} in {phase} at {done}/{total}; state saved to "
                f"{self.path}, the retry resumes from it"
            )
            self._say(message)
            raise Preempted(f"{self.name}: {message}")

    def keep(self, phase: str, state: dict) -> None:
        """Keep a phase's latest state; it replaces those of the phases under it ("phase/…")."""
        self.phases = {k: v for k, v in self.phases.items() if not k.startswith(phase + "/")}
        self.phases[phase] = state

    def save(self) -> None:
        """Write every kept phase to the state file, atomically."""
        state = {"key": self.key, "phases": self.phases}
        atomic_write(self.path, lambda f: torch.save(state, f))
        self.last_save = time.monotonic()
        self._say(f"state saved ({', '.join(self.phases)})")

    def discard(self) -> None:
        """Remove the state file once the output is written."""
        self.path.unlink(missing_ok=True)

    def _say(self, line: str) -> None:
        print(f"{self.name}: {line}", file=self.stream, flush=True)

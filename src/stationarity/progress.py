"""Progress lines for batch jobs' logs: a phase, done/total, the rate and the time left.

A job on a cluster writes to a file, not a terminal: one line when a phase starts, one after its
first unit of work (an early ETA), then one every ``STATIONARITY_PROGRESS_S`` seconds (30 by
default) while it runs, and one when it ends.
"""

import os
import sys
import time

DEFAULT_INTERVAL_S = 30.0


def interval_s() -> float:
    """Seconds between progress lines (``STATIONARITY_PROGRESS_S``, default 30)."""
    return float(os.environ.get("STATIONARITY_PROGRESS_S", DEFAULT_INTERVAL_S))


def duration(seconds: float) -> str:
    """``seconds`` as h:mm:ss."""
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressLog:
    """Progress of one phase of a job, written as lines a person reads in its log."""

    def __init__(self, name: str, phase: str, total: int, unit: str, start: int = 0, stream=None):
        self.name, self.phase, self.total, self.unit = name, phase, total, unit
        self.stream = stream or sys.stderr
        self.first, self.done = start, start
        self.started = self.last = time.monotonic()
        self.every = interval_s()
        self._write(f"{phase} started: {start}/{total} {unit}")

    def update(self, done: int, detail: str = "") -> None:
        """Record ``done`` of ``total``; write a line if the interval has passed."""
        first = self.done == self.first
        self.done = done
        now = time.monotonic()
        # The first unit of work gives an early ETA; then one line per interval.
        if first or now - self.last >= self.every:
            self.last = now
            self._write(self.status(now) + (f" {detail}" if detail else ""))

    def status(self, now: float) -> str:
        """done/total, the rate since the start and the time left at that rate."""
        elapsed = max(now - self.started, 1e-9)
        rate = (self.done - self.first) / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta = duration(left) if left != float("inf") else "unknown"
        return f"{self.phase} {self.done}/{self.total} {self.unit}, {rate:.3g}/s, ETA {eta}"

    def finish(self, detail: str = "") -> None:
        """The phase's last line: what was done and how long it took."""
        spent = duration(time.monotonic() - self.started)
        tail = f" {detail}" if detail else ""
        self._write(f"{self.phase} done: {self.done}/{self.total} {self.unit} in {spent}{tail}")

    def _write(self, line: str) -> None:
        print(f"{self.name}: {line}", file=self.stream, flush=True)

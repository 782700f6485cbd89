"""What an estimate reports while it runs, and the state it resumes from.

The estimators know nothing of files or signals. Each phase of an estimate (the gradient pass, the
centred pass, the eigenvalue solver) reports ``progress(phase, done, total, snapshot)`` after
every unit of work, once with the units already done when it starts, and ``done == total``
when it ends. At points it can resume from, ``snapshot`` is a function that returns the phase's
state so far (plain tensors, numbers and lists; call it during the report, as the state moves on
afterwards), else None. A caller that keeps the snapshots and hands them back as
``resume={phase: state}`` gets the result an uninterrupted run would have given.
"""

from collections.abc import Callable
from dataclasses import dataclass

Snapshot = Callable[[], dict]
Progress = Callable[[str, int, int, Snapshot | None], None]


@dataclass
class Phase:
    """One phase of an estimate: its name, its units of work, the state it resumes from and
    whom it reports to."""

    name: str
    total: int
    saved: dict | None = None
    progress: Progress | None = None

    def report(self, done: int, snapshot: Snapshot | None = None) -> None:
        """Tell the caller that ``done`` of ``total`` units are finished."""
        if self.progress is not None:
            self.progress(self.name, done, self.total, snapshot)

    def finish(self, done: int) -> None:
        """Tell the caller that the phase ended after ``done`` units (a solver that converged
        early ends short of its budget): reported as ``done`` of ``done``."""
        if self.progress is not None:
            self.progress(self.name, done, done, None)


def phase(
    name: str, total: int, progress: Progress | None, resume: dict[str, dict] | None
) -> Phase:
    """The phase ``name`` with its saved state from ``resume``, if any."""
    return Phase(name, total, (resume or {}).get(name), progress)

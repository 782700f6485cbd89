"""Stop cleanly on SLURM's warning signals: checkpoint at the next step, then exit with code 75."""

import signal
import sys
import warnings

# EX_TEMPFAIL from sysexits.h: "try again later". Snakemake sees a failed job and retries it.
EXIT_PREEMPTED = 75
SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class Preempted(SystemExit):
    """Raised after the checkpoint written on SIGTERM/SIGUSR1; exits the process with code 75."""

    def __init__(self, message: str):
        super().__init__(EXIT_PREEMPTED)
        self.message = message

    def __str__(self) -> str:
        return self.message


class PreemptionSignals:
    """While active, SIGTERM and SIGUSR1 only set ``requested``; the loop polls it each step."""

    def __init__(self):
        self.requested: str | None = None
        self.previous: dict = {}

    def _handle(self, signum, frame) -> None:
        self.requested = signal.Signals(signum).name
        print(f"received {self.requested}: checkpointing at the next step", file=sys.stderr)

    def __enter__(self) -> "PreemptionSignals":
        try:
            self.previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        except ValueError:  # not the main thread: signals cannot be caught here
            message = "not in the main thread: SIGTERM/SIGUSR1 will not checkpoint"
            warnings.warn(message, stacklevel=2)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)

"""File writes in a background thread, one after another in submission order.

Checkpoint files, their manifest rows and the training log are written (and fsynced) while the
next steps compute; the order log -> checkpoint -> manifest that resume relies on is kept.
"""

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

# A write may be in flight while the next is queued; a third waits, bounding memory held in bytes.
MAX_PENDING = 2


class OrderedWriter:
    """Run write functions in order on one thread; errors surface at the next call."""

    def __init__(self):
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ordered-writer")
        self.pending: list[Future] = []

    def submit(self, write: Callable, *args, **kwargs) -> None:
        """Queue ``write(*args, **kwargs)`` after the writes already queued."""
        while len(self.pending) >= MAX_PENDING:
            self.pending.pop(0).result()
        done = [f for f in self.pending if f.done()]
        for future in done:
            future.result()  # re-raises the exception of a failed write
        self.pending = [f for f in self.pending if f not in done]
        self.pending.append(self.pool.submit(write, *args, **kwargs))

    def wait(self) -> None:
        """Block until every queued write is on disk; re-raise the first failure."""
        while self.pending:
            self.pending.pop(0).result()

    def close(self) -> None:
        """Wait for the queued writes and stop the thread."""
        try:
            self.wait()
        finally:
            self.pool.shutdown()

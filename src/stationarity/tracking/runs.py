"""W&B runs as a mirror of results, never their source: the ``Tracker`` every job logs through.

W&B is imported lazily (it is slow to import and absent on some machines). Nothing here may fail
or stall training: online mode without an API key, or with a server that does not answer within
``init_timeout``, falls back to offline mode with a warning (upload later with ``wandb sync``);
any other W&B error turns tracking off with a warning.
"""

import hashlib
import os
import time
import warnings
from pathlib import Path

from .offline import has_exit_record, last_logged_step

MODES = ("online", "offline", "disabled")
# W&B's own other names: "dryrun" is its older name for offline, "run" for online.
MODE_ALIASES = {"dryrun": "offline", "run": "online", "shared": "online"}
WANDB_KEYS = ("mode", "project", "entity", "dir")  # the settings Tracker.start takes
INIT_TIMEOUT_S = 15.0  # online start-up allowance; the offline fallback adds about a second


def resolve_mode(mode: str) -> str:
    """A mode of ``MODES`` for W&B's own names too; an unknown one logs offline, with a warning.

    W&B trouble must never stop training, so a mistyped ``WANDB_MODE`` is not an error here.
    """
    if mode in MODES:
        return mode
    if mode in MODE_ALIASES:
        return MODE_ALIASES[mode]
    warnings.warn(
        f"unknown W&B mode {mode!r} (allowed: {', '.join(MODES)}); logging offline", stacklevel=3
    )
    return "offline"


def stable_run_id(run_path: str) -> str:
    """A W&B run id fixed by the run's path, so a restarted job continues the same W&B run."""
    return hashlib.sha256(run_path.encode()).hexdigest()[:16]


def train_run_id(run_name: str, identity: str) -> str:
    """The W&B run of a run's training: a changed run (new identity) is a new W&B run."""
    return stable_run_id(f"{run_name}/{identity}")


def estimate_run_id(run_name: str, identity: str) -> str:
    """The W&B run that mirrors a run's estimates, keyed by its identity too."""
    return stable_run_id(f"{run_name}/{identity}/estimate")


class Tracker:
    """One W&B run at a time; every method is safe to call whatever state W&B is in."""

    def __init__(self, init_timeout: float = INIT_TIMEOUT_S):
        self.init_timeout = init_timeout
        self.run = None
        self.mode = "disabled"
        self.logged_through = None  # the last step earlier fragments of this run hold

    def start(
        self,
        run_id: str,
        name: str,
        group: str,
        job_type: str,
        config: dict,
        mode: str = "offline",
        project: str = "stationarity",
        entity: str | None = None,
        dir: Path | None = None,
    ) -> None:
        """Start (or resume) run ``run_id``, falling back to offline if online does not work.

        ``WANDB_MODE`` in the environment overrides ``mode`` (as in W&B), e.g. offline on nodes.
        """
        mode = resolve_mode(os.environ.get("WANDB_MODE", mode))
        if mode == "disabled":
            return
        # W&B's own usage analytics probe the server at exit, 10 s per try when it never answers;
        # they stay off unless the user turns them on.
        os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
        import wandb

        if dir is not None:
            Path(dir).mkdir(parents=True, exist_ok=True)
        options = dict(
            id=run_id, name=name, group=group, job_type=job_type, config=config,
            project=project, entity=entity, dir=dir, resume="allow",
        )  # fmt: skip
        if mode == "online":
            try:
                # prompt=False: a missing key must not block a batch job on an interactive prompt.
                if not wandb.login(prompt=False, verify=False):
                    raise RuntimeError("no W&B API key configured")
                settings = wandb.Settings(init_timeout=self.init_timeout, console="off")
                self.run, self.mode = wandb.init(mode="online", settings=settings, **options), mode
                return
            except Exception as err:  # any failure of the mirror must leave training running
                # The W&B service still holds the failed attempt's run id: start a fresh one of
                # our own, not the one a parent process may have passed down in WANDB_SERVICE.
                os.environ.pop("WANDB_SERVICE", None)
                wandb.teardown()
                warnings.warn(
                    f"W&B online start failed ({err}); logging offline instead under "
                    f"{dir or '.'}/wandb; upload later with `wandb sync`",
                    stacklevel=2,
                )
        try:
            # A resumed run retrains from its checkpoint the steps its killed process had logged:
            # log each step once across fragments, as the server would keep it.
            self.logged_through = last_logged_step(Path(dir or "."), run_id)
            settings = wandb.Settings(console="off")
            self.run = wandb.init(mode="offline", settings=settings, **options)
            self.mode = "offline"
        except Exception as err:
            warnings.warn(f"W&B offline start failed ({err}); tracking is off", stacklevel=2)

    def _call(self, what: str, action) -> None:
        if self.run is None:
            return
        try:
            action()
        except Exception as err:
            warnings.warn(f"W&B {what} failed ({err}); tracking is off from here", stacklevel=3)
            self.run = None

    def log(self, metrics: dict, step: int) -> None:
        """Log scalar metrics at ``step`` (the caller logs every N steps, not every step).

        A step an earlier fragment of the run already holds is not logged again.
        """
        if self.logged_through is not None and step <= self.logged_through:
            return
        self._call("log", lambda: self.run.log(metrics, step=step))

    def log_image(self, key: str, path: Path) -> None:
        """Log the image file at ``path`` under ``key``."""
        import wandb

        self._call("log_image", lambda: self.run.log({key: wandb.Image(str(path))}))

    def finish(self) -> None:
        """Close the run (it can be resumed later with the same id).

        Offline, W&B's service process may still be writing the run's file when ``finish``
        returns; wait until its exit record is on disk, so a job that ends next loses nothing.
        """
        sync_file = None
        if self.run is not None and self.mode == "offline":
            sync_file = Path(self.run.settings.sync_file)
        self._call("finish", lambda: self.run.finish())
        self.run = None
        if sync_file is not None and not _wait_for_exit_record(sync_file, FINISH_TIMEOUT_S):
            warnings.warn(
                f"W&B had not written the end of {sync_file} after {FINISH_TIMEOUT_S:.0f} s",
                stacklevel=2,
            )


FINISH_TIMEOUT_S = 30.0


def _wait_for_exit_record(path: Path, timeout_s: float) -> bool:
    """Whether the offline run file at ``path`` holds its exit record within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        if path.exists() and has_exit_record(path.read_bytes()):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)

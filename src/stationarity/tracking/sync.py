"""Upload a study's offline W&B runs from the login node: every fragment of a run, in order.

A run killed and resumed leaves one offline folder per process; `wandb sync` given all of them
uploads the fragments of one run in order of their start time. The Tracker logs each step once
across fragments, so the run's history on the server holds every step exactly once.
"""

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .offline import logged_steps, run_fragments

SYNC_TIMEOUT_S = 1800  # `wandb sync` retries for ever when the server does not answer
BACKOFF_S = (10, 60, 300)  # waits between attempts: a flaky login node, a server restart


class WandbUnavailable(RuntimeError):
    """W&B cannot be reached from here: no API key, or no route to the server."""


def upload_skipped(settings: dict) -> str | None:
    """Why nothing may be uploaded (W&B disabled, or offline-only here), or None if it may."""
    if settings.get("mode") == "disabled" or os.environ.get("WANDB_MODE") == "disabled":
        return "W&B is disabled (wandb.mode or WANDB_MODE): nothing to upload"
    if os.environ.get("WANDB_MODE") == "offline":
        return "W&B is offline-only here (WANDB_MODE=offline): runs stay on disk"
    return None


def check_server(timeout_s: float = 10.0) -> str:
    """The W&B server's URL if an API key is set and the server answers; else WandbUnavailable."""
    os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
    import wandb

    url = os.environ.get("WANDB_BASE_URL") or wandb.Settings().base_url
    if not wandb.login(prompt=False, verify=False):
        raise WandbUnavailable(
            f"no W&B API key: run `wandb login` or set WANDB_API_KEY (server {url})"
        )
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout_s).close()
    except OSError as err:
        raise WandbUnavailable(
            f"cannot reach the W&B server {url} ({err}): run this on a machine with internet, "
            "usually the cluster's login node"
        ) from err
    return url


def default_entity() -> str:
    """The W&B entity (user or team) of the API key in use; needs the server."""
    import wandb

    return wandb.Api().default_entity


def offline_runs(wandb_dir: Path) -> list[Path]:
    """The offline fragments under a study's W&B folder never uploaded, oldest first per run."""
    return [
        fragment
        for fragments in run_fragments(wandb_dir).values()
        for fragment in fragments
        if not any(fragment.glob("run-*.wandb.synced"))
    ]


@dataclass(frozen=True)
class SyncPlan:
    """What a sync uploads: the fragments, how many runs they belong to, their logged steps."""

    fragments: list[Path]
    runs: int
    steps: int

    def summary(self, done: bool) -> str:
        """One line: runs, fragments and steps uploaded (or that would be)."""
        verb = "uploaded" if done else "would upload"
        return (
            f"{verb} {self.runs} run(s) in {len(self.fragments)} fragment(s), "
            f"{self.steps} logged step(s)"
        )


def sync_plan(wandb_dir: Path) -> SyncPlan:
    """The fragments not yet uploaded under ``wandb_dir``, with their runs and steps."""
    fragments = offline_runs(wandb_dir)
    steps = sum(len(logged_steps(f)) for f in fragments if any(f.glob("run-*.wandb")))
    pending = set(fragments)
    runs = sum(1 for folders in run_fragments(wandb_dir).values() if pending & set(folders))
    return SyncPlan(fragments, runs, steps)


def wandb_sync_command(fragments: list[Path], dry_run: bool = False) -> list[str]:
    """`wandb sync` of the given fragments (W&B orders each run's fragments by start time)."""
    wandb = str(Path(sys.executable).with_name("wandb"))
    return [wandb, "sync", *(["--dry-run"] if dry_run else []), *map(str, fragments)]


def sync_offline_runs(
    wandb_dir: Path,
    timeout_s: float = SYNC_TIMEOUT_S,
    backoff_s: tuple[float, ...] = BACKOFF_S,
) -> SyncPlan:
    """Upload every fragment not yet uploaded, retrying with backoff; what was uploaded."""
    plan = sync_plan(wandb_dir)
    for attempt, wait in enumerate((*backoff_s, None)):
        remaining = offline_runs(wandb_dir)  # `wandb sync` marks each fragment it finishes
        if not remaining:
            break
        check_server()  # fail in seconds, not after the sync's endless retries
        try:
            subprocess.run(wandb_sync_command(remaining), check=True, timeout=timeout_s)
            break
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            if wait is None:
                raise WandbUnavailable(
                    f"`wandb sync` failed {attempt + 1} times, last: {err}; rerun to continue "
                    f"({len(offline_runs(wandb_dir))} fragment(s) left)"
                ) from err
            print(f"wandb sync failed ({err}); retrying in {wait:.0f} s", file=sys.stderr)
            time.sleep(wait)
    return plan

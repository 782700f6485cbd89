"""The one module that talks to Weights & Biases: a mirror of results, never their source.

W&B is imported lazily (it is slow to import and absent on some machines). Nothing here may fail
or stall training: online mode without an API key, or with a server that does not answer within
``init_timeout``, falls back to offline mode with a warning (upload later with ``wandb sync``);
any other W&B error turns tracking off with a warning.
"""

import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import time
import warnings
import zlib
from pathlib import Path
from urllib.parse import urlsplit

MODES = ("online", "offline", "disabled")
WANDB_KEYS = ("mode", "project", "entity", "dir")  # the settings Tracker.start takes
INIT_TIMEOUT_S = 15.0  # online start-up allowance; the offline fallback adds about a second


def stable_run_id(run_path: str) -> str:
    """A W&B run id fixed by the run's path, so a restarted job continues the same W&B run."""
    return hashlib.sha256(run_path.encode()).hexdigest()[:16]


class Tracker:
    """One W&B run at a time; every method is safe to call whatever state W&B is in."""

    def __init__(self, init_timeout: float = INIT_TIMEOUT_S):
        self.init_timeout = init_timeout
        self.run = None
        self.mode = "disabled"

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
        mode = os.environ.get("WANDB_MODE", mode)
        if mode not in MODES:
            raise ValueError(f"unknown W&B mode {mode!r}; allowed: {', '.join(MODES)}")
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
        """Log scalar metrics at ``step`` (the caller logs every N steps, not every step)."""
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
        if path.exists() and _has_exit_record(path.read_bytes()):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


# --- Uploading offline runs from the login node ----------------------------------------------
SYNC_TIMEOUT_S = 1800  # `wandb sync` retries for ever when the server does not answer


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
    """The offline runs under a study's W&B folder that were never uploaded."""
    runs = sorted(Path(wandb_dir).glob("wandb/offline-run-*"))
    return [run for run in runs if not any(run.glob("run-*.wandb.synced"))]


def sync_offline_runs(wandb_dir: Path, timeout_s: float = SYNC_TIMEOUT_S) -> list[Path]:
    """Upload the study's offline runs with `wandb sync`, within ``timeout_s``; the runs sent."""
    runs = offline_runs(wandb_dir)
    if not runs:
        return []
    check_server()  # fail in seconds, not after the sync's endless retries
    command = [str(Path(sys.executable).with_name("wandb")), "sync", *map(str, runs)]
    try:
        subprocess.run(command, check=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as err:
        raise WandbUnavailable(
            f"`wandb sync` did not finish within {timeout_s:.0f} s; rerun to continue"
        ) from err
    return runs


# --- Reading back an offline run -------------------------------------------------------------
# A .wandb file is a 7-byte header (b":W&B", uint16 magic, uint8 version) followed by 32 KiB
# blocks in the LevelDB log format: records of (crc32 uint32, length uint16, type uint8, payload);
# a payload longer than a block's rest is split into FIRST, MIDDLE..., LAST pieces.
BLOCK_SIZE = 32 * 1024
HEADER_SIZE = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _payloads(data: bytes):
    """The protobuf payloads in a .wandb file's bytes, stopping at a truncated tail."""
    if data[:4] != b":W&B":
        raise ValueError("not a .wandb file (bad header)")
    pos, pieces = HEADER_SIZE, []
    while pos + HEADER_SIZE <= len(data):
        block_left = BLOCK_SIZE - pos % BLOCK_SIZE
        if block_left < HEADER_SIZE:  # too small for a record header: padding
            pos += block_left
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER_SIZE])
        if kind == 0:  # zero fill to the end of the block
            pos += block_left
            continue
        payload = data[pos + HEADER_SIZE : pos + HEADER_SIZE + length]
        if len(payload) < length or zlib.crc32(bytes([kind]) + payload) != crc:
            return  # a killed writer leaves a partial record
        pos += HEADER_SIZE + length
        if kind == FULL:
            yield payload
        elif kind == FIRST:
            pieces = [payload]
        elif kind == MIDDLE:
            pieces.append(payload)
        elif kind == LAST:
            yield b"".join([*pieces, payload])


def _item_value(item):
    typed = item.WhichOneof("value") if "value" in item.DESCRIPTOR.oneofs_by_name else None
    if typed == "none":
        return None
    if typed == "json":
        return json.loads(item.json)
    if typed is not None:
        return getattr(item, typed)
    return json.loads(item.value_json)


def _merge_items(target: dict, items) -> dict:
    for item in items:
        keys = list(item.nested_key) or [item.key]
        node = target
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = _item_value(item)
    return target


def _records(data: bytes):
    """The parsed protobuf records in a .wandb file's bytes."""
    from wandb.proto import wandb_internal_pb2

    for payload in _payloads(data):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        yield record


def _has_exit_record(data: bytes) -> bool:
    if data[:4] != b":W&B":  # W&B has not written the header yet
        return False
    return any(record.WhichOneof("record_type") == "exit" for record in _records(data))


def read_offline_run(run_dir: Path) -> dict:
    """config, history (one dict per logged row), summary and exit_code of an offline run."""
    (path,) = Path(run_dir).glob("run-*.wandb")
    result = {"config": {}, "history": [], "summary": {}, "exit_code": None}
    for record in _records(path.read_bytes()):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            _merge_items(result["config"], record.run.config.update)
        elif kind == "config":
            _merge_items(result["config"], record.config.update)
        elif kind == "history":
            result["history"].append(_merge_items({}, record.history.item))
        elif kind == "summary":
            _merge_items(result["summary"], record.summary.update)
        elif kind == "exit":
            result["exit_code"] = record.exit.exit_code
    result["config"].pop("_wandb", None)
    return result

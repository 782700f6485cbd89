"""Offline W&B runs: upload them from the login node, and read one back from its .wandb file.

W&B 0.31 ships no reader of its own for these files, so ``read_offline_run`` parses the record log.
"""

import json
import os
import socket
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from urllib.parse import urlsplit

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


def has_exit_record(data: bytes) -> bool:
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

"""Offline W&B runs read back from their .wandb files: a resumed run's fragments and their steps.

W&B 0.31 ships no Python reader for these files (its record reader moved into the Go service,
wandb-core), so ``read_offline_run`` parses the record log itself.
"""

import json
import struct
import zlib
from pathlib import Path

# offline-run-YYYYMMDD_HHMMSS-<run id>: the start time first, so names sort in start order.
PREFIX_LENGTH = len("offline-run-20260101_000000-")


def run_fragments(wandb_dir: Path) -> dict[str, list[Path]]:
    """Each W&B run id under ``wandb_dir`` with its offline folders, oldest first.

    A run killed and resumed has one folder (fragment) per process that logged it.
    """
    fragments: dict[str, list[Path]] = {}
    for folder in sorted(Path(wandb_dir).glob("wandb/offline-run-*")):
        fragments.setdefault(folder.name[PREFIX_LENGTH:], []).append(folder)
    return fragments


def logged_steps(fragment: Path) -> list[int]:
    """The history steps one offline fragment holds, in the order they were logged."""
    return [row["_step"] for row in read_offline_run(fragment)["history"] if "_step" in row]


def last_logged_step(wandb_dir: Path, run_id: str) -> int | None:
    """The highest step any earlier fragment of ``run_id`` logged; None if there is none."""
    steps = [
        step
        for fragment in run_fragments(wandb_dir).get(run_id, [])
        if any(fragment.glob("run-*.wandb"))
        for step in logged_steps(fragment)
    ]
    return max(steps, default=None)


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

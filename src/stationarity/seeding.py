"""Seeds derived from a run seed and a purpose, so each random stream can be recreated alone."""

import hashlib


def derive_seed(seed: int, *purpose: object) -> int:
    """A 63-bit seed that depends only on ``seed`` and the ``purpose`` values, e.g. ("order", 3)."""
    text = "/".join(str(p) for p in (seed, *purpose))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1

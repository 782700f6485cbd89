"""Inner products of parameter-sized vectors in float64, the vectors flat or in parts.

A vector is a flat tensor or a list of tensors (its parts, shaped like the parameters): the sums
of a pass keep the gradients autograd returned rather than copying them into one flat buffer.
"""

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

Vector = Tensor | list[Tensor]

# Columns of the vectors converted to float64 at a time for their Gram matrix. Wide chunks: each
# chunk is one small matrix product, and on a loaded 2-core machine thousands of them (2^15
# columns for 11M parameters) took 2.6 s instead of 0.2 s, in thread synchronisation.
GRAM_CHUNK = 2**18


def parts_of(vector: Vector, sizes: Sequence[int] | None = None) -> list[Tensor]:
    """The vector's parts, each flat (a flat vector split by ``sizes``, or whole)."""
    if isinstance(vector, Tensor):
        flat = vector.reshape(-1)
        return list(flat.split(list(sizes))) if sizes is not None else [flat]
    return [part.reshape(-1) for part in vector]


def flat_copy(vector: Vector, dtype: torch.dtype | None = None) -> Tensor:
    """A new flat tensor holding the vector (in ``dtype``, default its own)."""
    parts = parts_of(vector)
    dtype = dtype or parts[0].dtype
    flat = torch.empty(sum(p.numel() for p in parts), dtype=dtype, device=parts[0].device)
    torch._foreach_copy_(list(flat.split([p.numel() for p in parts])), parts)
    return flat


def _columns(parts: list[Tensor], width: int) -> Iterator[list[tuple[int, Tensor]]]:
    """The parts cut into chunks of at most ``width`` columns: (offset in chunk, slice) lists."""
    chunk: list[tuple[int, Tensor]] = []
    used = 0
    for part in parts:
        start = 0
        while start < part.numel():
            take = min(width - used, part.numel() - start)
            chunk.append((used, part[start : start + take]))
            used, start = used + take, start + take
            if used == width:
                yield chunk
                chunk, used = [], 0
    if chunk:
        yield chunk


def gram_matrix(vectors: Sequence[Vector], device: torch.device) -> Tensor:
    """⟨v_i, v_j⟩ in float64 on ``device``, converting a chunk of columns at a time.

    The products of float32 numbers are exact in float64, so this is as accurate as float64
    copies of the vectors, without writing those copies (G parameter vectors of memory traffic).
    Vectors in parts must share their layout; flat ones are split to match it.
    """
    split = next((v for v in vectors if not isinstance(v, Tensor)), None)
    sizes = [p.numel() for p in split] if split is not None else None
    layouts = [parts_of(v, sizes) for v in vectors]
    count, length = len(vectors), sum(p.numel() for p in layouts[0])
    gram = torch.zeros(count, count, dtype=torch.float64, device=device)
    scratch = torch.empty(count, min(GRAM_CHUNK, length), dtype=torch.float64, device=device)
    chunks = zip(*(_columns(parts, GRAM_CHUNK) for parts in layouts), strict=True)
    for chunk in chunks:
        width = chunk[0][-1][0] + chunk[0][-1][1].numel()
        for row, pieces in zip(scratch, chunk, strict=True):  # one call per row: many parts
            targets = [row[offset : offset + piece.numel()] for offset, piece in pieces]
            torch._foreach_copy_(targets, [piece for _, piece in pieces], non_blocking=True)
        block = scratch[:, :width]
        gram.addmm_(block, block.T)
    return gram

"""Language modelling as the training loop sees it: ordered segments with memory, and a loss.

As in Transformer-XL's ``LMOrderedIterator``: the training stream is cut into ``batch_size``
parallel streams; step b of an epoch reads tokens [b·L, b·L + L) of every stream (the last step
reads what is left) and predicts each next token. The memory that each segment leaves for the next
is part of the task's state: it is saved with every checkpoint, so a resumed run continues with
the very memory it had, and is reset at the start of every epoch.
"""

import math
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from ..data import load_text_corpus

Batch = tuple[Tensor, Tensor]


class LmTask:
    """Mean next-token cross-entropy over ordered segments of ``segment_len`` tokens."""

    def __init__(self, tokens: Tensor, batch_size: int, segment_len: int, device: torch.device):
        steps = len(tokens) // batch_size  # tokens per stream; the remainder is dropped
        if steps < 2:
            raise ValueError(f"{len(tokens)} tokens cannot fill {batch_size} streams")
        self.streams = tokens[: steps * batch_size].view(batch_size, steps).to(device)
        self.segment_len = segment_len
        self.steps_per_epoch = math.ceil((steps - 1) / segment_len)
        self.memory: list[Tensor] | None = None

    def batches(self, epoch: int, start: int) -> Iterator[Batch]:
        """Segments ``start``, ``start`` + 1, … of an epoch (every epoch reads the same order)."""
        if start == 0:
            self.memory = None  # each epoch starts without memory, as the reference's
        length = self.streams.shape[1]
        for b in range(start, self.steps_per_epoch):
            i = b * self.segment_len
            end = min(i + self.segment_len, length - 1)
            yield self.streams[:, i:end].long(), self.streams[:, i + 1 : end + 1].long()

    def loss(self, model: nn.Module, batch: Batch) -> Tensor:
        """Mean −log p over the segment's tokens; keeps the memory for the next segment."""
        nll, self.memory = model(*batch, self.memory)
        return nll.mean()

    @staticmethod
    def batch_samples(batch: Batch) -> int:
        """Tokens in a batch, for throughput."""
        return batch[1].numel()

    def state_dict(self) -> dict:
        """What a checkpoint must hold to continue the data stream: the memory."""
        return {"memory": self.memory}

    def load_state_dict(self, state: dict) -> None:
        """Continue from a checkpoint's memory."""
        self.memory = state["memory"]


def build_lm_task(data: dict, batch_size: int, device: torch.device) -> tuple[LmTask, int]:
    """The task on a prepared corpus (config ``data``: name, root, tgt_len); the vocabulary size."""
    unknown = sorted(set(data) - {"name", "root", "tgt_len", "revision"})
    if unknown:
        raise ValueError(f"data set {data['name']!r} has unknown option(s) {', '.join(unknown)}")
    corpus = load_text_corpus(data["name"], data["root"], data.get("revision"))
    task = LmTask(corpus.splits["train"], batch_size, data["tgt_len"], device)
    return task, len(corpus.vocab)

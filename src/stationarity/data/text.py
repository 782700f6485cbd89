"""Word-level corpora as Transformer-XL reads them: a vocabulary and one token stream per split.

A corpus is prepared once, on a node with the data (the login-node rule ``prepare_data``): its text
is kept as a Hugging Face ``DatasetDict`` (column ``text``, one row per line) under ``<root>/text``
with ``save_to_disk``, then encoded into ``<root>/corpus.pt``, which also records the Hub revision
the text came from. Training jobs read only ``corpus.pt`` and refuse one of another revision.
Encoding follows the reference (kimiyoung/transformer-xl ``Vocab``): whitespace tokens, ``<eos>``
after every line (blank lines too), a vocabulary from the training split only with ``<eos>`` at
index 0 and then the tokens by descending count, ties in order of first appearance
(``Counter.most_common``).
"""

import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..files import atomic_write_bytes

EOS = "<eos>"
SPLITS = {"train": "train", "validation": "valid", "test": "test"}  # HF name -> our name


@dataclass
class TextCorpus:
    """The vocabulary (index -> word) and each split as a 1-D tensor of token ids."""

    vocab: list[str]
    splits: dict[str, Tensor]


def line_tokens(line: str) -> list[str]:
    """The tokens of one line of text, ``<eos>`` included."""
    return [*line.split(), EOS]


def build_vocab(lines: Iterable[str]) -> list[str]:
    """``<eos>``, then every token of ``lines`` by descending count (ties: first seen first)."""
    counts = Counter()
    for line in lines:
        counts.update(line.split())
    return [EOS, *(word for word, _ in counts.most_common() if word != EOS)]


def encode(lines: Iterable[str], index: dict[str, int], split: str) -> Tensor:
    """The concatenated token ids of ``lines``; every token must be in the vocabulary."""
    try:
        ids = [index[word] for line in lines for word in line_tokens(line)]
    except KeyError as err:
        word = err.args[0]
        raise ValueError(f"{split}: token {word!r} is not in the training vocabulary") from err
    return torch.tensor(ids, dtype=torch.int32)  # int32 halves the 103M-token file


def corpus_path(root: Path) -> Path:
    """Where the encoded corpus of a prepared data root lives."""
    return Path(root) / "corpus.pt"


def text_path(root: Path) -> Path:
    """Where the prepared text (a saved Hugging Face DatasetDict) lives."""
    return Path(root) / "text"


class DataRevisionError(ValueError):
    """A prepared corpus came from another revision of its source than the config names."""


def encode_saved_text(root: Path, revision: str | None = None) -> Path:
    """Encode the DatasetDict saved under ``root`` (from ``revision``) into ``corpus.pt``."""
    import datasets  # slow to import; only preparation needs it

    texts = datasets.load_from_disk(str(text_path(root)))
    vocab = build_vocab(texts["train"]["text"])
    index = {word: i for i, word in enumerate(vocab)}
    splits = {
        ours: encode(texts[theirs]["text"], index, theirs)
        for theirs, ours in SPLITS.items()
        if theirs in texts
    }
    buf = io.BytesIO()
    torch.save({"vocab": vocab, "splits": splits, "revision": revision}, buf)
    atomic_write_bytes(corpus_path(root), buf.getvalue())
    return corpus_path(root)


def save_text(texts, root: Path, revision: str | None = None) -> Path:
    """Keep a DatasetDict of text (from ``revision``) under ``root``, encode it; ``corpus.pt``."""
    texts.save_to_disk(str(text_path(root)))
    return encode_saved_text(root, revision)


def _revision(revision: str | None) -> str:
    return f"revision {revision}" if revision else "no pinned revision (the Hub's main then)"


def load_text_corpus(name: str, root: Path, revision: str | None = None) -> TextCorpus:
    """The corpus ``name`` prepared under ``root`` from ``revision``; never downloads anything."""
    path = corpus_path(root)
    if not path.exists():
        raise FileNotFoundError(
            f"{name} was never prepared under {root} ({path} is missing). Run the localrule "
            f"prepare_data on a node with internet, e.g. on the login node: `snakemake "
            f"--profile slurm {Path(root) / f'.prepared-{name}.json'}` (every workflow target "
            f"runs it first), or stationarity.data.prepare.prepare_data({name!r}, {str(root)!r})."
        )
    state = torch.load(path, weights_only=True)
    prepared = state.get("revision")  # None: unpinned, or prepared before revisions were recorded
    if prepared != revision:
        raise DataRevisionError(
            f"{root} holds {name} prepared at {_revision(prepared)}, but the config asks for "
            f"{_revision(revision)} (data.revision): prepare it again into another root (a new "
            "data.root) rather than overwrite data that other runs may have used"
        )
    return TextCorpus(state["vocab"], state["splits"])


class ContextSegments(Dataset):
    """Segments of ``length`` tokens of a stream, each preceded by ``context`` earlier tokens.

    Item k is (window, targets): the window holds the ``context + length`` tokens ending with
    segment k and the token after it; targets are the next token of each of the segment's
    positions (the window's last ``length``). The statistics feed such items to the model wrapped
    by ``stationarity.models.transformer_xl.WithContext``, which scores the targets in the window.
    """

    def __init__(self, tokens: Tensor, length: int, context: int):
        self.tokens, self.length, self.context = tokens, length, context

    def __len__(self) -> int:
        return max(0, (len(self.tokens) - self.context - 1) // self.length)

    def __getitem__(self, k: int) -> tuple[Tensor, Tensor]:
        start = k * self.length
        window = self.tokens[start : start + self.context + self.length + 1].long()
        return window, window[self.context + 1 :]

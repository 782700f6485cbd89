"""The demo corpus: the real Wikipedia excerpt that ships with gensim, made to look like WikiText.

106 articles (about 600k tokens) remain after dropping redirects and stubs. Each article becomes a
title line ``= Title =`` and one line per paragraph, tokenised as WikiText is (words and
punctuation apart, ``@-@`` for a hyphen inside a word, ``= = Heading = =``). Every tenth article
goes to the validation split. Words seen fewer than ``MIN_COUNT`` times in the training split
become ``<unk>`` (WikiText-103 used 3): 5 keeps about 10k types, which a CPU trains on in seconds.
"""

import bz2
import re
from collections import Counter
from pathlib import Path

from .text import save_text

EXCERPT = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
MIN_ARTICLE_WORDS = 50  # shorter pages are redirects and stubs
MIN_COUNT = 5
VALID_EVERY = 10
UNK = "<unk>"

EMPHASIS = re.compile(r"'{2,}")  # wiki bold and italics
INNER_HYPHEN = re.compile(r"(?<=\w)-(?=\w)")
TOKEN = re.compile(r"@-@|\w+|[^\w\s]")


def wikitext_tokens(text: str) -> list[str]:
    """WikiText-style tokens of one line of article text."""
    return TOKEN.findall(INNER_HYPHEN.sub(" @-@ ", EMPHASIS.sub("", text)))


def article_lines(title: str, text: str) -> list[list[str]]:
    """The title line, then one token list per non-empty paragraph."""
    paragraphs = (wikitext_tokens(p) for p in text.split("\n"))
    return [["=", *wikitext_tokens(title), "="], *(p for p in paragraphs if p)]


def read_articles() -> list[tuple[str, str]]:
    """(title, plain text) of every real article of gensim's excerpt."""
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki
    from gensim.test.utils import datapath

    with bz2.open(datapath(EXCERPT)) as f:
        pages = [(title, filter_wiki(text)) for title, text, _ in extract_pages(f)]
    return [(t, text) for t, text in pages if len(text.split()) >= MIN_ARTICLE_WORDS]


def with_unknowns(lines: list[list[str]], known: set[str]) -> list[str]:
    """Lines as text, words outside ``known`` replaced by ``<unk>``."""
    return [" ".join(w if w in known else UNK for w in line) for line in lines]


def wikipedia_demo_text():
    """The excerpt as a DatasetDict with ``train`` and ``validation`` splits (column ``text``)."""
    import datasets  # slow to import; only preparation needs it

    splits = {"train": [], "validation": []}
    for k, (title, text) in enumerate(read_articles()):
        split = "validation" if k % VALID_EVERY == VALID_EVERY - 1 else "train"
        splits[split] += article_lines(title, text)
    counts = Counter(word for line in splits["train"] for word in line)
    known = {word for word, count in counts.items() if count >= MIN_COUNT}
    return datasets.DatasetDict(
        {
            name: datasets.Dataset.from_dict({"text": with_unknowns(lines, known)})
            for name, lines in splits.items()
        }
    )


def prepare_wikipedia_demo(root: Path) -> Path:
    """Build the demo corpus from gensim's excerpt under ``root``; return ``corpus.pt``."""
    return save_text(wikipedia_demo_text(), root)

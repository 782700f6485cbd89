"""Word-level corpora: vocabulary and encoding as the reference, preparation and loading offline."""

import time

import datasets
import pytest
import torch

from stationarity.data import ContextSegments, load_text_corpus
from stationarity.data.prepare import prepare_data
from stationarity.data.text import DataRevisionError, build_vocab, encode
from stationarity.data.wikipedia_demo import article_lines, wikitext_tokens, with_unknowns
from stationarity.data.wikitext103 import download_wikitext103, prepare_wikitext103

# Rows as the Hub's wikitext-103-v1 has them: a blank row, a heading, text with a trailing newline.
ROWS = {
    "train": ["", " = Valkyria = \n", " the cat sat on the mat . \n", "", " the dog . \n"],
    "validation": [" the cat . \n", ""],
    "test": [" = dog = \n"],
}


def tiny_wikitext(revision=None):
    """A DatasetDict shaped like the Hub's WikiText-103 (at any revision)."""
    return datasets.DatasetDict(
        {split: datasets.Dataset.from_dict({"text": rows}) for split, rows in ROWS.items()}
    )


def test_vocabulary_has_eos_first_then_descending_counts_ties_by_first_appearance():
    vocab = build_vocab(ROWS["train"])
    # counts: the 3, "." 2, "=" 2, then once each in order of appearance
    assert vocab[:4] == ["<eos>", "the", "=", "."]
    assert vocab[4:] == ["Valkyria", "cat", "sat", "on", "mat", "dog"]


def test_every_line_ends_with_eos_blank_lines_too():
    vocab = build_vocab(ROWS["train"])
    index = {w: i for i, w in enumerate(vocab)}
    ids = encode(["", " a b \n"], {**index, "a": 10, "b": 11}, "x").tolist()
    assert ids == [0, 10, 11, 0]
    with pytest.raises(ValueError, match="'zebra' is not in the training vocabulary"):
        encode(["zebra"], index, "validation")


def test_wikitext_is_saved_to_disk_and_loaded_offline(tmp_path):
    corpus_file = prepare_wikitext103(tmp_path, download=tiny_wikitext)
    assert corpus_file.is_file() and (tmp_path / "text" / "dataset_dict.json").is_file()
    corpus = load_text_corpus("wikitext103", tmp_path)
    words = [[corpus.vocab[i] for i in corpus.splits[s].tolist()] for s in ("train", "valid")]
    assert words[0][:6] == ["<eos>", "=", "Valkyria", "=", "<eos>", "the"]
    assert len(corpus.splits["train"]) == 13 + 5  # 13 words and one <eos> per row
    assert words[1] == ["the", "cat", ".", "<eos>", "<eos>"]
    assert corpus.splits["test"].dtype == torch.int32


def test_a_never_prepared_root_fails_at_once_naming_the_rule(tmp_path):
    start = time.monotonic()
    with pytest.raises(FileNotFoundError, match="Run the localrule prepare_data") as err:
        load_text_corpus("wikitext103", tmp_path / "nowhere")
    assert time.monotonic() - start < 1
    assert ".prepared-wikitext103.json" in str(err.value)


def test_download_without_network_fails_fast_saying_where_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache: nothing to fall back on
    start = time.monotonic()
    with pytest.raises(ConnectionError, match="run it on the login node"):
        download_wikitext103()
    assert time.monotonic() - start < 10


def test_prepare_data_knows_the_text_sets(tmp_path, monkeypatch):
    monkeypatch.setattr(
        "stationarity.data.prepare.prepare_wikitext103",
        lambda root, revision: prepare_wikitext103(root, revision, download=tiny_wikitext),
    )
    assert prepare_data("wikitext103", tmp_path, config_key="k").name == "corpus.pt"
    with pytest.raises(ValueError, match="'wikipedia_demo' comes from no Hub repository"):
        prepare_data("wikipedia_demo", tmp_path, config_key="k", revision="abc")


def test_the_revision_reaches_the_hub_and_the_corpus(tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr(
        datasets, "load_dataset", lambda *args, **kw: asked.append((args, kw)) or tiny_wikitext()
    )
    prepare_data("wikitext103", tmp_path, config_key="k", revision="b08601e")
    assert asked == [(("Salesforce/wikitext", "wikitext-103-v1"), {"revision": "b08601e"})]
    assert len(load_text_corpus("wikitext103", tmp_path, revision="b08601e").vocab) == 10


@pytest.mark.parametrize(
    ("prepared", "asked", "shown"),
    [
        ("aaaa111", "bbbb222", ["revision aaaa111", "revision bbbb222"]),
        (None, "bbbb222", ["no pinned revision", "revision bbbb222"]),
        ("aaaa111", None, ["revision aaaa111", "no pinned revision"]),
    ],
)
def test_a_corpus_of_another_revision_is_refused_saying_what_to_do(
    tmp_path, prepared, asked, shown
):
    prepare_wikitext103(tmp_path, prepared, download=tiny_wikitext)
    with pytest.raises(DataRevisionError) as err:
        load_text_corpus("wikitext103", tmp_path, revision=asked)
    message = str(err.value)
    assert "\n" not in message and str(tmp_path) in message
    assert message.index(shown[0]) < message.index(shown[1])  # prepared first, then the config's
    assert "prepare it again into another root" in message


def test_wikipedia_text_is_tokenised_like_wikitext():
    assert wikitext_tokens("'''Anarchism''' is self-governed, (mostly).") == [
        *["Anarchism", "is", "self", "@-@", "governed", ",", "(", "mostly", ")", "."]
    ]
    lines = article_lines("Red Fox", "A fox.\n\n==Range==\nIt runs.")
    assert lines[0] == ["=", "Red", "Fox", "="]
    assert lines[2] == ["=", "=", "Range", "=", "="]
    assert with_unknowns(lines[1:2], {"A", "."}) == ["A <unk> ."]


def test_context_segments_pair_windows_with_next_tokens():
    tokens = torch.arange(20, dtype=torch.int32)
    segments = ContextSegments(tokens, length=4, context=3)
    assert len(segments) == (20 - 3 - 1) // 4
    window, targets = segments[1]
    assert window.tolist() == list(range(4, 12)) and targets.tolist() == list(range(8, 12))
    last_inputs, last_targets = segments[len(segments) - 1]
    assert last_targets[-1] <= 19

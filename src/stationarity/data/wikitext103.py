"""WikiText-103 (tokenized v1, the release Transformer-XL used) from the Hugging Face Hub."""

from pathlib import Path

from .text import save_text

HUB_ID, HUB_CONFIG = "Salesforce/wikitext", "wikitext-103-v1"


def download_wikitext103(revision: str | None = None):
    """The three splits at ``revision`` (None: main) as a DatasetDict, from the Hub (internet)."""
    import datasets  # slow to import; only preparation needs it

    try:
        return datasets.load_dataset(HUB_ID, HUB_CONFIG, revision=revision)
    except ConnectionError as err:
        raise ConnectionError(
            f"cannot download {HUB_ID} ({HUB_CONFIG}): {err}. The localrule prepare_data needs "
            "internet: run it on the login node, with HF_HUB_OFFLINE and HF_DATASETS_OFFLINE unset"
        ) from err


def prepare_wikitext103(
    root: Path, revision: str | None = None, download=download_wikitext103
) -> Path:
    """Download WikiText-103 at ``revision``, keep it under ``root``, encode it; ``corpus.pt``."""
    return save_text(download(revision), root, revision)

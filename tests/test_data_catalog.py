"""One table of data sets: every entry has a preparer, a loader and the facts planning needs."""

import subprocess
import sys

import pytest

from stationarity.data import build_image_data
from stationarity.data.catalog import CATALOG, IMAGE_SETS, TEXT_SETS, data_set
from stationarity.data.prepare import PREPARERS


def test_every_data_set_has_a_preparer_and_image_sets_a_size():
    assert set(PREPARERS) == set(CATALOG)
    assert set(IMAGE_SETS) | set(TEXT_SETS) == set(CATALOG)
    assert all(CATALOG[name].train_size > 0 for name in IMAGE_SETS)
    assert {name for name, entry in CATALOG.items() if entry.bundled} == {
        "mnist5k", "digits", "wikipedia_demo",
    }  # fmt: skip


def test_the_catalog_is_torch_free_so_planning_never_loads_torch():
    code = "import sys, stationarity.plan; assert 'torch' not in sys.modules, 'torch loaded'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_unknown_data_sets_are_named_with_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match="unknown data set 'svhn'.*imagenet, cifar10"):
        data_set("svhn")
    with pytest.raises(ValueError, match="unknown data set 'wikitext103' for images"):
        build_image_data("wikitext103", tmp_path, seed=0)

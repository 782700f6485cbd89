import hashlib
import io
import json
import os
import tarfile

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from stationarity.data import build_image_data, checksums, prepare_imagenet
from stationarity.data.catalog import IMAGENET_ARCHIVES
from stationarity.data.checksums import ChecksumError

torch.set_num_threads(1)

WNIDS = ["n01440764", "n01443537", "n01484850"]  # ILSVRC2012_IDs 1, 2, 3
VAL_LABELS = [2, 1, 3, 3, 1, 2]  # ILSVRC2012_IDs of val images 1..6


def _jpeg(seed):
    pixels = np.random.default_rng(seed).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG")
    return buf.getvalue()


def _add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _devkit(path):
    fields = [
        "ILSVRC2012_ID",
        "WNID",
        "words",
        "gloss",
        "num_children",
        "wordnet_height",
        "num_train_images",
    ]
    synsets = np.zeros(4, dtype=[(f, object) for f in fields])
    for i, wnid in enumerate(WNIDS):
        synsets[i] = (i + 1, wnid, f"words {i}", "gloss", 0, 0, 4)
    synsets[3] = (1001, "n00001740", "entity", "gloss", 3, 18, 0)  # an inner node: not a class
    mat = io.BytesIO()
    scipy.io.savemat(mat, {"synsets": synsets})
    labels = "".join(f"{i}\n" for i in VAL_LABELS).encode()
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "ILSVRC2012_devkit_t12/data/meta.mat", mat.getvalue())
        _add(tar, "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt", labels)


@pytest.fixture
def archives(tmp_path):
    """The three archives in the real layout, with 4 training images per class and 6 val images."""
    root = tmp_path / "archives"
    root.mkdir()
    with tarfile.open(root / "ILSVRC2012_img_train.tar", "w") as outer:
        for c, wnid in enumerate(WNIDS):
            inner = io.BytesIO()
            with tarfile.open(fileobj=inner, mode="w") as tar:
                for k in range(4):
                    _add(tar, f"{wnid}_{k}.JPEG", _jpeg(10 * c + k))
            _add(outer, f"{wnid}.tar", inner.getvalue())
    with tarfile.open(root / "ILSVRC2012_img_val.tar", "w") as tar:
        for k in range(len(VAL_LABELS)):
            _add(tar, f"ILSVRC2012_val_{k + 1:08d}.JPEG", _jpeg(100 + k))
    _devkit(root / "ILSVRC2012_devkit_t12.tar.gz")
    return root


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def published(archives, monkeypatch):
    """The catalog's published sums replaced by those of the fake archives: role -> md5."""
    sums = {}
    for role, (name, _) in list(IMAGENET_ARCHIVES.items()):
        sums[role] = _md5(archives / name)
        monkeypatch.setitem(IMAGENET_ARCHIVES, role, (name, sums[role]))
    return sums


def test_prepare_and_load_the_imagefolder_layout(archives, published, tmp_path):
    out = tmp_path / "imagenet"
    marker = prepare_imagenet(archives, out)
    assert json.loads(marker.read_text()) == {"classes": 3, "train": 12, "val": 6}
    assert sorted(p.name for p in (out / "train").iterdir()) == WNIDS
    assert sorted(p.name for p in (out / "val" / WNIDS[2]).iterdir()) == [
        "ILSVRC2012_val_00000003.JPEG",
        "ILSVRC2012_val_00000004.JPEG",
    ]
    assert (out / "classes.tsv").read_text().splitlines()[1] == "0\tn01440764\twords 0"

    data = build_image_data("imagenet", out, seed=0)
    assert data.num_classes == 3 and data.input_shape == (3, 224, 224)
    assert data.batch_augment is None
    x, y = data.train[5]
    assert x.shape == (3, 224, 224) and y == 1
    clean_x, clean_y = data.clean[5]
    assert torch.equal(clean_x, data.clean[5][0]) and clean_y == 1  # no randomness without aug
    assert data.train.transform is not data.clean.transform


def test_prepare_resumes_after_a_kill(archives, published, tmp_path):
    out = tmp_path / "imagenet"
    (out / "train" / f"{WNIDS[1]}.partial").mkdir(parents=True)  # a class half-extracted
    (out / "train" / f"{WNIDS[1]}.partial" / "junk.JPEG").write_bytes(b"")
    (out / "val.partial").mkdir()
    prepare_imagenet(archives, out)
    assert len(list((out / "train" / WNIDS[1]).iterdir())) == 4
    assert not any(p.name.endswith(".partial") for p in (out / "train").iterdir())
    assert prepare_imagenet(archives, out) == out / "prepared.json"  # a second call is a no-op


def test_missing_archives_name_the_files_and_the_config_key(tmp_path):
    (tmp_path / "ILSVRC2012_img_val.tar").write_bytes(b"")
    with pytest.raises(FileNotFoundError) as err:
        prepare_imagenet(tmp_path, tmp_path / "out", config_key="experiments.imagenet.data.root")
    message = str(err.value)
    assert "ILSVRC2012_img_train.tar, ILSVRC2012_devkit_t12.tar.gz" in message
    assert "experiments.imagenet.data.root" in message


def test_loading_before_preparing_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="prepare_imagenet"):
        build_image_data("imagenet", tmp_path, seed=0)


def test_archives_that_are_not_imagenet_stop_before_unpacking_naming_each_sum(archives, tmp_path):
    # The fake archives against the real published sums: three corrupt archives.
    with pytest.raises(ChecksumError) as err:
        prepare_imagenet(archives, tmp_path / "out")
    message = str(err.value)
    assert "\n" not in message and "download them again from https://image-net.org" in message
    for name, expected in IMAGENET_ARCHIVES.values():
        assert f"{name} has md5 {_md5(archives / name)}, expected {expected}" in message
    assert not (tmp_path / "out").exists()  # nothing unpacked from a bad archive


def test_a_truncated_archive_is_named_and_the_good_ones_are_not_hashed_again(
    archives, published, tmp_path, monkeypatch
):
    train = archives / "ILSVRC2012_img_train.tar"
    train.write_bytes(train.read_bytes()[:-1024])
    with pytest.raises(ChecksumError, match="ILSVRC2012_img_train.tar has md5") as err:
        prepare_imagenet(archives, tmp_path / "out")
    assert f"{_md5(train)}, expected {published['train']}" in str(err.value)
    assert "ILSVRC2012_img_val.tar" not in str(err.value)
    hashed = []
    monkeypatch.setattr(checksums, "md5_of", lambda path: hashed.append(path.name) or _md5(path))
    with pytest.raises(ChecksumError):
        prepare_imagenet(archives, tmp_path / "out")
    assert hashed == ["ILSVRC2012_img_train.tar"]  # val and devkit were recorded as good


def test_archives_are_hashed_once_unless_they_change(archives, published, tmp_path, monkeypatch):
    prepare_imagenet(archives, tmp_path / "first")
    record = json.loads((archives / checksums.RECORD).read_text())
    assert {name: entry["md5"] for name, entry in record.items()} == {
        name: published[role] for role, (name, _) in IMAGENET_ARCHIVES.items()
    }
    hashed = []
    monkeypatch.setattr(checksums, "md5_of", lambda path: hashed.append(path.name) or _md5(path))
    prepare_imagenet(archives, tmp_path / "second")
    assert hashed == []
    val = archives / "ILSVRC2012_img_val.tar"
    later = val.stat().st_mtime_ns + 10**9
    os.utime(val, ns=(later, later))  # touched (say, copied again): hashed again
    prepare_imagenet(archives, tmp_path / "third")
    assert hashed == ["ILSVRC2012_img_val.tar"]

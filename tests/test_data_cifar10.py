import functools
import hashlib
import http.server
import io
import json
import pickle
import socket
import tarfile
import threading
import time

import numpy as np
import pytest
import torch
from torchvision import datasets

from stationarity.data import build_image_data, download_cifar10
from stationarity.data.catalog import CIFAR10_ARCHIVES
from stationarity.data.checksums import RECORD, ChecksumError

torch.set_num_threads(1)

FILES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"]
TARBALL, PUBLISHED = CIFAR10_ARCHIVES["python"]  # the real archive's name and published md5


@pytest.fixture
def black_hole():
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def _md5(data):
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def fake_cifar_server(tmp_path, monkeypatch):
    """A local HTTP server with a tiny archive in CIFAR-10's layout; its md5 as torchvision's and
    the catalog's published sum. Yields that md5."""
    rng = np.random.default_rng(0)
    members = {}
    for name in [*FILES, "test_batch"]:
        batch = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": [0, 1, 2, 3]}
        members[name] = pickle.dumps(batch)
    members["batches.meta"] = pickle.dumps({"label_names": [f"class{i}" for i in range(10)]})
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    served = tmp_path / "served"
    served.mkdir()
    (served / "cifar-10-python.tar.gz").write_bytes(archive.getvalue())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=served)
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cls = datasets.CIFAR10
    monkeypatch.setattr(cls, "url", f"http://127.0.0.1:{server.server_port}/cifar-10-python.tar.gz")
    monkeypatch.setattr(cls, "tgz_md5", _md5(archive.getvalue()))
    monkeypatch.setattr(cls, "train_list", [[f, _md5(members[f])] for f in FILES])
    monkeypatch.setattr(cls, "test_list", [["test_batch", _md5(members["test_batch"])]])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": _md5(members["batches.meta"])})
    monkeypatch.setitem(CIFAR10_ARCHIVES, "python", (TARBALL, _md5(archive.getvalue())))
    yield _md5(archive.getvalue())
    server.shutdown()


def test_download_and_load_through_torchvision(fake_cifar_server, tmp_path):
    folder = download_cifar10(tmp_path / "cifar10", timeout_s=5)
    assert {p.name for p in folder.iterdir()} == {*FILES, "batches.meta", "test_batch"}
    data = build_image_data("cifar10", tmp_path / "cifar10", seed=0)
    assert len(data.train) == 20 and data.num_classes == 10 and data.input_shape == (3, 32, 32)
    x, y = data.train[1]
    assert x.shape == (3, 32, 32) and y == 1
    torch.manual_seed(0)
    crops = {tuple(data.train[1][0].flatten()[:50].tolist()) for _ in range(8)}
    assert len(crops) > 1  # random crop + flip
    assert torch.equal(data.clean[1][0], data.clean[1][0])


def test_the_kept_tarball_is_checked_and_recorded(fake_cifar_server, tmp_path):
    download_cifar10(tmp_path, timeout_s=5)
    assert json.loads((tmp_path / RECORD).read_text())[TARBALL]["md5"] == fake_cifar_server


def test_a_tarball_unlike_the_published_one_is_named_with_both_sums(
    fake_cifar_server, tmp_path, monkeypatch
):
    monkeypatch.setitem(CIFAR10_ARCHIVES, "python", (TARBALL, PUBLISHED))
    with pytest.raises(ChecksumError, match=f"{TARBALL} has md5 {fake_cifar_server}, expected"):
        download_cifar10(tmp_path, timeout_s=5)
    # torchvision's own check fails first (it says only "corrupted"): the same message.
    monkeypatch.setattr(datasets.CIFAR10, "tgz_md5", PUBLISHED)
    with pytest.raises(ChecksumError, match=f"expected {PUBLISHED}"):
        download_cifar10(tmp_path / "again", timeout_s=5)


def test_download_fails_fast_against_a_server_that_never_answers(black_hole, tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.CIFAR10, "url", f"{black_hole}/cifar-10-python.tar.gz")
    previous, start = socket.getdefaulttimeout(), time.monotonic()
    with pytest.raises(RuntimeError, match="could not download CIFAR-10"):
        download_cifar10(tmp_path, timeout_s=1)
    assert time.monotonic() - start < 10
    assert socket.getdefaulttimeout() == previous  # the global timeout is restored


def test_download_fails_at_once_when_the_name_does_not_resolve(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.CIFAR10, "url", "https://cifar.invalid/cifar-10-python.tar.gz")
    with pytest.raises(RuntimeError, match="place cifar-10-python.tar.gz in"):
        download_cifar10(tmp_path, timeout_s=1)


def test_loading_before_downloading_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="download_cifar10"):
        build_image_data("cifar10", tmp_path, seed=0)

import numpy as np
import pytest
import torch

from stationarity.data import build_image_data, prepare_demo
from stationarity.data.augment import batch_augmentation, random_affine, random_shift

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    prepare_demo("digits", root)
    prepare_demo("mnist5k", root)
    return root


def test_prepare_caches_the_raw_pixels(demo_root):
    with np.load(demo_root / "mnist5k.npz") as arrays:
        assert arrays["images"].shape == (5000, 28, 28) and arrays["images"].dtype == np.uint8
        assert np.bincount(arrays["labels"]).tolist() == [500] * 10
    with np.load(demo_root / "digits.npz") as arrays:
        assert arrays["images"].shape == (1797, 8, 8) and arrays["images"].max() == 16


def test_mnist5k_pooled_to_14_and_standardised(demo_root):
    data = build_image_data("mnist5k", demo_root, seed=0, resize=14, augment="affine")
    assert data.input_shape == (1, 14, 14) and data.num_classes == 10
    images = data.train.images
    assert images.shape == (5000, 1, 14, 14)
    assert abs(images.mean().item()) < 1e-4 and abs(images.std().item() - 1) < 1e-4
    assert data.batch_augment is random_affine
    assert data.clean is data.train  # augmentation happens per batch, so the samples are shared


def test_label_noise_is_fixed_by_the_seed(demo_root):
    clean = build_image_data("digits", demo_root, seed=0).train.labels
    a = build_image_data("digits", demo_root, seed=1, label_noise=0.3).train.labels
    b = build_image_data("digits", demo_root, seed=1, label_noise=0.3).train.labels
    c = build_image_data("digits", demo_root, seed=2, label_noise=0.3).train.labels
    assert torch.equal(a, b) and not torch.equal(a, c)
    wrong = (a != clean).float().mean().item()
    assert 0.22 < wrong < 0.32  # 30 % replaced, a tenth of those by the right label


def test_bad_options_and_missing_cache_are_clear(demo_root, tmp_path):
    with pytest.raises(ValueError, match="unknown option.*colour"):
        build_image_data("digits", demo_root, seed=0, colour=True)
    with pytest.raises(ValueError, match="resize must divide 28"):
        build_image_data("mnist5k", demo_root, seed=0, resize=10)
    with pytest.raises(ValueError, match="unknown augment 'mixup'"):
        build_image_data("digits", demo_root, seed=0, augment="mixup")
    with pytest.raises(ValueError, match="unknown data set 'svhn'"):
        build_image_data("svhn", demo_root, seed=0)
    with pytest.raises(FileNotFoundError, match="prepare_demo"):
        build_image_data("digits", tmp_path, seed=0)


@pytest.mark.parametrize("augment", [random_shift, random_affine])
def test_augmentation_depends_only_on_the_generator(augment):
    x = torch.randn(16, 1, 14, 14)
    a = augment(x, torch.Generator().manual_seed(3))
    b = augment(x, torch.Generator().manual_seed(3))
    c = augment(x, torch.Generator().manual_seed(4))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)


def test_shift_moves_pixels_and_fills_with_the_background():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0
    out = random_shift(x - 1, torch.Generator().manual_seed(0), max_px=2) + 1
    assert out.sum() == 1.0 and out.max() == 1.0  # the one bright pixel moved; the fill is -1 + 1
    assert torch.equal(random_shift(x, torch.Generator(), max_px=0), x)


def test_affine_with_no_transformation_is_the_identity():
    x = torch.randn(4, 1, 14, 14)
    same = random_affine(x, torch.Generator(), 0.0, (1.0, 1.0), 0.0)
    assert torch.allclose(same, x, atol=1e-5)
    assert batch_augmentation("none") is None

import pytest
import torch

from stationarity.models import MODELS, build_model

torch.set_num_threads(1)


def _params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("name", "input_shape", "options", "count"),
    [
        ("cnn_8_16", (1, 14, 14), {}, 2_698),  # reference/demo-regimes.md section 2
        ("cnn_16_32_bn", (1, 14, 14), {}, 7_738),
        ("cifar_resnet18", (3, 32, 32), {}, 11_173_962),  # kuangliu ResNet18
        ("mlp", (1, 28, 28), {"hidden": [64]}, 50_890),
        ("mlp", (1, 8, 8), {"hidden": [16]}, 1_210),
    ],
)
def test_parameter_counts_match_the_references(name, input_shape, options, count):
    model = build_model(name, 10, input_shape, **options)
    assert _params(model) == count
    assert model(torch.zeros(2, *input_shape)).shape == (2, 10)


def test_imagenet_resnets_are_torchvision_architectures():
    # Counted without building ResNet-101's 44.5 M weights twice: the meta device allocates nothing.
    with torch.device("meta"):
        assert _params(build_model("resnet101", 1000, (3, 224, 224))) == 44_549_160
        assert _params(build_model("resnet18", 10, (3, 32, 32))) == 11_181_642


def test_small_models_run_at_digits_size():
    for name in ("cnn_8_16", "cnn_16_32_bn", "mlp"):
        assert build_model(name, 10, (1, 8, 8))(torch.zeros(3, 1, 8, 8)).shape == (3, 10)


def test_same_seed_same_initialisation():
    torch.manual_seed(0)
    a = build_model("cnn_8_16", 10, (1, 14, 14))
    torch.manual_seed(0)
    b = build_model("cnn_8_16", 10, (1, 14, 14))
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    assert all(torch.equal(x, y) for x, y in pairs)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown model 'vgg16'; known models: resnet101, "):
        build_model("vgg16", 10, (3, 32, 32))
    assert set(MODELS) >= {"resnet101", "resnet18", "cifar_resnet18", "cnn_8_16", "mlp"}


def test_bad_options_are_a_value_error():
    with pytest.raises(ValueError, match="bad options"):
        build_model("cnn_8_16", 10, (1, 14, 14), width=3)
    with pytest.raises(ValueError, match="3-channel"):
        build_model("resnet18", 10, (1, 28, 28))

"""Each closed-form per-sample rule against the generic vmap fallback, in float64."""

import pytest
import torch
from estimator_models import seeded
from torch import nn

from stationarity.estimators import conv_grads, layer_rules
from stationarity.estimators.conv_grads import Geometry
from stationarity.estimators.layer_rules import (
    RULES,
    LayerCall,
    _conv_input,
    conv_strategy,
    ghost_is_cheaper,
)
from stationarity.estimators.vmap_fallback import vmap_rule

BATCH = 5


def _image(channels: int, size: int = 7) -> tuple[int, ...]:
    return (BATCH, channels, size, size)


def _batch_norm(module: nn.modules.batchnorm._BatchNorm, offset: float = 0.0) -> nn.Module:
    generator = seeded(5)
    with torch.no_grad():
        module.running_mean.copy_(torch.randn(module.num_features, generator=generator) + offset)
        module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
    return module.eval()


# (layer, input shape, integer inputs below this bound or None)
CASES = {
    "linear": (lambda: nn.Linear(6, 4), (BATCH, 6), None),
    "linear without bias": (lambda: nn.Linear(6, 4, bias=False), (BATCH, 6), None),
    "linear over a sequence": (lambda: nn.Linear(6, 4), (BATCH, 3, 6), None),
    "linear over a long sequence (materialised)": (lambda: nn.Linear(3, 2), (BATCH, 9, 3), None),
    "linear over two position dims": (lambda: nn.Linear(6, 4), (BATCH, 2, 3, 6), None),
    "conv2d": (lambda: nn.Conv2d(3, 4, 3, padding=1), _image(3), None),
    "conv2d gram": (lambda: nn.Conv2d(8, 16, 3), _image(8, 4), None),
    "conv2d gram, reflect padding": (
        lambda: nn.Conv2d(16, 8, 3, padding=1, padding_mode="reflect"),
        _image(16, 3),
        None,
    ),
    "conv2d few positions, strided": (
        lambda: nn.Conv2d(8, 16, 3, stride=2, padding=1),
        _image(8, 5),
        None,
    ),
    "conv2d few positions, grouped": (lambda: nn.Conv2d(8, 16, 3, groups=2), _image(8, 4), None),
    # One position per sample: fewer rows (samples × positions) than output channels.
    "conv2d ghost, wide": (lambda: nn.Conv2d(8, 32, 3, stride=2), _image(8, 4), None),
    "conv2d strided, dilated": (
        lambda: nn.Conv2d(3, 4, 3, stride=2, dilation=2, padding=2, bias=False),
        _image(3, 9),
        None,
    ),
    "conv2d stride 3, rectangular kernel": (
        lambda: nn.Conv2d(2, 3, (2, 3), stride=(3, 2), padding=(1, 0)),
        _image(2, 8),
        None,
    ),
    "conv2d grouped": (lambda: nn.Conv2d(4, 6, 3, groups=2, padding=1), _image(4), None),
    "conv2d polyphase": (lambda: nn.Conv2d(64, 4, 3, padding=1), _image(64), None),
    "conv2d polyphase, strided, dilated": (
        lambda: nn.Conv2d(64, 4, 3, stride=2, dilation=2, padding=2, bias=False),
        _image(64, 9),
        None,
    ),
    "conv2d polyphase, stride 3, rectangular kernel": (
        lambda: nn.Conv2d(64, 3, (2, 3), stride=(3, 2), padding=(1, 0)),
        _image(64, 8),
        None,
    ),
    "conv2d polyphase, grouped": (
        lambda: nn.Conv2d(128, 8, 3, groups=2, padding=1),
        _image(128),
        None,
    ),
    "conv2d depthwise 1x1": (lambda: nn.Conv2d(4, 4, 1, groups=4), _image(4), None),
    "conv2d padding same, even kernel": (
        lambda: nn.Conv2d(2, 3, 2, padding="same"),
        _image(2),
        None,
    ),
    "conv2d reflect padding": (
        lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"),
        _image(2),
        None,
    ),
    "batchnorm2d eval": (lambda: _batch_norm(nn.BatchNorm2d(3)), _image(3), None),
    "batchnorm2d eval, running means far from zero (centred)": (
        lambda: _batch_norm(nn.BatchNorm2d(3), offset=50.0),
        _image(3),
        None,
    ),
    "batchnorm1d eval": (lambda: _batch_norm(nn.BatchNorm1d(3)), (BATCH, 3), None),
    "batchnorm1d eval over a sequence": (
        lambda: _batch_norm(nn.BatchNorm1d(3)),
        (BATCH, 3, 4),
        None,
    ),
    "layernorm": (lambda: nn.LayerNorm(6), (BATCH, 4, 6), None),
    "layernorm over two dims": (lambda: nn.LayerNorm((3, 4)), (BATCH, 2, 3, 4), None),
    "layernorm without bias": (lambda: nn.LayerNorm(6, bias=False), (BATCH, 6), None),
    "rmsnorm": (lambda: nn.RMSNorm(6), (BATCH, 4, 6), None),
    "groupnorm": (lambda: nn.GroupNorm(2, 4), _image(4), None),
    "embedding": (lambda: nn.Embedding(7, 4), (BATCH, 6), 7),
    "embedding with padding": (lambda: nn.Embedding(7, 4, padding_idx=0), (BATCH, 6), 7),
    "embedding without positions": (lambda: nn.Embedding(7, 4), (BATCH,), 7),
}


def _randomised(module: nn.Module) -> nn.Module:
    """Generic affine parameters, so no gradient vanishes by symmetry."""
    generator = seeded(3)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator, dtype=param.dtype))
    return module


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("case", sorted(CASES))
def test_closed_form_matches_vmap(case):
    _check_against_vmap(case)


@pytest.mark.parametrize(
    "case",
    [
        "conv2d",
        "conv2d grouped",
        "conv2d stride 3, rectangular kernel",
        "conv2d gram",
        "conv2d gram, reflect padding",
        "conv2d polyphase, grouped",  # grouped on a CPU
    ],
)
def test_scratch_in_chunks_of_one_sample_matches_vmap(case, monkeypatch):
    monkeypatch.setattr(conv_grads, "CHUNK_ELEMENTS", 1)
    _check_against_vmap(case)


CONV_CASES = sorted(name for name in CASES if name.startswith("conv2d"))


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("strategy", ["columns", "polyphase", "grouped", "ghost", "gram"])
@pytest.mark.parametrize("case", CONV_CASES)
def test_every_conv_strategy_matches_vmap_on_every_geometry(case, strategy, monkeypatch):
    """The cost model picks one strategy per layer; each must be exact wherever it is picked."""
    monkeypatch.setattr(layer_rules, "conv_strategy", lambda *_: strategy)
    _check_against_vmap(case)


def _check_against_vmap(case: str) -> None:
    make, shape, vocabulary = CASES[case]
    torch.manual_seed(0)
    module = _randomised(make().double())
    generator = seeded(1)
    if vocabulary is None:
        x = torch.randn(shape, generator=generator, dtype=torch.float64)
    else:
        x = torch.randint(vocabulary, shape, generator=generator)
    with torch.no_grad():
        output = module(x)
    grad_output = torch.randn(output.shape, generator=generator, dtype=torch.float64)
    call = LayerCall(module, (x,), {}, (grad_output,))

    closed = RULES[type(module)](call)
    reference = vmap_rule(call)

    assert closed.keys() == reference.keys() == dict(module.named_parameters()).keys()
    for name in closed:
        torch.testing.assert_close(
            closed[name].sq_norms, reference[name].sq_norms, rtol=1e-10, atol=0
        )
        torch.testing.assert_close(
            closed[name].total, reference[name].total, rtol=1e-10, atol=1e-12
        )


def test_batch_norm_in_train_mode_is_refused():
    module = nn.BatchNorm2d(3).double().train()
    x = torch.randn(_image(3), dtype=torch.float64)
    call = LayerCall(module, (x,), {}, (torch.ones_like(x),))
    with pytest.raises(ValueError, match="eval mode"):
        RULES[nn.BatchNorm2d](call)


@pytest.mark.parametrize(
    ("case", "strategy", "device"),
    [
        ("linear over a sequence", "ghost", "cpu"),
        ("linear over a long sequence (materialised)", "materialise", "cpu"),
        ("conv2d few positions, strided", "gram", "cpu"),
        ("conv2d gram", "gram", "cpu"),
        ("conv2d gram, reflect padding", "gram", "cpu"),
        ("conv2d ghost, wide", "ghost", "cpu"),
        ("conv2d", "columns", "cpu"),
        ("conv2d stride 3, rectangular kernel", "columns", "cpu"),
        ("conv2d polyphase", "grouped", "cpu"),
        ("conv2d polyphase, grouped", "grouped", "cpu"),
        # GPUs keep im2col columns and polyphase offsets (the grouped kernel is CPU-measured)
        ("conv2d polyphase", "polyphase", "cuda"),
        ("conv2d polyphase, strided, dilated", "polyphase", "cuda"),
        ("conv2d polyphase, grouped", "polyphase", "cuda"),
        ("conv2d", "columns", "cuda"),
    ],
)
def test_the_cases_cover_every_strategy(case, strategy, device):
    make, shape, _ = CASES[case]
    module = make()
    if isinstance(module, nn.Linear):
        ghost = ghost_is_cheaper(shape[1], module.in_features, module.out_features)
        assert ("ghost" if ghost else "materialise") == strategy
        return
    x, padding = _conv_input(module, torch.zeros(shape))
    geometry = Geometry(module.kernel_size, module.stride, module.dilation, padding, module.groups)
    out_shape = module(torch.zeros(shape)).shape[-2:]
    channels = module.in_channels, module.out_channels
    assert conv_strategy(geometry, *channels, x.shape[-2:], out_shape, device) == strategy


def test_batch_norm_centres_inputs_whose_mean_is_far_from_zero():
    """In float32, Σδx − μΣδ would lose digits when |μ| ≫ σ; the rule centres x then."""
    module = _batch_norm(nn.BatchNorm2d(3))
    generator = seeded(2)
    x = torch.randn(_image(3), generator=generator)
    grad_output = torch.randn(_image(3), generator=generator)
    for offset in (0.0, 1e4):
        with torch.no_grad():
            module.running_mean.fill_(offset)
            module.running_var.fill_(1.0)
        shifted = x + offset
        call = LayerCall(module, (shifted,), {}, (grad_output,))
        # x − μ in float64, from the float32 inputs the rule sees
        reference = (grad_output.double() * (shifted.double() - offset)).sum((2, 3))
        reference = reference * torch.rsqrt(torch.tensor(1.0 + module.eps, dtype=torch.float64))
        weight = RULES[nn.BatchNorm2d](call)["weight"]
        expected = reference.square().sum(1)
        torch.testing.assert_close(weight.sq_norms.double(), expected, rtol=1e-5, atol=0)

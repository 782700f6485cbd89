"""estimate() against brute force in float64: per-sample loops and dense Hessians."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from estimator_models import (
    TinyTransformer,
    brute_force,
    conv_net,
    float64,
    image_data,
    mlp,
    randomise_batch_norms,
    randomise_norms,
    seeded,
    split,
    token_data,
    top_dense_eigenvalue,
)
from torch import nn

from stationarity.estimators import estimate


class Scale(nn.Module):
    """An element-wise scale: a parameterised module without a closed form (vmap fallback)."""

    def __init__(self, width: int):
        super().__init__()
        self.scale = nn.Parameter(torch.linspace(0.5, 1.5, width))

    def forward(self, x):
        return x * self.scale


class AttentionTagger(nn.Module):
    """Embedding, nn.MultiheadAttention (fallback, keyword arguments, tuple output) and a head."""

    def __init__(self, vocabulary: int = 11, width: int = 8):
        super().__init__()
        self.tokens = nn.Embedding(vocabulary, width)
        self.attention = nn.MultiheadAttention(width, 2, batch_first=True)
        self.scale = Scale(width)
        self.head = nn.Linear(width, vocabulary)

    def forward(self, ids):
        x = self.tokens(ids)
        mixed, _ = self.attention(x, x, x, need_weights=False)
        return self.head(self.scale(x + mixed))


class TiedLanguageModel(nn.Module):
    """Embedding and output layer share one weight: their common ancestor becomes one unit."""

    def __init__(self, vocabulary: int = 11, width: int = 8):
        super().__init__()
        self.tokens = nn.Embedding(vocabulary, width)
        self.mix = nn.Linear(width, width)
        self.head = nn.Linear(width, vocabulary, bias=False)
        self.head.weight = self.tokens.weight

    def forward(self, ids):
        return self.head(torch.tanh(self.mix(self.tokens(ids))))


def _model_and_data(name: str):
    torch.manual_seed(0)
    if name == "mlp":
        return mlp(), *image_data(40, (6,), 3, seed=1)
    if name == "cnn":
        return randomise_batch_norms(conv_net(), seeded(2)), *image_data(40, (2, 6, 6), 3, seed=1)
    if name == "transformer":
        model = randomise_norms(TinyTransformer(), seeded(3))
        return model, *token_data(24, 5, 11, seed=1)
    if name == "fallback":
        return AttentionTagger(), *token_data(24, 5, 11, seed=1)
    return TiedLanguageModel(), *token_data(24, 5, 11, seed=1)


MODELS = ["mlp", "cnn", "transformer", "fallback", "tied"]
pytestmark = pytest.mark.usefixtures(float64.__name__)


@pytest.mark.filterwarnings("ignore:There is a performance drop")  # vmap over fused attention
@pytest.mark.parametrize("name", MODELS)
def test_loss_gradient_norm_and_noise_match_a_per_sample_loop(name):
    model, inputs, targets = _model_and_data(name)
    model.eval()
    reference = brute_force(model, inputs, targets)

    stats = estimate(model, split(inputs, targets, 16), sharpness=None)

    assert stats.samples == len(inputs)
    assert stats.tokens == reference["tokens"]
    assert stats.noise_method == "per_sample"
    for key in ("loss", "grad_norm", "noise"):
        assert getattr(stats, key) == pytest.approx(reference[key], rel=1e-10)


@pytest.mark.parametrize("name", ["mlp", "cnn", "transformer"])
@pytest.mark.parametrize("method", ["lanczos", "power"])
def test_sharpness_matches_the_dense_hessian(name, method):
    model, inputs, targets = _model_and_data(name)
    model.eval()
    top = top_dense_eigenvalue(model, inputs, targets)

    stats = estimate(
        model,
        split(inputs, targets, 16),
        noise=None,
        sharpness=method,
        sharpness_rtol=1e-8,
        max_hvps=600,
    )

    assert stats.sharpness_converged
    assert stats.top_eigenvalue == pytest.approx(top, rel=1e-6)
    assert stats.sharpness == pytest.approx(abs(top), rel=1e-6)
    assert stats.sharpness_residual <= 1e-8


def _nearly_identical_samples(spread: float, dtype: torch.dtype):
    generator = seeded(4)
    base = torch.randn(1, 6, generator=generator, dtype=dtype)
    inputs = base + spread * torch.randn(32, 6, generator=generator, dtype=dtype)
    return inputs, torch.zeros(32, dtype=torch.long)


def test_noise_far_below_the_gradient_norm_avoids_cancellation():
    model = mlp().eval()
    inputs, targets = _nearly_identical_samples(1e-6, torch.float64)
    reference = brute_force(model, inputs, targets)
    assert reference["noise"] < 1e-5 * reference["grad_norm"]

    stats = estimate(model, split(inputs, targets, 8), sharpness=None)

    assert stats.noise_method == "per_sample_centred"
    assert stats.noise == pytest.approx(reference["noise"], rel=1e-6)


def test_noise_far_below_the_gradient_norm_in_float32():
    model = mlp().eval()
    inputs, targets = _nearly_identical_samples(1e-3, torch.float64)
    reference = brute_force(model, inputs, targets)
    assert reference["noise"] < 1e-2 * reference["grad_norm"]

    model32 = copy.deepcopy(model).float()
    stats = estimate(model32, split(inputs.float(), targets, 8), sharpness=None)

    # float32 gradients carry errors of ~1e-7·‖ḡ‖; the one-pass formula would square that ratio.
    assert stats.noise == pytest.approx(reference["noise"], rel=1e-4)


def _module_modes(model):
    return [m.training for m in model.modules()]


@pytest.mark.filterwarnings("ignore:sharpness did not converge")
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_the_model_leaves_unchanged(mode):
    model, inputs, targets = _model_and_data("cnn")
    model.train()
    model[1].eval()  # mixed modes must come back as they were
    modes = _module_modes(model)
    state = copy.deepcopy(model.state_dict())
    noise = "per_sample" if mode == "eval" else "minibatch"

    estimate(model, split(inputs, targets, 8), mode=mode, noise=noise, max_hvps=3)

    assert _module_modes(model) == modes
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert all(p.grad is None for p in model.parameters())


def test_train_mode_uses_batch_statistics_per_micro_batch():
    model, inputs, targets = _model_and_data("cnn")
    batches = split(inputs, targets, 10)
    copy_in_train_mode = copy.deepcopy(model).train()
    with torch.no_grad():
        losses = [F.cross_entropy(copy_in_train_mode(x), y, reduction="sum") for x, y in batches]

    stats = estimate(model, batches, mode="train", noise="minibatch", sharpness=None)

    assert stats.loss == pytest.approx(float(sum(losses)) / len(inputs), rel=1e-12)
    assert stats.noise_method == "minibatch"


def test_train_mode_fixes_dropout_masks_so_the_hessian_is_one_operator():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Dropout(0.3), nn.Linear(16, 3))
    inputs, targets = image_data(40, (6,), 3, seed=1)
    options = dict(mode="train", noise="minibatch", sharpness_rtol=1e-6)

    first = estimate(model, split(inputs, targets, 10), **options)
    second = estimate(model, split(inputs, targets, 10), **options)

    assert first.sharpness_converged
    assert first.sharpness == second.sharpness
    assert first.noise == second.noise


def test_per_sample_noise_needs_eval_mode():
    model, inputs, targets = _model_and_data("cnn")
    with pytest.raises(ValueError, match="eval"):
        estimate(model, split(inputs, targets, 8), mode="train", noise="per_sample")


def test_unconverged_sharpness_is_nan_with_a_warning():
    model, inputs, targets = _model_and_data("mlp")
    with pytest.warns(RuntimeWarning, match="did not converge"):
        stats = estimate(
            model, split(inputs, targets, 8), noise=None, sharpness_rtol=1e-14, max_hvps=2
        )
    assert not stats.sharpness_converged
    assert math.isnan(stats.sharpness) and math.isnan(stats.top_eigenvalue)
    assert stats.hvps == 2 and stats.sharpness_residual > 1e-14


def test_one_shot_iterators_are_refused():
    model, inputs, targets = _model_and_data("mlp")
    with pytest.raises(TypeError, match="re-iterable"):
        estimate(model, iter(split(inputs, targets, 8)))


def test_frozen_parameters_are_not_part_of_theta():
    model, inputs, targets = _model_and_data("cnn")
    model.eval()
    for param in model[0].parameters():
        param.requires_grad_(False)
    reference = brute_force(model, inputs, targets)

    stats = estimate(model, split(inputs, targets, 16), sharpness=None)

    assert stats.noise == pytest.approx(reference["noise"], rel=1e-10)
    assert stats.grad_norm == pytest.approx(reference["grad_norm"], rel=1e-10)


class SharedOutside(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(6, 6)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        return self.head(F.linear(self.first(x), self.first.weight))


class CalledTwice(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(6, 6)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        return self.head(self.layer(torch.tanh(self.layer(x))))


class PositionsWithoutBatch(nn.Module):
    def __init__(self):
        super().__init__()
        self.tokens = nn.Embedding(11, 4)
        self.positions = nn.Embedding(5, 4)
        self.head = nn.Linear(4, 11)

    def forward(self, ids):
        return self.head(self.tokens(ids) + self.positions(torch.arange(ids.shape[1])))


@pytest.mark.parametrize(
    ("model", "data", "error", "match"),
    [
        (SharedOutside, lambda: image_data(8, (6,), 3, 1), RuntimeError, "outside"),
        (CalledTwice, lambda: image_data(8, (6,), 3, 1), NotImplementedError, "twice"),
        (PositionsWithoutBatch, lambda: token_data(8, 5, 11, 1), ValueError, "batch"),
    ],
)
def test_unsupported_parameter_use_is_refused(model, data, error, match):
    inputs, targets = data()
    with pytest.raises(error, match=match):
        estimate(model(), split(inputs, targets, 8), sharpness=None)

"""Closed forms for per-sample gradients, one rule per layer type, evaluated in the backward pass.

A rule sees one call of a module: the module, the arguments it was called with and the gradient of
the summed loss with respect to its output(s). It returns, for every trainable parameter of the
module (named as in ``module.named_parameters()``), the squared norm of each sample's gradient and
the gradient summed over the samples. The summed gradient replaces the one autograd would compute,
so a rule must be exact for both.

To support a new module type, write a function of a :class:`LayerCall` and register it::

    @register_rule(MyAttention)
    def my_attention(call: LayerCall) -> dict[str, PerSampleGrad]:
        x, delta = call.args[0], call.grad_output      # (N, T, d_in), (N, T, d_out)
        ...                                             # e.g. outer_product_grad(x, delta)
        return {"proj.weight": ..., "bias": ...}

The module may have parameterised children: its rule then covers its whole subtree and the
children are not visited. Requirements: dimension 0 of its inputs and outputs indexes the samples,
it treats samples independently, and it runs once per forward pass. Types are matched exactly, so
a subclass with its own ``forward`` is not mistaken for its parent. Unregistered modules that own
parameters fall back to :func:`stationarity.estimators.vmap_fallback.vmap_rule`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .conv_grads import (
    Geometry,
    Pair,
    columns,
    columns_weight_grad,
    gram_sq_norms,
    grouped_weight_grad,
    polyphase_weight_grad,
    position_rows,
    summed_weight_grad,
)

# Floating-point operations that take about as long as moving one number to or from memory
# (tens on CPUs and GPUs alike); only its order of magnitude matters.
FLOPS_PER_WORD = 40.0
# Below this many input channels per group, k_h·k_w matmuls of that many rows run slower than
# one im2col copy and one matmul per sample (measured: 20-25% slower at 32 channels on CPUs).
MIN_POLYPHASE_CHANNELS = 64
# From this many input channels per group, a CPU materialises by one grouped convolution: 1.8-2.9x
# faster than im2col or polyphase at 16-64 channels and 16x16-32x32 (oneDNN's grouped kernel).
# Not measured on GPUs, which keep columns and polyphase.
MIN_GROUPED_CHANNELS = 16


class PerSampleGrad(NamedTuple):
    """Squared per-sample gradient norms (N,) and the gradient summed over the N samples."""

    sq_norms: Tensor
    total: Tensor


@dataclass
class LayerCall:
    """One call of a module in the forward pass, with the output gradients from the backward."""

    module: nn.Module
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    grad_outputs: tuple[Tensor, ...]

    @property
    def grad_output(self) -> Tensor:
        """The gradient with respect to the first (usually the only) output."""
        return self.grad_outputs[0]


Rule = Callable[[LayerCall], dict[str, PerSampleGrad]]
RULES: dict[type[nn.Module], Rule] = {}


def register_rule(*module_types: type[nn.Module]) -> Callable[[Rule], Rule]:
    """Register a closed-form rule for the given module types (exact type match)."""

    def decorate(rule: Rule) -> Rule:
        for module_type in module_types:
            RULES[module_type] = rule
        return rule

    return decorate


def from_per_sample(grads: Tensor) -> PerSampleGrad:
    """Norms and sum of materialised per-sample gradients of shape (N, *param_shape)."""
    return PerSampleGrad(torch.linalg.vector_norm(grads.flatten(1), dim=1).square(), grads.sum(0))


def ghost_words(positions: int, a: int, b: int) -> float:
    """The ghost norm's cost on top of the summed gradient, per sample, in words moved.

    For gradients Σ_t δ_t x_tᵀ of size b×a, ‖Σ_t δ_t x_tᵀ‖² = Σ_{t,s} (x_t·x_s)(δ_t·δ_s) costs
    2T²(a+b) flops; materialising instead writes the a·b gradient and reads it twice (3ab words).
    """
    return 2 * positions * positions * (a + b) / FLOPS_PER_WORD


def ghost_is_cheaper(positions: int, a: int, b: int) -> bool:
    """Whether the ghost norm beats materialising (the mixed strategy of the DP literature)."""
    return ghost_words(positions, a, b) < 3 * a * b


def outer_product_grad(x: Tensor, delta: Tensor) -> PerSampleGrad:
    """Per-sample gradients of W in y_t = W x_t, summed over positions t, in groups.

    ``x`` is (N, G, T, a) and ``delta`` (N, G, T, b); the gradient of sample n is, per group g,
    Σ_t delta[n,g,t] x[n,g,t]ᵀ, and the total has shape (G, b, a).
    """
    n, groups, positions, a = x.shape
    b = delta.shape[-1]
    if ghost_is_cheaper(positions, a, b):
        sq_norms = ((x @ x.mT) * (delta @ delta.mT)).sum((1, 2, 3))
        flat_x = x.transpose(0, 1).reshape(groups, n * positions, a)
        flat_delta = delta.transpose(0, 1).reshape(groups, n * positions, b)
        return PerSampleGrad(sq_norms, flat_delta.mT @ flat_x)
    return from_per_sample(delta.mT @ x)


@register_rule(nn.Linear)
def linear(call: LayerCall) -> dict[str, PerSampleGrad]:
    """Linear layers, with or without positions (sequence, spatial) between batch and features."""
    module, x, delta = call.module, call.args[0], call.grad_output
    n = x.shape[0]
    x3 = x.reshape(n, 1, -1, module.in_features)
    delta3 = delta.reshape(n, 1, -1, module.out_features)
    weight = outer_product_grad(x3, delta3)
    grads = {"weight": PerSampleGrad(weight.sq_norms, weight.total[0])}
    if module.bias is not None:
        grads["bias"] = from_per_sample(delta3.sum((1, 2)))
    return grads


def _conv_input(module: nn.Conv2d, x: Tensor) -> tuple[Tensor, tuple[int, int]]:
    """The input as the convolution reads it, but for a symmetric zero padding still to apply."""
    if module.padding_mode != "zeros":
        return F.pad(x, module._reversed_padding_repeated_twice, mode=module.padding_mode), (0, 0)
    if module.padding == "valid":
        return x, (0, 0)
    if module.padding == "same":
        pads = []
        for k, d in zip(reversed(module.kernel_size), reversed(module.dilation), strict=True):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads), (0, 0)
    return x, module.padding


def conv_strategy(
    geometry: Geometry,
    in_channels: int,
    out_channels: int,
    in_shape: Pair,
    out_shape: Pair,
    device: str = "cpu",
) -> str:
    """How to get per-sample gradient norms of a convolution: the cheapest by a words-moved model.

    Each strategy pays for the summed gradient (one weight-gradient product); on top, per sample:

    - materialising writes the b×a gradient and reads it twice (3ab words): on a CPU by one
      "grouped" convolution from ``MIN_GROUPED_CHANNELS`` input channels per group; else from
      im2col "columns" where a group has fewer than ``MIN_POLYPHASE_CHANNELS`` (the copy is small
      and one matmul per sample beats k_h·k_w thin ones), else by "polyphase" offsets;
    - "ghost" (the Gram of the im2col columns) costs 2T²(a+b) flops and the im2col copy (2Ta);
    - "gram" (the Gram of the S input positions, ``gram_sq_norms``) costs 2(S²c + T²b) flops
      and about k_w·S·T + k_h·T² words to sum its windows over the kernel offsets.

    Measured per layer (CPU, one thread, 256 samples) among columns, polyphase, ghost and gram,
    this picked the fastest, or one within 15% of it, on 43 of the 45 distinct conv layers of the
    bench's ResNet-18, ResNet-101, Conv+BatchNorm net and CNN. On the other two, 1×1 stride-2
    shortcuts, it picks "ghost", 22% and 27% slower than "gram" (whose cost here counts input
    positions that no output reads). "grouped", measured after, beat all four by 1.8-2.9x on the
    materialising layers of the Conv+BatchNorm net and the CNN and tied polyphase on
    ResNet-101's 1×1 layers at 8×8.
    """
    (kh, kw), groups = geometry.kernel_size, geometry.groups
    c, b = in_channels // groups, out_channels // groups
    a, positions, read = c * kh * kw, out_shape[0] * out_shape[1], in_shape[0] * in_shape[1]
    if positions == 1:
        # An outer product: norms ‖x‖²‖δ‖², and the sum one matmul, faster than any
        # convolution routine (2x on ResNet-101's last layers).
        return "ghost"
    costs = {
        "materialise": 3 * a * b,
        "ghost": ghost_words(positions, a, b) + 2 * positions * a,
        "gram": 2 * (read * read * c + positions * positions * b) / FLOPS_PER_WORD
        + kw * read * positions
        + kh * positions * positions,
    }
    best = min(costs, key=costs.__getitem__)
    if best != "materialise":
        return best
    if device == "cpu" and c >= MIN_GROUPED_CHANNELS:
        return "grouped"
    return "columns" if c < MIN_POLYPHASE_CHANNELS else "polyphase"


@register_rule(nn.Conv2d)
def conv2d(call: LayerCall) -> dict[str, PerSampleGrad]:
    """2-D convolutions with any stride, dilation, padding and groups."""
    module, delta = call.module, call.grad_output
    x, padding = _conv_input(module, call.args[0])
    n, groups, positions = x.shape[0], module.groups, delta.shape[-2] * delta.shape[-1]
    a, b = module.weight[0].numel(), module.out_channels // groups
    geometry = Geometry(module.kernel_size, module.stride, module.dilation, padding, groups)
    shapes = x.shape[-2:], delta.shape[-2:]
    strategy = conv_strategy(
        geometry, module.in_channels, module.out_channels, *shapes, x.device.type
    )
    if strategy == "gram":
        total = summed_weight_grad(x, delta, module.weight, geometry)
        weight = PerSampleGrad(gram_sq_norms(x, delta, geometry), total)
    elif strategy == "ghost" and groups == 1:
        rows = position_rows(x, geometry, delta.shape[-2:])  # (N, T, a), columns (i, j, C)
        spread = delta.reshape(n, b, positions)
        # ‖Σ_t δ_t x_tᵀ‖² = Σ_{t,s} (x_t·x_s)(δ_t·δ_s); the sum over samples from one product.
        sq_norms = ((rows @ rows.mT) * (spread.mT @ spread)).sum((1, 2))
        weight = PerSampleGrad(sq_norms, _weight_order_total(spread, rows, module.weight.shape))
    elif strategy == "ghost":
        unfolded = columns(x, geometry, delta.shape[-2:])
        unfolded = unfolded.reshape(n, groups, a, positions).mT
        weight = outer_product_grad(unfolded, delta.reshape(n, groups, b, positions).mT)
        weight = PerSampleGrad(weight.sq_norms, weight.total.reshape(module.weight.shape))
    elif strategy == "grouped":
        weight = PerSampleGrad(*grouped_weight_grad(x, delta, module.weight, geometry))
    else:
        materialise = columns_weight_grad if strategy == "columns" else polyphase_weight_grad
        weight = PerSampleGrad(*materialise(x, delta, geometry))
    grads = {"weight": weight}
    if module.bias is not None:
        grads["bias"] = from_per_sample(delta.sum((2, 3)))
    return grads


def _weight_order_total(spread: Tensor, rows: Tensor, shape: torch.Size) -> Tensor:
    """Σ_n δ_n X_n for δ (N, b, T) and rows X (N, T, a) ordered (i, j, C), as a contiguous
    (b, C, i, j) weight: reorders whichever is smaller, the rows or the product."""
    n, b, positions = spread.shape
    channels, kh, kw = shape[1:]
    flat_spread = spread.permute(1, 0, 2).reshape(b, n * positions)
    if n * positions < b:
        ordered = rows.reshape(-1, kh * kw, channels).transpose(1, 2).reshape(n * positions, -1)
        return (flat_spread @ ordered).view(shape)
    total = flat_spread @ rows.reshape(n * positions, -1)
    return total.view(b, kh, kw, channels).permute(0, 3, 1, 2).contiguous()


def _affine_grads(
    module: nn.Module, weighted: Tensor, delta_sum: Tensor
) -> dict[str, PerSampleGrad]:
    """Gradients of y = weight·x̂ + bias from Σ_positions δ·x̂ and Σ_positions δ, each (N, ...)."""
    grads = {}
    if module.weight is not None:
        grads["weight"] = from_per_sample(weighted)
    if getattr(module, "bias", None) is not None:
        grads["bias"] = from_per_sample(delta_sum)
    return grads


def _channel_major(t: Tensor) -> Tensor:
    """(N, C, *spatial) → (N, C, S)."""
    return t.reshape(t.shape[0], t.shape[1], -1)


def _feature_minor(t: Tensor, features: int) -> Tensor:
    """(N, *positions, *normalized_shape) → (N, P, *normalized_shape)."""
    return t.reshape(t.shape[0], -1, *t.shape[t.dim() - features :])


@register_rule(nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
def batch_norm_eval(call: LayerCall) -> dict[str, PerSampleGrad]:
    """BatchNorm with running statistics (eval mode): a per-channel affine map of each sample."""
    module = call.module
    if module.training or module.running_mean is None:
        raise ValueError(
            "per-sample gradients need BatchNorm in eval mode with running statistics; "
            "in train mode a sample's output depends on the whole batch"
        )
    x, delta = _channel_major(call.args[0]), _channel_major(call.grad_output)
    mean, delta_sum = module.running_mean[:, None], delta.sum(2)
    if _means_are_small(module):
        centred = torch.linalg.vecdot(delta, x, dim=2) - mean.squeeze(1) * delta_sum
    else:
        centred = (delta * (x - mean)).sum(2)
    weighted = centred * torch.rsqrt(module.running_var + module.eps)
    return _affine_grads(module, weighted, delta_sum)


# Σ_s δ(x − μ) as Σ_s δx − μΣ_s δ saves two passes over the activations but loses a factor of
# about 1 + |μ|/σ in accuracy to cancellation. It is used where every running mean lies within
# this many running standard deviations of zero (float32 then keeps ~6 digits); else x is
# centred first.
MAX_UNCENTRED_MEAN = 8.0
_small_means: "WeakKeyDictionary[nn.Module, tuple[tuple[int, ...], bool]]" = WeakKeyDictionary()


def _means_are_small(module: nn.Module) -> bool:
    """Whether all |μ|/σ ≤ ``MAX_UNCENTRED_MEAN``; cached per running statistics (no GPU sync)."""
    mean, var = module.running_mean, module.running_var
    key = (mean.data_ptr(), mean._version, var.data_ptr(), var._version)
    cached = _small_means.get(module)
    if cached is None or cached[0] != key:
        ratio = mean.abs() * torch.rsqrt(var + module.eps)
        cached = key, bool(ratio.max() <= MAX_UNCENTRED_MEAN)
        _small_means[module] = cached
    return cached[1]


@register_rule(nn.GroupNorm)
def group_norm(call: LayerCall) -> dict[str, PerSampleGrad]:
    """GroupNorm: statistics per sample and group, so samples stay independent in any mode."""
    module = call.module
    normalised = _channel_major(F.group_norm(call.args[0], module.num_groups, eps=module.eps))
    delta = _channel_major(call.grad_output)
    return _affine_grads(module, (delta * normalised).sum(2), delta.sum(2))


def _last_dims_norm(call: LayerCall, normalise: Callable[..., Tensor]) -> dict[str, PerSampleGrad]:
    module = call.module
    features = len(module.normalized_shape)
    normalised = normalise(call.args[0], module.normalized_shape, eps=module.eps)
    normalised = _feature_minor(normalised, features)
    delta = _feature_minor(call.grad_output, features)
    return _affine_grads(module, (delta * normalised).sum(1), delta.sum(1))


@register_rule(nn.LayerNorm)
def layer_norm(call: LayerCall) -> dict[str, PerSampleGrad]:
    """LayerNorm over the trailing ``normalized_shape`` dimensions."""
    return _last_dims_norm(call, F.layer_norm)


@register_rule(nn.RMSNorm)
def rms_norm(call: LayerCall) -> dict[str, PerSampleGrad]:
    """RMSNorm over the trailing ``normalized_shape`` dimensions (it has no bias)."""
    return _last_dims_norm(call, F.rms_norm)


@register_rule(nn.Embedding)
def embedding(call: LayerCall) -> dict[str, PerSampleGrad]:
    """Embedding lookups: a sample's gradient is the sum of its output gradients per token id."""
    module, indices, delta = call.module, call.args[0], call.grad_output
    if module.max_norm is not None or module.scale_grad_by_freq:
        raise NotImplementedError(
            "Embedding with max_norm or scale_grad_by_freq: its gradient depends on the whole batch"
        )
    n, vocabulary = indices.shape[0], module.num_embeddings
    indices = indices.reshape(n, -1)
    delta = delta.reshape(n, indices.shape[1], module.embedding_dim)
    if module.padding_idx is not None:
        delta = delta * (indices != module.padding_idx).unsqueeze(-1)
    # One row per (sample, token id): repeated ids within a sample must add before squaring.
    samples = torch.arange(n, device=indices.device).unsqueeze(1)
    keys, slots = torch.unique(samples * vocabulary + indices, return_inverse=True)
    rows = delta.new_zeros(len(keys), module.embedding_dim)
    rows.index_add_(0, slots.flatten(), delta.flatten(0, 1))
    sq_norms = delta.new_zeros(n).index_add_(0, keys // vocabulary, rows.square().sum(1))
    total = delta.new_zeros(module.weight.shape).index_add_(0, keys % vocabulary, rows)
    return {"weight": PerSampleGrad(sq_norms, total)}

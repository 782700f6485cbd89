"""Per-sample gradient rules for the Transformer-XL's own modules (see ``layer_rules``).

Linear layers of the feed-forward blocks and LayerNorms use the generic rules. Here:

- ``RelativeAttention``: its positional projection ``r`` sees positions, not samples, so the
  module is one unit; the rule recomputes the attention from its projections and takes each
  projection's per-sample gradient as an outer product.
- ``RelativeBiases``: u and v reach every layer through one call, expanded per sample, so the
  layers' contributions are already summed in the output gradient of that call.
- ``AdaptiveEmbedding`` and ``AdaptiveLogSoftmax`` share W (tied weights), used in two calls. A
  sample's gradient of W is E_i + O_i (input side, output side), and ‖E_i + O_i‖² needs the cross
  term. The softmax (last in the forward, first in the backward) owns no W; its rule leaves
  (h_i, ∂/∂logits_i) on the embedding, whose rule adds ‖O_i‖² + 2⟨E_i, O_i⟩ and ΣO_i. The two
  rules work only as a pair; both are registered here.
"""

import torch
from torch import Tensor

from ..models.adaptive_softmax import AdaptiveEmbedding, AdaptiveLogSoftmax
from ..models.transformer_xl import RelativeAttention, RelativeBiases
from .layer_rules import (
    LayerCall,
    PerSampleGrad,
    from_per_sample,
    outer_product_grad,
    register_rule,
)


def _grouped(t: Tensor) -> Tensor:
    """(N, T, a) → (N, 1, T, a), the layout of ``outer_product_grad``."""
    return t.unsqueeze(1)


def _outer(x: Tensor, delta: Tensor) -> PerSampleGrad:
    """Per-sample gradients of W in y_t = W x_t for (N, T, a) inputs and (N, T, b) gradients."""
    grad = outer_product_grad(_grouped(x), _grouped(delta))
    return PerSampleGrad(grad.sq_norms, grad.total[0])


@register_rule(RelativeAttention)
def relative_attention(call: LayerCall) -> dict[str, PerSampleGrad]:
    """q/k/v, position and output projections of one relative attention call."""
    module = call.module
    x, memory, positions, u, v = call.args
    if module.training and module.dropatt.p > 0:
        raise ValueError("per-sample gradients need attention dropout off (eval mode)")
    n = x.shape[0]
    context = x if memory is None else torch.cat([memory, x], 1)
    with torch.enable_grad():
        heads = module.qkv(context).detach().requires_grad_()
        # One copy of the projected positions per sample, to get each sample's gradient of them.
        r = module.r(positions).detach().expand(n, -1, -1).clone().requires_grad_()
        attended = module.attend(heads, r, u, v, x.shape[1])
    delta = call.grad_output
    delta_heads, delta_r = torch.autograd.grad(attended, [heads, r], delta @ module.out.weight)
    return {
        "qkv.weight": _outer(context, delta_heads),
        "r.weight": _outer(positions.expand(n, -1, -1), delta_r),
        "out.weight": _outer(attended.detach(), delta),
    }


@register_rule(RelativeBiases)
def relative_biases(call: LayerCall) -> dict[str, PerSampleGrad]:
    """u and v: sample i's gradient is the output gradient of its copy."""
    content, position = call.grad_outputs
    return {"content": from_per_sample(content), "position": from_per_sample(position)}


@register_rule(AdaptiveLogSoftmax)
def adaptive_log_softmax(call: LayerCall) -> dict[str, PerSampleGrad]:
    """Bias and cluster parameters; the output side of the tied W is left for the embedding.

    Called with targets the module returned −log p(target): its output gradient is then that of
    the full log-probabilities, −g at each target and zero elsewhere.
    """
    module, hidden = call.module, call.args[0]
    targets = call.args[1] if len(call.args) > 1 else call.kwargs.get("targets")
    with torch.enable_grad():
        words, clusters = (t.detach().requires_grad_() for t in module.logits(hidden))
        log_probs = module.log_probs_from_logits(words, clusters)
    delta = call.grad_output
    if targets is not None:
        at_targets = targets.unsqueeze(-1)
        delta = torch.zeros_like(log_probs).scatter_(-1, at_targets, -delta.unsqueeze(-1))
    delta_words, delta_clusters = torch.autograd.grad(log_probs, [words, clusters], delta)
    module._tied[0].output_side = (hidden, delta_words)
    return {
        "bias": from_per_sample(delta_words.flatten(1, -2).sum(1)),
        "cluster_weight": _outer(hidden.flatten(1, -2), delta_clusters.flatten(1, -2)),
        "cluster_bias": from_per_sample(delta_clusters.flatten(1, -2).sum(1)),
    }


def _input_side(tokens: Tensor, delta: Tensor, vocabulary: int) -> PerSampleGrad:
    """Σ_t onehot(token_t) δ_tᵀ per sample; repeated tokens add before squaring."""
    n, d = tokens.shape[0], delta.shape[-1]
    samples = torch.arange(n, device=tokens.device)[:, None]
    keys, slots = torch.unique(samples * vocabulary + tokens, return_inverse=True)
    rows = delta.new_zeros(len(keys), d).index_add_(0, slots.flatten(), delta.reshape(-1, d))
    sq_norms = delta.new_zeros(n).index_add_(0, keys // vocabulary, rows.square().sum(1))
    total = delta.new_zeros(vocabulary, d).index_add_(0, keys % vocabulary, rows)
    return PerSampleGrad(sq_norms, total)


@register_rule(AdaptiveEmbedding)
def adaptive_embedding(call: LayerCall) -> dict[str, PerSampleGrad]:
    """W from both of its uses: the lookup here and, if tied, the softmax's output side."""
    module, tokens = call.module, call.args[0]
    n, vocabulary = tokens.shape[0], module.weight.shape[0]
    tokens = tokens.reshape(n, -1)
    delta = call.grad_output.reshape(n, tokens.shape[1], -1) * module.scale
    inputs = _input_side(tokens, delta, vocabulary)
    output_side = module.__dict__.pop("output_side", None)
    if output_side is None:
        return {"weight": inputs}
    hidden, delta_words = (t.reshape(n, -1, t.shape[-1]) for t in output_side)
    outputs = _outer(hidden, delta_words)
    # ⟨E_i, O_i⟩ = Σ_{t,s} ∂logit_t[token_s] · (h_t · δ_s): O_i's rows at sample i's tokens.
    at_tokens = delta_words.gather(2, tokens[:, None, :].expand(-1, hidden.shape[1], -1))
    cross = (at_tokens * (hidden @ delta.mT)).sum((1, 2))
    return {
        "weight": PerSampleGrad(
            inputs.sq_norms + 2 * cross + outputs.sq_norms, inputs.total + outputs.total
        )
    }

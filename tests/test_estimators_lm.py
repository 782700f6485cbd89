"""Per-sample gradient rules of the Transformer-XL against vmap and a brute-force loop (float64)."""

import math

import pytest
import torch

from stationarity.data import ContextSegments
from stationarity.estimators import estimate, summed_target_nll
from stationarity.estimators.layer_rules import RULES
from stationarity.estimators.per_sample_norms import per_sample_pass
from stationarity.estimators.vmap_fallback import vmap_rule
from stationarity.models.transformer_xl import RelativeAttention, WithContext, transformer_xl

CONTEXT, LENGTH = 5, 4


@pytest.fixture
def model():
    """A tiny trained-looking model: random weights, every parameter away from its init value."""
    torch.manual_seed(0)
    shape = {"n_layer": 2, "d_model": 8, "n_head": 2, "d_head": 4, "d_inner": 16}
    lm = transformer_xl(30, (), mem_len=CONTEXT, cutoffs=[8, 20], dropout=0.1, **shape)
    with torch.no_grad():
        for p in lm.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return WithContext(lm.double().eval(), CONTEXT)


@pytest.fixture
def batches():
    # Repeated tokens within a sample test that an embedding row's two uses add up.
    tokens = torch.randint(0, 30, (200,), generator=torch.Generator().manual_seed(1)) % 25
    segments = ContextSegments(tokens, LENGTH, CONTEXT)
    samples = [segments[k] for k in range(7)]
    inputs, targets = (torch.stack(column) for column in zip(*samples, strict=True))
    return [(inputs[:4], targets[:4]), (inputs[4:], targets[4:])]


def brute_force(model, batches):
    """Per-sample gradients G_i = ∇ Σ_t ℓ_it by one backward per sample, and the mean loss."""
    params = [p for p in model.parameters() if p.requires_grad]
    grads, loss, tokens = [], 0.0, 0
    for inputs, targets in batches:
        for x, y in zip(inputs, targets, strict=True):
            total, count = summed_target_nll(model(x[None]), y[None])
            grads.append(torch.cat([g.flatten() for g in torch.autograd.grad(total, params)]))
            loss, tokens = loss + total.item(), tokens + int(count)
    return torch.stack(grads), loss / tokens


def test_per_sample_pass_matches_brute_force(model, batches):
    sums = per_sample_pass(model, batches, summed_target_nll).total
    grads, _ = brute_force(model, batches)
    torch.testing.assert_close(sums.grad, grads.sum(0), rtol=1e-10, atol=1e-12)
    assert sums.sq_norms == pytest.approx(float(grads.square().sum()), rel=1e-10)
    assert (sums.samples, sums.tokens) == (7, 7 * LENGTH)


def test_attention_rule_matches_the_vmap_fallback(model, batches):
    closed = per_sample_pass(model, batches, summed_target_nll).total
    generic = {**RULES, RelativeAttention: vmap_rule}
    fallback = per_sample_pass(model, batches, summed_target_nll, rules=generic).total
    torch.testing.assert_close(closed.grad, fallback.grad, rtol=1e-10, atol=1e-12)
    assert closed.sq_norms == pytest.approx(fallback.sq_norms, rel=1e-10)


def test_estimate_matches_brute_force_statistics(model, batches):
    stats = estimate(model, batches, sharpness=None, loss_fn=summed_target_nll)
    grads, loss = brute_force(model, batches)
    per_token = grads / LENGTH  # ℓ_i is the mean over the sample's tokens
    mean = per_token.mean(0)
    noise = math.sqrt(float((per_token - mean).square().sum(1).mean()))
    assert stats.loss == pytest.approx(loss, rel=1e-10)
    assert stats.grad_norm == pytest.approx(float(mean.norm()), rel=1e-9)
    assert stats.noise == pytest.approx(noise, rel=1e-9)
    assert (stats.samples, stats.tokens) == (7, 28)


def test_a_sample_carries_memory_held_constant_as_in_training(model, batches):
    inputs, targets = batches[0]
    lm, params = model.model, list(model.parameters())
    _, memory = lm.hidden(inputs[:, :CONTEXT], None)
    nll, _ = lm(inputs[:, CONTEXT:-1], targets, memory)  # the training path
    total, _ = summed_target_nll(model(inputs), targets)
    assert total.item() == pytest.approx(nll.sum().item(), rel=1e-12)
    expected = torch.autograd.grad(nll.sum(), params)
    for got, want in zip(torch.autograd.grad(total, params), expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    other_memory = inputs.clone()
    other_memory[:, :CONTEXT] = inputs[:, :CONTEXT].flip(0)
    assert not torch.allclose(model(other_memory), model(inputs))


def per_token_brute_force(model, batches):
    """σ over target tokens from one backward per token, and ḡ (float64)."""
    params = [p for p in model.parameters() if p.requires_grad]
    grads = []
    for inputs, targets in batches:
        for x, y in zip(inputs, targets, strict=True):
            nll = model(x[None])[0]
            for t in range(len(y)):
                token = torch.autograd.grad(nll[t], params, retain_graph=True)
                grads.append(torch.cat([g.flatten() for g in token]))
    grads = torch.stack(grads)
    centred = grads - grads.mean(0)
    return float(centred.square().sum(1).mean().sqrt()), float(grads.mean(0).norm())


def test_per_token_noise_matches_brute_force(model, batches):
    noise, grad_norm = per_token_brute_force(model, batches)
    stats = estimate(model, batches, noise="per_token", sharpness=None, loss_fn=summed_target_nll)
    assert stats.noise_method == "per_token"
    assert stats.noise == pytest.approx(noise, rel=1e-6)
    assert stats.grad_norm == pytest.approx(grad_norm, rel=1e-10)
    per_segment = estimate(model, batches, sharpness=None, loss_fn=summed_target_nll)
    # A segment's gradient averages its tokens': its spread is far smaller.
    assert per_segment.noise < 0.9 * stats.noise
    assert (stats.samples, stats.tokens) == (7, 7 * LENGTH)

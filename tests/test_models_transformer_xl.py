"""Transformer-XL: masks, memory, adaptive softmax and parameter count."""

import pytest
import torch

from stationarity.models import build_model
from stationarity.models.adaptive_softmax import effective_cutoffs
from stationarity.models.transformer_xl import (
    TransformerXLConfig,
    attention_mask,
    parameter_count,
    transformer_xl,
)

TINY = {"n_layer": 2, "d_model": 16, "n_head": 2, "d_head": 8, "d_inner": 32, "mem_len": 6}


@pytest.fixture
def model():
    torch.manual_seed(0)
    return build_model("transformer_xl", 50, (), cutoffs=[10, 30, 100], **TINY).double().eval()


def test_mask_covers_the_memory_and_the_causal_part_of_the_segment():
    mask = attention_mask(queries=3, memory=2, device=torch.device("cpu"))
    assert mask.tolist() == [
        [True, True, True, False, False],
        [True, True, True, True, False],
        [True, True, True, True, True],
    ]


def test_segment_with_memory_equals_one_pass_over_the_concatenation(model):
    first, second = torch.randint(0, 50, (3, 6)), torch.randint(0, 50, (3, 5))
    _, memory = model.hidden(first, None)
    with_memory, _ = model.hidden(second, memory)
    joint, _ = model.hidden(torch.cat([first, second], 1), None)
    torch.testing.assert_close(with_memory, joint[:, 6:], rtol=0, atol=1e-12)
    # The statistics' view: the first segment as context, held constant, gives the same numbers.
    log_probs = model.log_probs(torch.cat([first, second], 1), context=6)
    torch.testing.assert_close(log_probs, model.softmax(with_memory), rtol=0, atol=1e-12)


def test_memory_keeps_the_last_mem_len_inputs_of_each_layer_without_gradient(model):
    tokens = torch.randint(0, 50, (2, 4))
    _, memory = model.hidden(tokens, None)
    _, memory = model.hidden(tokens, memory)
    assert len(memory) == 2 and all(m.shape == (2, 6, 16) for m in memory)
    assert not any(m.requires_grad for m in memory)
    # Only the last mem_len positions matter: a longer memory's older part is ignored.
    _, longer = model.hidden(torch.randint(0, 50, (2, 9)), None)
    assert longer[0].shape[1] == 6


def test_adaptive_softmax_probabilities_sum_to_one_and_match_the_training_loss(model):
    hidden = torch.randn(4, 7, 16, dtype=torch.float64)
    log_probs = model.softmax(hidden)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(4, 7, dtype=torch.float64))
    targets = torch.tensor([0, 9, 10, 29, 30, 49, 5]).expand(4, 7)  # every cluster, its edges
    nll = model.softmax.nll(hidden, targets)
    torch.testing.assert_close(nll, -log_probs.gather(-1, targets[..., None]).squeeze(-1))


def test_scoring_only_the_targets_equals_the_full_log_probabilities(model):
    window = torch.randint(0, 50, (3, 6 + 5 + 1))
    log_probs = model.log_probs(window[:, :-1], context=6)
    targets = window[:, 7:]
    expected = -log_probs.gather(-1, targets[..., None]).squeeze(-1)
    torch.testing.assert_close(model.target_nll(window, context=6), expected, rtol=1e-12, atol=0)


def test_weights_are_tied_and_dropout_is_off_in_eval_mode(model):
    assert model.softmax.weight is model.embedding.weight
    names = [name for name, _ in model.named_parameters()]
    assert names.count("embedding.weight") == 1 and not any("softmax.weight" in n for n in names)
    tokens = torch.randint(0, 50, (2, 5))
    torch.testing.assert_close(model.log_probs(tokens), model.log_probs(tokens))


def test_cutoffs_adapt_to_a_small_vocabulary_and_are_validated():
    assert effective_cutoffs([20000, 40000, 200000], 267735) == [20000, 40000, 200000]
    assert effective_cutoffs([20000, 40000, 200000], 30000) == [20000]
    assert effective_cutoffs([20000, 40000, 200000], 9518) == []
    with pytest.raises(ValueError, match="increasing positive integers"):
        effective_cutoffs([40000, 20000], 50000)
    small = transformer_xl(100, (), cutoffs=[20000, 40000, 200000], **TINY)
    assert small.softmax.bounds == [0, 100]  # one plain softmax
    assert small.softmax(torch.randn(1, 2, 16)).exp().sum(-1).allclose(torch.ones(1, 2))


@pytest.mark.parametrize("cutoffs", [[10, 30], [20000]])
def test_parameter_count_formula_matches_an_instantiated_model(cutoffs):
    model = transformer_xl(50, (), cutoffs=cutoffs, **TINY)
    counted = sum(p.numel() for p in model.parameters())
    assert counted == parameter_count(TransformerXLConfig(vocab_size=50, cutoffs=cutoffs, **TINY))


def test_parameter_count_of_the_paper_model():
    # The base WikiText-103 shape with 4 layers and the full 267,735-word vocabulary.
    assert parameter_count(TransformerXLConfig(vocab_size=267735)) == 120_307_738
    assert parameter_count(TransformerXLConfig(vocab_size=267735, n_layer=16)) == 151_107_538

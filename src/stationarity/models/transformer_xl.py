"""Transformer-XL (Dai et al. 2019): kimiyoung/transformer-xl's ``MemTransformerLM``, attn_type 0.

Relative positional attention with the biases u, v (``r_w_bias``, ``r_r_bias``) shared by every
layer, segment recurrence (each layer also attends to the last ``mem_len`` inputs it saw, held
without gradient), post-LayerNorm, dropout on embeddings, positions, sublayer outputs and the
final hidden state, attention dropout, and the tied adaptive embedding and softmax. Tensors are
batch-first, (N, L, d), so that dimension 0 indexes samples for the per-sample estimators.
"""

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .adaptive_softmax import AdaptiveEmbedding, AdaptiveLogSoftmax, effective_cutoffs

Memory = list[Tensor]  # one (N, M, d_model) tensor per layer: that layer's earlier inputs


@dataclass(frozen=True)
class TransformerXLConfig:
    """The shape of the model; the defaults are the WikiText-103 base model with 4 layers."""

    vocab_size: int
    n_layer: int = 4
    d_model: int = 410
    n_head: int = 10
    d_head: int = 41
    d_inner: int = 2100
    dropout: float = 0.1
    dropatt: float = 0.0
    mem_len: int = 150
    cutoffs: tuple[int, ...] = (20000, 40000, 200000)


def parameter_count(config: TransformerXLConfig) -> int:
    """Trainable parameters of a model of this shape, from the formula (nothing is allocated)."""
    d, heads = config.d_model, config.n_head * config.d_head
    clusters = len(effective_cutoffs(list(config.cutoffs), config.vocab_size))
    attention = 3 * d * heads + heads * d + heads * d  # q, k, v; positions r; output
    feed_forward = d * config.d_inner + config.d_inner + config.d_inner * d + d
    layer = attention + feed_forward + 2 * 2 * d  # two LayerNorms
    embedding_and_softmax = config.vocab_size * d + config.vocab_size + clusters * (d + 1)
    return config.n_layer * layer + embedding_and_softmax + 2 * heads


def sinusoid_positions(length: int, d_model: int, like: Tensor) -> Tensor:
    """Embeddings of the relative distances length−1, …, 0 (the keys' order), (length, d)."""
    distance = torch.arange(length - 1, -1, -1.0, device=like.device, dtype=like.dtype)
    inv_freq = 1 / 10000 ** (torch.arange(0, d_model, 2.0, device=like.device) / d_model)
    angles = torch.outer(distance, inv_freq.to(like.dtype))
    return torch.cat([angles.sin(), angles.cos()], -1)


def attention_mask(queries: int, memory: int, device: torch.device) -> Tensor:
    """True where query i may attend to key j: all of the memory and the segment up to i."""
    keys = memory + queries
    return torch.ones(queries, keys, dtype=torch.bool, device=device).tril(memory)


class RelativeBiases(nn.Module):
    """The content and position biases u and v of every head, shared by all layers."""

    def __init__(self, n_head: int, d_head: int):
        super().__init__()
        self.content = nn.Parameter(torch.empty(n_head, d_head))
        self.position = nn.Parameter(torch.empty(n_head, d_head))

    def forward(self, hidden: Tensor) -> tuple[Tensor, Tensor]:
        """u and v repeated (as views) for each of the N samples of ``hidden``: (N, H, d_head)."""
        n = hidden.shape[0]
        return self.content.expand(n, -1, -1), self.position.expand(n, -1, -1)


class RelativeAttention(nn.Module):
    """Multi-head attention with relative positions, over the memory and the segment."""

    def __init__(self, d_model: int, n_head: int, d_head: int, dropatt: float):
        super().__init__()
        self.n_head, self.d_head = n_head, d_head
        self.qkv = nn.Linear(d_model, 3 * n_head * d_head, bias=False)
        self.r = nn.Linear(d_model, n_head * d_head, bias=False)
        self.out = nn.Linear(n_head * d_head, d_model, bias=False)
        self.dropatt = nn.Dropout(dropatt)

    def attend(self, heads: Tensor, r: Tensor, u: Tensor, v: Tensor, queries: int) -> Tensor:
        """Attention of the last ``queries`` positions: q, k, v ``heads`` (N, K, 3·H·d_head) and
        projected positions ``r`` (1 or N, K, H·d_head) → (N, queries, H·d_head)."""
        n, keys, _ = heads.shape
        split = heads.view(n, keys, 3, self.n_head, self.d_head).permute(2, 0, 3, 1, 4)
        q, k, values = split[0][:, :, -queries:], split[1], split[2]  # (N, H, ·, d_head)
        r = r.view(r.shape[0], keys, self.n_head, self.d_head).permute(0, 2, 3, 1)
        content = (q + u[:, :, None]) @ k.transpose(-1, -2)  # (N, H, L, K)
        by_distance = (q + v[:, :, None]) @ r  # column c scores distance K − 1 − c
        # Query i sits at key position i + memory; key j is at distance i + memory − j, which
        # is column j + (L − 1 − i) of by_distance (the "relative shift", here as a gather).
        memory = keys - queries
        i = torch.arange(queries, device=heads.device)[:, None]
        j = torch.arange(keys, device=heads.device)
        column = (j + (queries - 1 - i)).clamp(max=keys - 1)  # masked where clamped
        position = by_distance.gather(-1, column.expand_as(by_distance))
        scores = (content + position) / math.sqrt(self.d_head)
        allowed = attention_mask(queries, memory, heads.device)
        weights = self.dropatt(scores.masked_fill(~allowed, float("-inf")).softmax(-1))
        return (weights @ values).transpose(1, 2).reshape(n, queries, -1)

    def forward(
        self, x: Tensor, memory: Tensor | None, positions: Tensor, u: Tensor, v: Tensor
    ) -> Tensor:
        """(N, L, d) segment, optional (N, M, d) memory, (1, M + L, d) positions → (N, L, d)."""
        context = x if memory is None else torch.cat([memory, x], 1)
        return self.out(self.attend(self.qkv(context), self.r(positions), u, v, x.shape[1]))


class DecoderLayer(nn.Module):
    """Relative attention and a ReLU feed-forward block, each with residual and post-LayerNorm."""

    def __init__(self, config: TransformerXLConfig):
        super().__init__()
        d = config.d_model
        self.attention = RelativeAttention(d, config.n_head, config.d_head, config.dropatt)
        self.attention_norm = nn.LayerNorm(d)
        self.feed_forward = nn.Sequential(
            nn.Linear(d, config.d_inner),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.d_inner, d),
            nn.Dropout(config.dropout),
        )
        self.feed_forward_norm = nn.LayerNorm(d)
        self.drop = nn.Dropout(config.dropout)

    def forward(
        self, x: Tensor, memory: Tensor | None, positions: Tensor, u: Tensor, v: Tensor
    ) -> Tensor:
        """One layer on the segment ``x`` with this layer's ``memory``."""
        attended = self.drop(self.attention(x, memory, positions, u, v))
        h = self.attention_norm(x + attended)
        return self.feed_forward_norm(h + self.feed_forward(h))


class TransformerXL(nn.Module):
    """The language model: ``forward`` trains on a segment with memory; ``log_probs`` measures."""

    def __init__(self, config: TransformerXLConfig):
        super().__init__()
        self.config = config
        self.embedding = AdaptiveEmbedding(config.vocab_size, config.d_model)
        self.biases = RelativeBiases(config.n_head, config.d_head)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.n_layer))
        self.softmax = AdaptiveLogSoftmax(self.embedding, list(config.cutoffs))
        self.drop = nn.Dropout(config.dropout)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """The reference initialisation: N(0, 0.02) weights, zero biases, N(1, 0.02) norm gains."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.normal_(module.weight, 1.0, 0.02)
                nn.init.zeros_(module.bias)
        for weight in (self.embedding.weight, self.biases.content, self.biases.position):
            nn.init.normal_(weight, 0.0, 0.02)
        nn.init.normal_(self.softmax.cluster_weight, 0.0, 0.02)

    def _positions(self, length: int, like: Tensor) -> Tensor:
        return self.drop(sinusoid_positions(length, self.config.d_model, like))[None]

    def hidden(self, tokens: Tensor, memory: Memory | None) -> tuple[Tensor, Memory]:
        """Final hidden states of the segment ``tokens`` (N, L), and the memory for the next one."""
        x = self.drop(self.embedding(tokens))
        remembered = 0 if memory is None else memory[0].shape[1]
        positions = self._positions(remembered + tokens.shape[1], x)
        u, v = self.biases(x)
        inputs = []
        for k, layer in enumerate(self.layers):
            inputs.append(x)
            x = layer(x, None if memory is None else memory[k], positions, u, v)
        if memory is not None:
            inputs = [torch.cat(pair, 1) for pair in zip(memory, inputs, strict=True)]
        # The next segment sees these states as constants: no gradient flows between segments.
        new_memory = [m[:, max(0, m.shape[1] - self.config.mem_len) :].detach() for m in inputs]
        return self.drop(x), new_memory

    def forward(
        self, tokens: Tensor, targets: Tensor, memory: Memory | None = None
    ) -> tuple[Tensor, Memory]:
        """−log p of each target (N, L) given the segment and ``memory``, and the next memory."""
        hidden, new_memory = self.hidden(tokens, memory)
        return self.softmax.nll(hidden, targets), new_memory

    def log_probs(self, tokens: Tensor, context: int = 0) -> Tensor:
        """Log-probabilities (N, L − context, vocabulary) of the next token of each position after
        the first ``context``, which serve as memory: one pass over the concatenation in which
        each layer's context inputs are held constant, as memory is in training."""
        return self.softmax(self._after_context(tokens, context))

    def target_nll(self, window: Tensor, context: int = 0) -> Tensor:
        """−log p (N, L) of each next token in ``window`` (N, context + L + 1) after the first
        ``context`` positions, as ``log_probs`` scores them, without full-vocabulary scores."""
        hidden = self._after_context(window[:, :-1], context)
        return self.softmax(hidden, window[:, context + 1 :])

    def _after_context(self, tokens: Tensor, context: int) -> Tensor:
        if not 0 <= context <= self.config.mem_len:
            raise ValueError(f"context must lie in 0..mem_len={self.config.mem_len}, not {context}")
        x = self.drop(self.embedding(tokens))
        positions = self._positions(tokens.shape[1], x)
        u, v = self.biases(x)
        for layer in self.layers:
            x = torch.cat([x[:, :context].detach(), x[:, context:]], 1)
            x = layer(x, None, positions, u, v)
        return self.drop(x[:, context:])


class WithContext(nn.Module):
    """A Transformer-XL as the estimators see it (see ``data.ContextSegments``): an input is a
    window of ``context`` + L + 1 tokens, the output −log p of each of the segment's L next tokens,
    to be summed by ``estimators.summed_target_nll``. Scoring only the targets keeps the
    full-vocabulary log-softmax out of every pass and Hessian-vector product."""

    def __init__(self, model: TransformerXL, context: int):
        super().__init__()
        self.model, self.context = model, context

    def forward(self, window: Tensor) -> Tensor:
        """(N, context + L + 1) → (N, L)."""
        return self.model.target_nll(window, self.context)


def transformer_xl(num_classes: int, input_shape: tuple[int, ...], **options) -> TransformerXL:
    """A Transformer-XL over a vocabulary of ``num_classes`` words (``input_shape`` is unused)."""
    if "cutoffs" in options:
        options["cutoffs"] = tuple(options["cutoffs"])
    return TransformerXL(TransformerXLConfig(vocab_size=num_classes, **options))

"""Adaptive input embedding and adaptive log-softmax with tied weights (Transformer-XL, div_val 1).

With div_val 1 every cluster has the full width, so the embedding is one matrix W (vocabulary ×
d_model, scaled by √d_model on lookup) and the softmax reuses W and adds a bias. The softmax
factorises: the head scores the ``cutoffs[0]`` most frequent words plus one logit per tail
cluster; a word of tail k has log p = log p_head(cluster k) + log p_tail_k(word). Training needs
only the log-probability of each target (``nll``), which computes a tail only for its own words.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def effective_cutoffs(cutoffs: list[int], vocab_size: int) -> list[int]:
    """The cluster boundaries inside the vocabulary (a small one keeps the clusters it fills)."""
    positive = all(isinstance(c, int) and c > 0 for c in cutoffs)
    if not positive or sorted(set(cutoffs)) != list(cutoffs):
        raise ValueError(f"cutoffs must be increasing positive integers, got {list(cutoffs)}")
    return [c for c in cutoffs if c < vocab_size]


class AdaptiveEmbedding(nn.Module):
    """Token embeddings W[token] · √d_model; W is also the softmax's output matrix."""

    def __init__(self, vocab_size: int, d_model: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(vocab_size, d_model))
        self.scale = d_model**0.5

    def forward(self, tokens: Tensor) -> Tensor:
        """(N, L) token ids → (N, L, d_model)."""
        return F.embedding(tokens, self.weight) * self.scale


class AdaptiveLogSoftmax(nn.Module):
    """Log-probabilities over the vocabulary from hidden states, with clusters at ``cutoffs``."""

    def __init__(self, embedding: AdaptiveEmbedding, cutoffs: list[int]):
        super().__init__()
        vocab_size, d_model = embedding.weight.shape
        # A plain tuple, not a submodule: the embedding owns W, so W has one owner (the per-sample
        # gradient rules of stationarity.estimators.lm_rules combine its two uses).
        self._tied = (embedding,)
        self.cutoffs = effective_cutoffs(cutoffs, vocab_size)
        self.bounds = [0, *self.cutoffs, vocab_size]
        self.bias = nn.Parameter(torch.zeros(vocab_size))
        self.cluster_weight = nn.Parameter(torch.zeros(len(self.cutoffs), d_model))
        self.cluster_bias = nn.Parameter(torch.zeros(len(self.cutoffs)))

    @property
    def weight(self) -> Tensor:
        """The output matrix: the embedding's W."""
        return self._tied[0].weight

    @property
    def shortlist(self) -> int:
        """Words scored by the head directly."""
        return self.bounds[1]

    def logits(self, hidden: Tensor) -> tuple[Tensor, Tensor]:
        """Word logits h·Wᵀ + b over the whole vocabulary, and the cluster logits."""
        return (
            F.linear(hidden, self.weight, self.bias),
            F.linear(hidden, self.cluster_weight, self.cluster_bias),
        )

    def log_probs_from_logits(self, words: Tensor, clusters: Tensor) -> Tensor:
        """Full log-probabilities (..., vocabulary) from the logits of ``logits``."""
        head = torch.cat([words[..., : self.shortlist], clusters], -1).log_softmax(-1)
        parts = [head[..., : self.shortlist]]
        for k, (lo, hi) in enumerate(zip(self.bounds[1:-1], self.bounds[2:], strict=True)):
            cluster = head[..., self.shortlist + k, None]
            parts.append(words[..., lo:hi].log_softmax(-1) + cluster)
        return torch.cat(parts, -1)

    def forward(self, hidden: Tensor, targets: Tensor | None = None) -> Tensor:
        """(..., d_model) → log-probabilities (..., vocabulary), summing to 1 over the last axis;
        with ``targets`` (...), only −log p of each target (``nll``): no full-vocabulary scores."""
        if targets is not None:
            return self.nll(hidden, targets)
        return self.log_probs_from_logits(*self.logits(hidden))

    def nll(self, hidden: Tensor, targets: Tensor) -> Tensor:
        """−log p(target) per position, computing each tail only for the targets in it."""
        h, t = hidden.reshape(-1, hidden.shape[-1]), targets.reshape(-1)
        n = self.shortlist
        head_weight = torch.cat([self.weight[:n], self.cluster_weight])
        head = F.linear(h, head_weight, torch.cat([self.bias[:n], self.cluster_bias]))
        head = head.log_softmax(-1)
        cluster = torch.bucketize(t, t.new_tensor(self.cutoffs), right=True)  # 0 = head
        column = torch.where(cluster == 0, t, n + cluster - 1)
        log_p = head.gather(1, column[:, None]).squeeze(1)
        for k, (lo, hi) in enumerate(zip(self.bounds[1:-1], self.bounds[2:], strict=True)):
            rows = (cluster == k + 1).nonzero().squeeze(1)
            if len(rows) == 0:
                continue
            tail = F.linear(h[rows], self.weight[lo:hi], self.bias[lo:hi]).log_softmax(-1)
            log_p = log_p.index_add(0, rows, tail.gather(1, (t[rows] - lo)[:, None]).squeeze(1))
        return -log_p.view(targets.shape)

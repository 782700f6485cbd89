"""Tiny models and data for the estimator tests, and brute-force references in float64."""

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn.attention import SDPBackend, sdpa_kernel

from stationarity.bench.workloads import CausalSelfAttention
from stationarity.estimators import summed_cross_entropy


def seeded(seed: int) -> torch.Generator:
    """A CPU generator with a fixed seed."""
    return torch.Generator().manual_seed(seed)


def split(inputs: Tensor, targets: Tensor, size: int) -> list[tuple[Tensor, Tensor]]:
    """Micro-batches of ``size`` samples (the last may be smaller)."""
    return list(zip(inputs.split(size), targets.split(size), strict=True))


def randomise_batch_norms(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Give every BatchNorm non-trivial running statistics and affine parameters."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                size = module.num_features
                module.running_mean.copy_(torch.randn(size, generator=generator))
                module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
                module.weight.copy_(torch.randn(size, generator=generator))
                module.bias.copy_(torch.randn(size, generator=generator))
    return model


class ResidualBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus the identity, as in a ResNet basic block."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        out += x
        return F.relu(out)


def conv_net(classes: int = 3) -> nn.Module:
    """Conv2d, BatchNorm, a residual block, pooling and a Linear head, on (N, 2, 6, 6) inputs."""
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(inplace=True),
        ResidualBlock(4),
        nn.MaxPool2d(3),
        nn.Flatten(),
        nn.Linear(16, classes),
    )


def mlp(classes: int = 3) -> nn.Module:
    """Two tanh layers on (N, 6) inputs."""
    return nn.Sequential(
        nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, classes)
    )


class TinyTransformer(nn.Module):
    """Token and position Embeddings, one pre-LayerNorm block, LayerNorm and a Linear head."""

    def __init__(self, vocabulary: int = 11, width: int = 8, length: int = 5, heads: int = 2):
        super().__init__()
        self.tokens = nn.Embedding(vocabulary, width)
        self.positions = nn.Embedding(length, width)
        self.norm1 = nn.LayerNorm(width)
        self.attention = CausalSelfAttention(width, heads)
        self.norm2 = nn.LayerNorm(width)
        self.feed_forward = nn.Sequential(
            nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width)
        )
        self.norm3 = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocabulary)

    def forward(self, ids: Tensor) -> Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
        x = self.tokens(ids) + self.positions(positions)
        x = x + self.attention(self.norm1(x))
        x = x + self.feed_forward(self.norm2(x))
        return self.head(self.norm3(x))


def randomise_norms(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Move LayerNorm affine parameters away from (1, 0), so their gradients are generic."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.LayerNorm):
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator))
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator))
    return model


def image_data(n: int, shape: tuple[int, ...], classes: int, seed: int) -> tuple[Tensor, Tensor]:
    """Gaussian inputs with random labels."""
    generator = seeded(seed)
    return torch.randn(n, *shape, generator=generator), torch.randint(
        classes, (n,), generator=generator
    )


def token_data(n: int, length: int, vocabulary: int, seed: int) -> tuple[Tensor, Tensor]:
    """Random token segments; targets are the inputs shifted by one, some of them ignored."""
    generator = seeded(seed)
    stream = torch.randint(vocabulary, (n, length + 1), generator=generator)
    targets = stream[:, 1:].clone()
    targets[torch.rand(targets.shape, generator=generator) < 0.2] = -100
    return stream[:, :-1], targets


def brute_force(model: nn.Module, inputs: Tensor, targets: Tensor) -> dict[str, float]:
    """Loss, ‖ḡ‖ and σ from a loop of per-sample gradients, with the centred variance formula."""
    params = [p for p in model.parameters() if p.requires_grad]
    sums, grads, counts = [], [], []
    for x, y in zip(inputs, targets, strict=True):
        loss, count = summed_cross_entropy(model(x[None]), y[None])
        grads.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)]))
        sums.append(loss.detach())
        counts.append(count)
    per_token = sum(counts) / len(counts)
    losses = torch.stack(sums) / per_token
    per_sample = torch.stack(grads) / per_token
    mean = per_sample.mean(0)
    return {
        "loss": float(losses.mean()),
        "grad_norm": float(mean.norm()),
        "noise": float((per_sample - mean).square().sum(1).mean().sqrt()),
        "tokens": int(sum(counts)),
    }


def dense_hessian(model: nn.Module, inputs: Tensor, targets: Tensor) -> Tensor:
    """The full Hessian of the mean loss with respect to the flat trainable parameters."""
    names = [name for name, p in model.named_parameters() if p.requires_grad]
    shapes = [p.shape for _, p in model.named_parameters() if p.requires_grad]
    flat = torch.cat(
        [p.detach().reshape(-1) for _, p in model.named_parameters() if p.requires_grad]
    )

    def mean_loss(theta: Tensor) -> Tensor:
        pieces = theta.split([s.numel() for s in shapes])
        params = {n: p.view(s) for n, p, s in zip(names, pieces, shapes, strict=True)}
        loss, count = summed_cross_entropy(functional_call(model, params, (inputs,)), targets)
        return loss / count

    with sdpa_kernel(SDPBackend.MATH):  # the fused attention kernels have no double backward
        hessian = torch.autograd.functional.hessian(mean_loss, flat, vectorize=True)
    return (hessian + hessian.T) / 2


def top_dense_eigenvalue(model: nn.Module, inputs: Tensor, targets: Tensor) -> float:
    """The Hessian eigenvalue of largest magnitude, with its sign."""
    eigenvalues = torch.linalg.eigvalsh(dense_hessian(model, inputs, targets))
    return float(eigenvalues[eigenvalues.abs().argmax()])


@pytest.fixture
def float64():
    """Float64 as torch's default dtype for one test (tests that compare to 1e-10 use it)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)

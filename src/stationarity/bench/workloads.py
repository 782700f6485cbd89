"""Models, synthetic data and checkpoints for the estimator benchmark; no files, no network."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..estimators.losses import LossFn, summed_cross_entropy, summed_target_nll
from ..models.transformer_xl import TransformerXL, TransformerXLConfig, WithContext

MODELS = ("cnn", "convbn", "transformer", "transformer_xl", "resnet18", "resnet50", "resnet101")
CLASSES = 10
VOCABULARY = 256
SEGMENT = 64


def small_cnn() -> nn.Module:
    """3 × [conv3×3, BatchNorm, ReLU, max-pool] (16/32/64 channels), Linear 1024→128→10."""
    layers: list[nn.Module] = []
    for c_in, c_out in ((3, 16), (16, 32), (32, 64)):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]
        layers.append(nn.MaxPool2d(2))
    layers += [nn.Flatten(), nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, CLASSES)]
    return nn.Sequential(*layers)


def conv_bn_net() -> nn.Module:
    """A held-out VGG-style net: 4 stages of 2 × [conv3×3 without bias, BatchNorm, ReLU]
    (32/64/128/256 channels) with max-pools between, global average pool, Linear 256→10.

    Not the net the per-sample rules were tuned on: a check that they generalise.
    """
    layers: list[nn.Module] = []
    c_in = 3
    for stage, c_out in enumerate((32, 64, 128, 256)):
        if stage:
            layers.append(nn.MaxPool2d(2))
        for _ in range(2):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out)]
            layers.append(nn.ReLU())
            c_in = c_out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, CLASSES)]
    return nn.Sequential(*layers)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention from a fused QKV projection."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: Tensor) -> Tensor:
        n, length, width = x.shape
        q, k, v = self.qkv(x).view(n, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        mixed = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(mixed.transpose(1, 2).reshape(n, length, width))


class Block(nn.Module):
    """Pre-LayerNorm transformer block."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attention = CausalSelfAttention(width, heads)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class SmallTransformer(nn.Module):
    """A 2-layer GPT-style language model, width 64, 4 heads (about 137k parameters)."""

    def __init__(self, width: int = 64, depth: int = 2, heads: int = 4):
        super().__init__()
        self.tokens = nn.Embedding(VOCABULARY, width)
        self.positions = nn.Embedding(SEGMENT, width)
        self.blocks = nn.Sequential(*(Block(width, heads) for _ in range(depth)))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, VOCABULARY)

    def forward(self, ids: Tensor) -> Tensor:
        # Position ids carry the batch dimension so the Embedding's per-sample rule applies.
        positions = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
        x = self.tokens(ids) + self.positions(positions)
        return self.head(self.norm(self.blocks(x)))


# The project's Transformer-XL at a small width: the paper's layer kinds (relative attention,
# memory held constant, adaptive softmax with two tail clusters) at CPU scale.
SMALL_TRANSFORMER_XL = {
    "n_layer": 2, "d_model": 128, "n_head": 4, "d_head": 32, "d_inner": 512, "mem_len": 32,
    "cutoffs": (256, 1024), "dropout": 0.1,
}  # fmt: skip
XL_VOCABULARY = 2048


def small_transformer_xl() -> nn.Module:
    """``SMALL_TRANSFORMER_XL`` as the estimators see it: windows in, −log p of each target out."""
    config = TransformerXLConfig(vocab_size=XL_VOCABULARY, **SMALL_TRANSFORMER_XL)
    return WithContext(TransformerXL(config), config.mem_len)


def synthetic_images(n: int, size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """CIFAR-like 3×size×size images: smooth class templates plus noise, 20% labels resampled."""
    coarse = torch.randn(CLASSES, 3, 4, 4, generator=generator)
    templates = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    labels = torch.randint(CLASSES, (n,), generator=generator)
    images = templates[labels] + 1.5 * torch.randn(n, 3, size, size, generator=generator)
    noisy = torch.rand(n, generator=generator) < 0.2
    labels[noisy] = torch.randint(CLASSES, (int(noisy.sum()),), generator=generator)
    return images, labels


def synthetic_tokens(
    n: int, generator: torch.Generator, vocabulary: int = VOCABULARY, context: int = 0
) -> tuple[Tensor, Tensor]:
    """Segments of a random bigram chain (4 likely successors per token) and next-token targets;
    with ``context``, windows of that many earlier tokens, the segment and the token after it
    (as ``data.ContextSegments`` gives them), with the segment's targets."""
    successors = torch.randint(vocabulary, (vocabulary, 4), generator=generator)
    length = context + SEGMENT + 1
    stream = torch.empty(n, length, dtype=torch.long)
    stream[:, 0] = torch.randint(vocabulary, (n,), generator=generator)
    for t in range(length - 1):
        choice = torch.randint(4, (n,), generator=generator)
        follow = successors[stream[:, t], choice]
        jump = torch.rand(n, generator=generator) < 0.1
        stream[:, t + 1] = torch.where(jump, torch.randint(vocabulary, (n,)), follow)
    if context:
        return stream, stream[:, context + 1 :]
    return stream[:, :-1], stream[:, 1:]


@dataclass
class Workload:
    """A model with its data: the m measured samples and a pool to train on."""

    name: str
    model: nn.Module
    inputs: Tensor
    targets: Tensor
    train_inputs: Tensor
    train_targets: Tensor
    optimiser: str
    loss_fn: LossFn = summed_cross_entropy


def make_workload(name: str, samples: int, image_size: int, seed: int = 0) -> Workload:
    """Build one of ``MODELS`` (the ResNets from torchvision, random init)."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    loss_fn = summed_cross_entropy
    if name == "transformer":
        inputs, targets = synthetic_tokens(samples + 2048, generator)
        model, optimiser = SmallTransformer(), "adam"
    elif name == "transformer_xl":
        context = SMALL_TRANSFORMER_XL["mem_len"]
        inputs, targets = synthetic_tokens(samples + 2048, generator, XL_VOCABULARY, context)
        model, optimiser, loss_fn = small_transformer_xl(), "adam", summed_target_nll
    else:
        size = 32 if name in ("cnn", "convbn") else image_size
        inputs, targets = synthetic_images(samples + 2048, size, generator)
        model, optimiser = _image_model(name), "sgd"
    return Workload(
        name,
        model,
        inputs[:samples],
        targets[:samples],
        inputs[samples:],
        targets[samples:],
        optimiser,
        loss_fn,
    )


def _image_model(name: str) -> nn.Module:
    if name == "cnn":
        return small_cnn()
    if name == "convbn":
        return conv_bn_net()
    import torchvision

    builders = {
        "resnet18": torchvision.models.resnet18,
        "resnet50": torchvision.models.resnet50,
        "resnet101": torchvision.models.resnet101,
    }
    if name not in builders:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return builders[name](weights=None, num_classes=CLASSES)


def settle_batch_norm(workload: Workload, device: torch.device, steps: int = 8) -> None:
    """Set BatchNorm running statistics to their average over ``steps`` train-mode forward passes
    of 128 samples, without training; leave the model in eval mode.

    After a few training steps the running averages (momentum 0.1) still weigh the random
    initialisation's activations, and a deep ResNet in eval mode then blows up its outputs: the
    loss of ResNet-101 was not finite. So every checkpoint is measured with settled statistics.
    """
    norms = [m for m in workload.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        workload.model.eval()
        return
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average
    model = workload.model.train()
    with torch.no_grad():
        for inputs in workload.train_inputs.split(128)[:steps]:
            model(inputs.to(device))
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    model.eval()


def train(workload: Workload, device: torch.device, steps: int, batch_size: int = 128) -> None:
    """A short training run (SGD with momentum, or Adam for the transformer), in train mode."""
    model = workload.model.train()
    params = model.parameters()
    if workload.optimiser == "adam":
        optimiser = torch.optim.Adam(params, lr=1e-3)
    else:
        optimiser = torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=5e-4)
    generator = torch.Generator().manual_seed(1)
    pool = len(workload.train_targets)
    for _ in range(steps):
        batch = torch.randint(pool, (batch_size,), generator=generator)
        inputs = workload.train_inputs[batch].to(device)
        targets = workload.train_targets[batch].to(device)
        loss, count = workload.loss_fn(model(inputs), targets)
        optimiser.zero_grad(set_to_none=True)
        (loss / count).backward()
        optimiser.step()
    settle_batch_norm(workload, device)


def parameter_count(model: nn.Module) -> int:
    """The number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

"""Models built from config by name: ``build_model(name, num_classes, input_shape, **options)``."""

from collections.abc import Callable

from torch import nn

from .resnet import CifarResNet18, imagenet_resnet
from .small import cnn_8_16, cnn_16_32_bn, mlp
from .transformer_xl import transformer_xl

MODELS: dict[str, Callable[..., nn.Module]] = {
    "resnet101": lambda num_classes, input_shape: imagenet_resnet(101, num_classes, input_shape),
    "resnet18": lambda num_classes, input_shape: imagenet_resnet(18, num_classes, input_shape),
    "cifar_resnet18": lambda num_classes, input_shape: CifarResNet18(num_classes, input_shape[0]),
    "cnn_8_16": cnn_8_16,
    "cnn_16_32_bn": cnn_16_32_bn,
    "mlp": mlp,
    "transformer_xl": transformer_xl,  # num_classes = vocabulary size
}


def build_model(name: str, num_classes: int, input_shape: tuple[int, ...], **options) -> nn.Module:
    """A freshly initialised model (initialisation uses torch's global RNG: seed it first)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
    try:
        return MODELS[name](num_classes, tuple(input_shape), **options)
    except TypeError as err:
        raise ValueError(f"bad options {options} for model {name!r}: {err}") from err

"""Small demo models for 8x8 to 28x28 images (see reference/demo-regimes.md section 2)."""

import math
from collections.abc import Sequence

from torch import nn


def _conv_block(in_ch: int, out_ch: int, batch_norm: bool) -> list[nn.Module]:
    # With BatchNorm right after, a conv bias would be redundant (the paper-size count is 7,738).
    conv = nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1, bias=not batch_norm)
    norm = [nn.BatchNorm2d(out_ch)] if batch_norm else []
    return [conv, *norm, nn.ReLU(), nn.MaxPool2d(2)]


def two_layer_cnn(
    num_classes: int, input_shape: tuple[int, int, int], widths: tuple[int, int], batch_norm: bool
) -> nn.Sequential:
    """conv3x3-[BN]-ReLU-maxpool twice, then a linear head on the flattened features."""
    channels, height, width = input_shape
    features = widths[1] * (height // 4) * (width // 4)
    return nn.Sequential(
        *_conv_block(channels, widths[0], batch_norm),
        *_conv_block(widths[0], widths[1], batch_norm),
        nn.Flatten(),
        nn.Linear(features, num_classes),
    )


def cnn_8_16(num_classes: int, input_shape: tuple[int, int, int]) -> nn.Sequential:
    """The under-fitting demo CNN "8-16" (2,698 parameters at 1x14x14, 10 classes)."""
    return two_layer_cnn(num_classes, input_shape, (8, 16), batch_norm=False)


def cnn_16_32_bn(num_classes: int, input_shape: tuple[int, int, int]) -> nn.Sequential:
    """The over-fitting demo CNN "16-32+BN" (7,738 parameters at 1x14x14, 10 classes)."""
    return two_layer_cnn(num_classes, input_shape, (16, 32), batch_norm=True)


def mlp(
    num_classes: int, input_shape: tuple[int, ...], hidden: Sequence[int] = (64,)
) -> nn.Sequential:
    """A ReLU multilayer perceptron on the flattened input; ``hidden`` lists the layer widths."""
    sizes = [math.prod(input_shape)]
    layers: list[nn.Module] = [nn.Flatten()]
    for width in hidden:
        layers += [nn.Linear(sizes[-1], width), nn.ReLU()]
        sizes.append(width)
    layers.append(nn.Linear(sizes[-1], num_classes))
    return nn.Sequential(*layers)

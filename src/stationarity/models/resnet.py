"""ResNets: torchvision's ImageNet ResNet-101/-18 and kuangliu/pytorch-cifar's CIFAR ResNet-18."""

import torch.nn.functional as F
from torch import Tensor, nn


def imagenet_resnet(depth: int, num_classes: int, input_shape: tuple[int, int, int]) -> nn.Module:
    """torchvision's ResNet-``depth`` from scratch (v1.5: stride on the 3x3 conv, He init)."""
    if input_shape[0] != 3:
        raise ValueError(f"resnet{depth} needs 3-channel images, got input shape {input_shape}")
    import torchvision  # imports triton and sympy: 1.6 s, so only when needed

    builder = {18: torchvision.models.resnet18, 101: torchvision.models.resnet101}[depth]
    return builder(weights=None, num_classes=num_classes)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a (projected when the shape changes) identity shortcut."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet18(nn.Module):
    """ResNet-18 for 32x32 images: 3x3 stem, no max-pool, stages 64/128/256/512 (11.2 M params)."""

    def __init__(self, num_classes: int, in_channels: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        # Attribute names follow kuangliu's (conv1, bn1, layer1..layer4, linear).
        in_ch = 64
        for i, (out_ch, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), start=1):
            blocks = (BasicBlock(in_ch, out_ch, stride), BasicBlock(out_ch, out_ch, 1))
            self.add_module(f"layer{i}", nn.Sequential(*blocks))
            in_ch = out_ch
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        # Global average pool: equals kuangliu's avg_pool2d(out, 4) at 32x32, works at other sizes.
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)

"""The interface every image data set returns, and an in-memory data set of tensors."""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import Dataset

BatchAugment = Callable[[Tensor, torch.Generator], Tensor]


@dataclass
class ImageData:
    """Training samples with and without augmentation, plus what a model needs to know."""

    train: Dataset  # (x, y) with the training transforms
    clean: Dataset  # the same samples in the same order, without augmentation (for statistics)
    num_classes: int
    input_shape: tuple[int, int, int]
    # Augmentation applied on whole batches in the training loop (in-memory data sets), else None.
    batch_augment: BatchAugment | None = None


class TensorImageDataset(Dataset):
    """Images and labels held as tensors; the training loop indexes them a batch at a time."""

    def __init__(self, images: Tensor, labels: Tensor):
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.images[index], self.labels[index]

"""Image classification as the training loop sees it: batches in a resumable order, and a loss.

The order of epoch e is a permutation drawn from a generator seeded by (seed, e), and every random
augmentation is seeded by (seed, epoch, position), so any batch can be recreated after a restart
without replaying the ones before it.
"""

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Sampler

from ..data import ImageData, TensorImageDataset
from ..seeding import derive_seed
from .spec import steps_per_epoch

Batch = tuple[Tensor, Tensor]


def epoch_order(num_samples: int, seed: int, epoch: int) -> Tensor:
    """The sample order of ``epoch``: a permutation that depends only on (seed, epoch)."""
    generator = torch.Generator().manual_seed(derive_seed(seed, "order", epoch))
    return torch.randperm(num_samples, generator=generator)


class EpochBatches(Sampler):
    """One epoch of batches of (epoch, index) keys from batch ``start`` on; set both first."""

    def __init__(self, num_samples: int, batch_size: int, seed: int):
        self.num_samples, self.batch_size, self.seed = num_samples, batch_size, seed
        self.epoch, self.start = 0, 0
        self.rank, self.world = 0, 1  # data-parallel training loads every world-th sample

    def __len__(self) -> int:
        return steps_per_epoch(self.num_samples, self.batch_size) - self.start

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        order = epoch_order(self.num_samples, self.seed, self.epoch).tolist()
        for b in range(self.start, steps_per_epoch(self.num_samples, self.batch_size)):
            chunk = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield [(self.epoch, i) for i in chunk[self.rank :: self.world]]


class SeededSamples(Dataset):
    """A data set whose random transforms are seeded per (epoch, index), in any worker process."""

    def __init__(self, dataset: Dataset, seed: int):
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key
        # fork_rng restores torch's global RNG afterwards, so dropout etc. are not disturbed.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(self.seed, "sample", epoch, index))
            return self.dataset[index]


class ImageTask:
    """Cross-entropy classification of ``data.train`` in batches of ``batch_size``."""

    def __init__(
        self, data: ImageData, batch_size: int, seed: int, device: torch.device, workers: int
    ):
        self.data, self.batch_size, self.seed, self.device = data, batch_size, seed, device
        self.steps_per_epoch = steps_per_epoch(len(data.train), batch_size)
        if isinstance(data.train, TensorImageDataset):
            # Small in-memory sets live on the device; batches are gathered there, no DataLoader.
            self.images = data.train.images.to(device)
            self.labels = data.train.labels.to(device)
            self.augment_generator = torch.Generator()
        else:
            self.sampler = EpochBatches(len(data.train), batch_size, seed)
            self.loader = DataLoader(
                SeededSamples(data.train, seed),
                batch_sampler=self.sampler,
                num_workers=workers,
                pin_memory=device.type == "cuda",
                persistent_workers=workers > 0,
                # Its own generator: creating an iterator must not draw from torch's global RNG.
                generator=torch.Generator(),
            )

    def batches(self, epoch: int, start: int) -> Iterator[Batch]:
        """The batches of ``epoch`` from batch ``start`` on, on the device."""
        if not hasattr(self, "loader"):
            yield from self._tensor_batches(epoch, start)
            return
        self.sampler.epoch, self.sampler.start = epoch, start
        for x, y in self.loader:
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def _tensor_batches(self, epoch: int, start: int) -> Iterator[Batch]:
        order = epoch_order(len(self.labels), self.seed, epoch).to(self.device)
        augment = self.data.batch_augment
        for b in range(start, self.steps_per_epoch):
            index = order[b * self.batch_size : (b + 1) * self.batch_size]
            x = self.images[index]
            if augment is not None:
                self.augment_generator.manual_seed(derive_seed(self.seed, "augment", epoch, b))
                x = augment(x, self.augment_generator)
            yield x, self.labels[index]

    @staticmethod
    def loss(model: nn.Module, batch: Batch) -> Tensor:
        """Mean cross-entropy of the batch (weight decay is the optimiser's business)."""
        x, y = batch
        return F.cross_entropy(model(x), y)

    @staticmethod
    def batch_samples(batch: Batch) -> int:
        """Samples in a batch, for throughput."""
        return len(batch[1])

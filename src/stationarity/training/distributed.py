"""Data-parallel training on the GPUs of one node, for runs that ask for more than one GPU.

The train job runs ``torchrun``, which starts one process per GPU; each trains on its share of every
global batch, so the run is the one a single process would train: the same batches (in the same
order, with the same augmentation), learning rates, logged losses and checkpoints, to float
rounding. Rank 0 alone writes checkpoints, logs and W&B; every rank resumes from them. BatchNorm
normalises over each GPU's share and keeps rank 0's running statistics, as the authors' ImageNet
code's ``DataParallel`` did. Outside ``torchrun`` every helper here is the single-process identity.
"""

import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .image_task import ImageTask

_control = None  # a gloo group for CPU flags: NCCL reduces GPU tensors only


def is_main_process() -> bool:
    """Whether this process writes results: the only one, or rank 0."""
    return not dist.is_initialized() or dist.get_rank() == 0


def any_rank(flag) -> bool:
    """Whether ``flag`` is set on any rank, so that all ranks stop at the same step."""
    if not dist.is_initialized():
        return bool(flag)
    vote = torch.tensor([int(bool(flag))])
    dist.all_reduce(vote, op=dist.ReduceOp.MAX, group=_control)
    return bool(vote.item())


class SameStateDDP(DistributedDataParallel):
    """DDP whose state dict is the wrapped model's, so checkpoints are as without DDP."""

    def state_dict(self, *args, **kwargs):
        """The wrapped model's state dict (no ``module.`` prefix)."""
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Load into the wrapped model."""
        return self.module.load_state_dict(state_dict, strict=strict, assign=assign)


class ShardedTask:
    """This rank's share of each global batch of an image task; its loss is the global batch's."""

    def __init__(self, task, rank: int, world: int):
        self.task, self.rank, self.world = task, rank, world
        self.steps_per_epoch = task.steps_per_epoch
        self.num_samples, self.batch_size = len(task.data.train), task.batch_size
        self.presharded = hasattr(task, "sampler")
        if self.presharded:  # files: each rank decodes only its own samples
            task.sampler.rank, task.sampler.world = rank, world

    def batches(self, epoch: int, start: int):
        """This rank's part of the batches of ``epoch`` from ``start``, with the global size."""
        for b, (x, y) in enumerate(self.task.batches(epoch, start), start):
            size = min(self.batch_size, self.num_samples - b * self.batch_size)
            if not self.presharded:  # in memory: augmented as a whole batch, then split
                x, y = x[self.rank :: self.world], y[self.rank :: self.world]
            yield x, y, size

    def loss(self, model, batch):
        """The global mean loss; its gradient, averaged over ranks by DDP, is the global one."""
        x, y, size = batch
        share = self.task.loss(model, (x, y)) * (len(y) * self.world / size)
        total = share.detach() / self.world
        dist.all_reduce(total)
        return share + (total - share).detach()

    def batch_samples(self, batch) -> int:
        """Samples in the global batch, for throughput."""
        return batch[2]


def data_parallel(task, model):
    """Under torchrun: (this rank's task, the model wrapped in DDP); else both unchanged."""
    if not dist.is_initialized():
        return task, model
    if not isinstance(task, ImageTask):
        raise NotImplementedError("training on several GPUs (gpus > 1) is for image tasks only")
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else None
    wrapped = SameStateDDP(model, device_ids=devices)
    return ShardedTask(task, dist.get_rank(), dist.get_world_size()), wrapped


def join_group() -> None:
    """Join the torchrun process group: NCCL for the model, a gloo group for control messages."""
    global _control
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group("nccl")
        _control = dist.new_group(backend="gloo")
    else:
        dist.init_process_group("gloo")


def wait_for_rank0() -> None:
    """Block until every rank arrives (rank 0 arrives once its final checkpoint is saved)."""
    dist.barrier(group=_control)

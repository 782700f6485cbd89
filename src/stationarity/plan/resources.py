"""What each job asks of the scheduler: GPUs, cores, memory, a runtime that grows per retry."""

import shutil
from dataclasses import dataclass

CPUS_PER_GPU = 8  # data loader workers that keep one GPU busy on ImageNet
MEM_MB_PER_GPU = 16_000  # for those workers' decoded batches
CPU_JOB_MEM_MB = 4_000
GPU_ESTIMATE_MEM_MB = 8_000  # the host side of a GPU estimate: loader workers, batches, sums


@dataclass(frozen=True)
class Resources:
    """One job's request; ``runtime(attempt)`` gives minutes, longer for each retry."""

    gpu: int
    threads: int
    mem_mb: int
    hours_per_attempt: float

    def runtime(self, attempt: int) -> int:
        """Minutes for this attempt; a retry resumes from a checkpoint and asks for more."""
        return round(60 * self.hours_per_attempt * attempt)


MARGIN = 1.25  # a job's time limit over its predicted time (the cost model's, plan.cost)
MIN_HOURS = 0.25  # no limit below 15 minutes: start-up and a loaded node
MAX_TRAIN_HOURS = 24  # a longer run trains in several tries: each resumes from a checkpoint
ESTIMATE_CPUS = 4  # per GPU estimate job: 3 data loader workers decode images for the GPU


def train_resources(gpus: int, predicted_hours: float | None = None) -> Resources:
    """A training job: loader workers per GPU (one core on CPU), their memory, and its predicted
    time with a margin (24 h a try at most; without a prediction 24 h on GPUs, 2 h on CPU)."""
    if predicted_hours is None:
        hours = MAX_TRAIN_HOURS if gpus else 2
    else:
        hours = min(MAX_TRAIN_HOURS, max(MIN_HOURS, MARGIN * predicted_hours))
    return Resources(
        gpu=gpus,
        threads=max(1, CPUS_PER_GPU * gpus),
        mem_mb=max(CPU_JOB_MEM_MB, MEM_MB_PER_GPU * gpus),
        hours_per_attempt=hours,
    )


def estimate_resources(
    on_gpu: bool, limit_hours: float, parameters: int = 0, groups: int = 16, basis: int = 0
) -> Resources:
    """An estimate or sample-size job: one GPU where the run trained on GPUs, with loader cores;
    host memory for the model's gradient sums (the ``groups`` group sums of the standard errors
    in float64, and two more) and, on CPU, for ``basis`` float32 Lanczos vectors (a GPU keeps
    them, and a saved state streams them to disk one at a time); the time its HVPs may take,
    with a margin."""
    vectors = (groups + 2) * 8 + (0 if on_gpu else basis * 4)
    sums_mb = vectors * parameters / 2**20
    floor = GPU_ESTIMATE_MEM_MB if on_gpu else CPU_JOB_MEM_MB
    return Resources(
        gpu=int(on_gpu),
        threads=ESTIMATE_CPUS if on_gpu else 1,
        mem_mb=max(floor, int(round(CPU_JOB_MEM_MB + MARGIN * sums_mb, -3))),
        hours_per_attempt=max(MIN_HOURS, MARGIN * limit_hours),
    )


# What Snakemake's SLURM executor calls (sacct only to guess the account when none is set).
SLURM_COMMANDS = ("sbatch", "squeue", "scancel", "sinfo", "sacct")


def missing_slurm_commands() -> str | None:
    """Why jobs cannot be submitted to SLURM from here (commands not on PATH), or None."""
    missing = [command for command in SLURM_COMMANDS if shutil.which(command) is None]
    if not missing:
        return None
    return (
        "--profile slurm submits jobs to SLURM, but these commands are not on PATH: "
        f"{', '.join(missing)}. Run on a SLURM login node (where `sinfo` works), or run the "
        "demo study on this machine with `snakemake --profile local all`."
    )

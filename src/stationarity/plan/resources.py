"""What each job asks of the scheduler: GPUs, cores, memory, a runtime that grows per retry."""

import shutil
from dataclasses import dataclass

CPUS_PER_GPU = 8  # data loader workers that keep one GPU busy on ImageNet
MEM_MB_PER_GPU = 16_000  # for those workers' decoded batches
CPU_JOB_MEM_MB = 4_000


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


def train_resources(gpus: int) -> Resources:
    """A training job: loader workers per GPU (one core on CPU), their memory, 24 h a try."""
    return Resources(
        gpu=gpus,
        threads=max(1, CPUS_PER_GPU * gpus),
        mem_mb=max(CPU_JOB_MEM_MB, MEM_MB_PER_GPU * gpus),
        hours_per_attempt=24 if gpus else 2,
    )


def estimate_resources(on_gpu: bool, hours: float) -> Resources:
    """An estimate or sample-size job: one GPU where the run trained on GPUs, one core."""
    return Resources(gpu=int(on_gpu), threads=1, mem_mb=CPU_JOB_MEM_MB, hours_per_attempt=hours)


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

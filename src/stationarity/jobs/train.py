"""The train job: build the run from its settings, train (or resume) it, publish its outputs.

The checkpoint folder is the run's identity folder, ``runs/<experiment>/<schedule>/seed<N>/<id>``:
checkpoints, their manifest, the per-step log and ``run.json``, the definition that the identity
hashes. A changed setting gives a new folder, so an old run is never resumed, republished or
overwritten; the log says what changed. The folder holds the durable state; the
job's declared outputs are copies made at the end, because Snakemake deletes the outputs of a failed
job and a retry must still find everything it needs to resume. A run on several GPUs trains in one
process per GPU under torchrun (``launch``), each running ``run_rank``.
"""

import json
import subprocess
import sys
from pathlib import Path

import torch.distributed as dist

from ..files import atomic_write_bytes, copy_atomically
from ..plan.runs import run_spec
from ..provenance import provenance
from ..tracking import Tracker
from ..training.distributed import is_main_process, join_group, wait_for_rank0
from ..training.identity import changes
from ..training.loop import train_run
from ..training.preemption import Preempted


def run_train_job(
    settings: dict,
    *,
    checkpoint_dir: Path,
    wandb_dir: Path,
    manifest: Path,
    train_log: Path,
    threads: int,
) -> None:
    """Train (or resume) one run and publish its manifest and per-step log."""
    spec = run_spec(settings, wandb_dir)
    if settings.get("identity", spec.identity) != spec.identity:
        raise RuntimeError(
            f"{spec.run_path}: planned identity {settings['identity']} != {spec.identity}"
        )
    if is_main_process():
        record_definition(spec, Path(checkpoint_dir))
    # Of data-parallel ranks, rank 0 alone tracks and publishes.
    tracked = spec.wandb.get("mode", "disabled") != "disabled" and is_main_process()
    durable = {
        manifest: checkpoint_dir / "manifest.tsv",
        train_log: checkpoint_dir / "train_log.parquet",
    }
    train_run(
        spec,
        checkpoint_dir=checkpoint_dir,
        manifest_path=durable[manifest],
        log_path=durable[train_log],
        threads=threads,
        tracker=Tracker() if tracked else None,
    )
    if not is_main_process():
        return
    for target, source in durable.items():
        copy_atomically(source, target)


def record_definition(spec, checkpoint_dir: Path) -> None:
    """Write the run's ``run.json``; for a new identity, log what changed since the previous one."""
    record = checkpoint_dir / "run.json"
    if record.exists():
        return
    earlier = sorted(checkpoint_dir.parent.glob("*/run.json"), key=lambda p: p.stat().st_mtime)
    if earlier:
        previous = json.loads(earlier[-1].read_text())
        changed = "; ".join(changes(previous["definition"], spec.definition)) or "nothing listed"
        print(
            f"{spec.run_path}: new identity {spec.identity} (was {previous['identity']}): "
            f"{changed}. Training from step 0; the earlier run stays in {earlier[-1].parent}",
            file=sys.stderr,
        )
    content = {"identity": spec.identity, "definition": spec.definition, **provenance()}
    atomic_write_bytes(record, json.dumps(content, indent=1, default=str).encode())


def launch(processes: int, job: dict, log=None) -> int:
    """Run ``run_train_job(**job)`` in ``processes`` processes under torchrun; its exit code.

    ``log``: a file that receives torchrun's output (default: this process's).
    """
    job_file = Path(job["checkpoint_dir"]) / "ddp_job.json"
    job_file.parent.mkdir(parents=True, exist_ok=True)
    job_file.write_text(json.dumps(job, default=str))
    command = [
        *(sys.executable, "-m", "torch.distributed.run", "--standalone"),
        f"--nproc-per-node={processes}",
        "--local-ranks-filter=0",  # one progress log; a failing rank's traceback is still shown
        *("-m", "stationarity.jobs.train", str(job_file)),
    ]
    return subprocess.run(command, stdout=log, stderr=log, check=False).returncode


def run_rank(job_file: str) -> None:
    """One torchrun process: join the group, train, and leave only when rank 0 has saved."""
    job = json.loads(Path(job_file).read_text())
    join_group()
    paths = ("checkpoint_dir", "wandb_dir", "manifest", "train_log")
    try:
        run_train_job(
            job["settings"],
            **{key: Path(job[key]) for key in paths},
            threads=max(1, job["threads"] // dist.get_world_size()),
        )
    except Preempted:
        # torchrun stops every rank once one exits non-zero: wait for rank 0's checkpoint first.
        wait_for_rank0()
        raise
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    # Run the package's copy of this module, whose state the training loop shares (not __main__'s).
    from torch.distributed.elastic.multiprocessing.errors import record

    from stationarity.jobs.train import run_rank as package_run_rank

    record(package_run_rank)(sys.argv[1])

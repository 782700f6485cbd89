"""The training loop: SGD/Adam on a task, kill-safe checkpoints, resume, per-iteration log.

``train_run`` builds a run's data, model and optimiser and calls ``fit``, which knows nothing of
images: a task supplies ``steps_per_epoch``, ``batches(epoch, start)``, ``loss(model, batch)`` and
``batch_samples(batch)``. Checkpoints go to ``checkpoint_dir/step{N:08d}.pt`` at step 0, every
``checkpoint_every`` and at the end; ``manifest.tsv`` lists them. SIGTERM/SIGUSR1 checkpoint at the
next step and exit with code 75 (see ``preemption``); any restart resumes from the newest valid
checkpoint. On CPU a resumed run is bit-identical to an uninterrupted one.
"""

import contextlib
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..data import TEXT_SETS, build_image_data
from ..models import build_model
from ..progress import ProgressLog
from ..provenance import provenance
from ..tracking import WANDB_KEYS, train_run_id
from .checkpoints import latest_valid, load_verified, serialize_checkpoint, write_checkpoint
from .distributed import any_rank, data_parallel, is_main_process
from .host_memory import keep_freed_memory
from .image_task import ImageTask
from .lm_task import build_lm_task
from .ordered_writer import OrderedWriter
from .preemption import Preempted, PreemptionSignals
from .schedules import learning_rate
from .spec import TrainSpec
from .state import TrainLog, rng_state, set_rng_state, write_log_frame


def pick_device(device: str) -> torch.device:
    """``auto`` means CUDA when available, else CPU."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def set_precision(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """Set float32 matmul/conv precision; return the autocast context for forward passes."""
    # cuDNN convolutions default to TF32 on Ampere+; the paper's fp32 means IEEE float32.
    tf32 = "tf32" if precision == "tf32" else "ieee"
    torch.backends.cuda.matmul.fp32_precision = tf32
    torch.backends.cudnn.conv.fp32_precision = tf32
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def build_optimizer(model: nn.Module, settings: dict) -> torch.optim.Optimizer:
    """SGD (momentum, weight decay on all parameters, as the references) or Adam."""
    options = {k: v for k, v in settings.items() if k not in ("name", "grad_clip")}
    # The schedule sets the rate before every step; this initial value is never used.
    if settings["name"] == "sgd":
        return torch.optim.SGD(model.parameters(), lr=0.0, **options)
    if "betas" in options:
        options["betas"] = tuple(options["betas"])
    return torch.optim.Adam(model.parameters(), lr=0.0, **options)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (model initialisation, dropout)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Progress:
    """A tqdm bar on a terminal; otherwise progress lines with the time left (batch jobs' logs)."""

    def __init__(self, name: str, start: int, total: int):
        self.bar = tqdm(total=total, initial=start, desc=name) if sys.stderr.isatty() else None
        self.log = None if self.bar else ProgressLog(name, "training", total, "steps", start)

    def update(self, step: int, steps: int, epoch: float, loss: float, lr: float, rate: float):
        """Report the mean loss of the last ``steps`` steps."""
        if self.bar is not None:
            self.bar.update(steps)
            self.bar.set_postfix(epoch=f"{epoch:.2f}", loss=f"{loss:.4f}", lr=f"{lr:.3g}")
        else:
            detail = f"epoch {epoch:.2f} loss {loss:.4f} lr {lr:.4g} {rate:.0f} samples/s"
            self.log.update(step, detail)

    def close(self) -> None:
        """Finish the bar, or write the last progress line."""
        if self.bar is not None:
            self.bar.close()
        else:
            self.log.finish()


def fit(
    run: TrainSpec,
    task,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    checkpoint_dir: Path,
    manifest_path: Path,
    log_path: Path,
    device: torch.device,
    tracker=None,
) -> None:
    """Train ``model`` on ``task`` to the end of ``run``, resuming from the newest checkpoint."""
    spe = task.steps_per_epoch
    total, save_every = run.total_steps(spe), run.checkpoint_interval(spe)
    log_every = run.log_interval(spe)
    grad_clip = run.optimizer.get("grad_clip")
    autocast = set_precision(run.precision, device)

    identity = run.identity
    resumed = latest_valid(checkpoint_dir, manifest_path, map_location=device, identity=identity)
    if resumed is None:
        # A changed run is a new W&B run, not a continuation of the old one's history.
        step, run_id, log = 0, train_run_id(run.run_path, identity), TrainLog()
        if run.init_from is not None:  # a branch: continue another run's iterate at a new rate
            start = load_verified(run.init_from, run.parent["identity"], map_location=device)
            model.load_state_dict(start["model"])
            optimizer.load_state_dict(start["optimizer"])
            if hasattr(task, "load_state_dict"):
                task.load_state_dict(start["task"])
    else:
        state = resumed[1]
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        if hasattr(task, "load_state_dict"):
            task.load_state_dict(state["task"])
        step, run_id = state["step"], state["wandb_run_id"]
        log = TrainLog.resume(log_path, step)
        print(f"{run.run_path}: resuming from step {step} ({resumed[0].file})", file=sys.stderr)

    writer = OrderedWriter()  # disk writes overlap the next steps

    def checkpoint(at: int) -> None:
        if not is_main_process():  # data-parallel ranks hold the same state; rank 0 saves it
            return
        # Log first: a kill before the checkpoint leaves extra rows, which resume drops.
        writer.submit(write_log_frame, log.frame(), log_path)
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": at,
            "epoch": at // spe,
            "steps_per_epoch": spe,  # so that measurements can place a step on the epoch axis
            "batch_in_epoch": at % spe,  # the data order is a function of (seed, epoch)
            "rng": rng_state(),
            # A task with state between steps (a language model's memory) saves it too.
            **({"task": task.state_dict()} if hasattr(task, "state_dict") else {}),
            "wandb_run_id": run_id,
            "run": run.to_dict(),
            "identity": identity,
            "provenance": provenance(),
        }
        data = serialize_checkpoint(state)  # a snapshot, before the next step changes the weights
        writer.submit(
            write_checkpoint,
            data,
            checkpoint_dir,
            manifest_path,
            step=at,
            epoch=at / spe,
            identity=identity,
        )

    if tracker is not None:
        tracker.start(
            run_id=run_id,
            name=run.run_path,
            group=run.experiment,
            job_type="train",
            config=run.to_dict(),
            # Only the keys W&B start-up takes; the workflow may set a shared dir.
            **{
                "dir": Path(log_path).parent,
                **{k: v for k, v in run.wandb.items() if k in WANDB_KEYS},
            },
        )
    progress = Progress(run.run_path, step, total)
    pending: list[torch.Tensor] = []  # losses not yet copied to the CPU (one sync per interval)
    steps, epochs, lrs, samples, tick = [], [], [], 0, time.perf_counter()

    def flush() -> None:
        nonlocal samples, tick
        if not pending:
            return
        losses = torch.stack(pending).float().tolist()
        mean = sum(losses) / len(losses)
        if not math.isfinite(mean):
            raise FloatingPointError(f"{run.run_path}: loss is {mean} near step {steps[-1]}")
        log.append(steps, epochs, lrs, losses)
        now = time.perf_counter()
        rate = samples / (now - tick)
        progress.update(step, len(losses), step / spe, mean, lrs[-1], rate)
        if tracker is not None:
            metrics = {"train/loss": mean, "lr": lrs[-1], "epoch": step / spe}
            tracker.log({**metrics, "samples_per_s": rate}, step=step)
        pending.clear(), steps.clear(), epochs.clear(), lrs.clear()
        samples, tick = 0, now

    try:
        with PreemptionSignals() as signals:
            if step == 0:
                checkpoint(0)  # the initialisation: figures start at epoch 0
            model.train()
            while step < total:
                epoch = step // spe
                for batch in task.batches(epoch, step % spe):
                    lr = learning_rate(run.schedule, step, spe)
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                    with autocast:
                        loss = task.loss(model, batch)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if grad_clip is not None:
                        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                    optimizer.step()
                    pending.append(loss.detach())
                    steps.append(step), epochs.append(epoch), lrs.append(lr)
                    samples += task.batch_samples(batch)
                    step += 1
                    at_checkpoint = step % save_every == 0 or step == total
                    stop = any_rank(signals.requested)  # data-parallel ranks stop together
                    if step % log_every == 0 or at_checkpoint or stop:
                        flush()
                    if at_checkpoint or stop:
                        checkpoint(step)
                    if stop:
                        raise Preempted(
                            f"{run.run_path}: {signals.requested} at step {step}; checkpoint "
                            f"saved, exiting with code 75 so that a retry resumes"
                        )
                    if step == total:
                        break
    finally:
        writer.close()  # also on preemption and errors: queued checkpoints are complete ones
        progress.close()
        if tracker is not None:
            tracker.finish()


def image_task(run: TrainSpec, device: torch.device, threads: int) -> tuple[ImageTask, int, tuple]:
    """The image classification task of a run, its number of classes and input shape."""
    data_options = {k: v for k, v in run.data.items() if k not in ("name", "root")}
    data = build_image_data(run.data["name"], run.data["root"], seed=run.seed, **data_options)
    # Loader workers decode and augment files; the main thread only feeds the device.
    task = ImageTask(data, run.batch_size, run.seed, device, workers=max(1, threads - 1))
    return task, data.num_classes, data.input_shape


def train_run(
    run: TrainSpec,
    *,
    checkpoint_dir: Path,
    manifest_path: Path,
    log_path: Path,
    threads: int,
    device: str = "auto",
    tracker=None,
) -> None:
    """Train one run to completion (or to a preemption signal), resuming where it stopped."""
    torch.set_num_threads(threads)
    keep_freed_memory()
    device = pick_device(device)
    if device.type == "cpu":
        torch.set_flush_denormal(True)  # denormals made small CPU runs several times slower
    else:
        torch.backends.cudnn.benchmark = True
    if run.data["name"] in TEXT_SETS:
        task, vocab_size = build_lm_task(run.data, run.batch_size, device)
        num_classes, input_shape = vocab_size, ()
    else:
        task, num_classes, input_shape = image_task(run, device, threads)
    seed_everything(run.seed)
    model_options = {k: v for k, v in run.model.items() if k != "name"}
    model = build_model(run.model["name"], num_classes, input_shape, **model_options)
    model.to(device)
    task, model = data_parallel(task, model)  # under torchrun: this GPU's share of each batch
    optimizer = build_optimizer(model, run.optimizer)
    fit(
        run,
        task,
        model,
        optimizer,
        checkpoint_dir=Path(checkpoint_dir),
        manifest_path=Path(manifest_path),
        log_path=Path(log_path),
        device=device,
        tracker=tracker,
    )

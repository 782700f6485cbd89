"""Overhead of the training loop over a bare loop: ``python -m stationarity.bench training``.

Both loops train the same freshly seeded model on the same data (same batches, augmentation and
optimiser) for the same steps; they alternate, and the table shows medians over repeats.
"whole run" is the wall time of everything a user waits for, the loop's checkpoints, logs and
fsyncs included. "steady" is images/s after the first epoch, between checkpoints: the loop's from
its own per-interval rate, the bare loop's from its timed steps. GPU example (ResNet-101,
checkpoints only at the start and the end): ``--device cuda --model resnet101 --data synthetic
--batch-size 256 --epochs 3 --steps 10 --checkpoint-every 3 --repeats 3``.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data import ImageData, TensorImageDataset, build_image_data, prepare_demo
from ..models import build_model
from ..training.image_task import ImageTask
from ..training.loop import build_optimizer, fit, pick_device, seed_everything, set_precision
from ..training.spec import TrainSpec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options."""
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--model", default="cnn_8_16")
    parser.add_argument("--data", default="mnist5k", help="mnist5k, digits or synthetic")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=5, help="at least 2")
    parser.add_argument(
        "--checkpoint-every", type=int, default=1, help="epochs between checkpoints"
    )
    parser.add_argument("--steps", type=int, default=8, help="steps per epoch (synthetic data)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--precision", default="fp32", help="fp32, tf32 or bf16")


def _data(args, root: Path, device: torch.device) -> ImageData:
    if args.data != "synthetic":
        prepare_demo(args.data, root)
        resize = 14 if args.data == "mnist5k" else None  # the demo's setting A
        return build_image_data(args.data, root, seed=0, resize=resize, augment="affine")
    shape = (3, 224, 224) if args.model.startswith("resnet") else (3, 32, 32)
    n = args.steps * args.batch_size
    images = torch.randn(n, *shape, device=device)
    dataset = TensorImageDataset(images, torch.randint(0, 1000, (n,), device=device))
    return ImageData(train=dataset, clean=dataset, num_classes=1000, input_shape=shape)


def _spec(args) -> TrainSpec:
    return TrainSpec(
        experiment="bench", schedule_name="const", seed=0, data={"name": args.data},
        model={"name": args.model}, optimizer={"name": "sgd", "momentum": 0.9},
        schedule={"kind": "constant", "lr": 0.01}, batch_size=args.batch_size, epochs=args.epochs,
        precision=args.precision, checkpoint_every={"epochs": args.checkpoint_every},
    )  # fmt: skip


def _fresh(run: TrainSpec, data: ImageData, device: torch.device):
    seed_everything(0)
    model = build_model(run.model["name"], data.num_classes, data.input_shape).to(device)
    return model, build_optimizer(model, run.optimizer)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class _Rates:
    """Catches the loop's per-interval samples/s, as a W&B tracker would."""

    def __init__(self):
        self.rates: list[tuple[int, float]] = []

    def start(self, **kwargs) -> None:
        """Nothing to start."""

    def log(self, metrics: dict, step: int) -> None:
        """Keep the interval rate."""
        self.rates.append((step, metrics["samples_per_s"]))

    def finish(self) -> None:
        """Nothing to finish."""


def time_loop(run, data, device, workdir: Path) -> tuple[float, float]:
    """Wall time of ``fit`` and its steady images/s (intervals after the first epoch)."""
    model, optimizer = _fresh(run, data, device)
    task = ImageTask(data, run.batch_size, run.seed, device, workers=0)
    rates = _Rates()
    _sync(device)
    start = time.perf_counter()
    fit(
        run, task, model, optimizer, checkpoint_dir=workdir / "checkpoints",
        manifest_path=workdir / "manifest.tsv", log_path=workdir / "log.parquet",
        device=device, tracker=rates,
    )  # fmt: skip
    _sync(device)
    steady = [r for step, r in rates.rates if step > 2 * task.steps_per_epoch - 1]
    return time.perf_counter() - start, statistics.median(steady)


def time_bare(run, data, device) -> tuple[float, float]:
    """Wall time and steady images/s of a plain loop over the same batches."""
    model, optimizer = _fresh(run, data, device)
    autocast = set_precision(run.precision, device)
    images, labels = data.train.images.to(device), data.train.labels.to(device)
    order_gen, augment_gen = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    n, b = len(labels), run.batch_size
    _sync(device)
    start = time.perf_counter()
    steady_start = start
    for epoch in range(run.epochs):
        if epoch == 1:
            _sync(device)
            steady_start = time.perf_counter()
        order = torch.randperm(n, generator=order_gen).to(device)
        for i in range(0, n, b):
            x, y = images[order[i : i + b]], labels[order[i : i + b]]
            if data.batch_augment is not None:
                x = data.batch_augment(x, augment_gen)
            for group in optimizer.param_groups:
                group["lr"] = 0.01
            with autocast:
                loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    _sync(device)
    end = time.perf_counter()
    return end - start, n * (run.epochs - 1) / (end - steady_start)


def main(args: argparse.Namespace | list[str] | None = None) -> None:
    """Run the benchmark and print the table."""
    if not isinstance(args, argparse.Namespace):
        parser = argparse.ArgumentParser(prog="python -m stationarity.bench training")
        add_arguments(parser)
        args = parser.parse_args(args)
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    if device.type == "cpu":
        torch.set_flush_denormal(True)
    else:
        torch.backends.cudnn.benchmark = True
    run = _spec(args)
    results = {"bare": [], "loop": []}
    with tempfile.TemporaryDirectory() as tmp:
        data = _data(args, Path(tmp) / "data", device)
        time_bare(run, data, device)  # warm-up: allocator, cuDNN autotuning, caches
        for r in range(args.repeats):
            for name in ("bare", "loop") if r % 2 == 0 else ("loop", "bare"):
                if name == "loop":
                    results[name].append(time_loop(run, data, device, Path(tmp) / f"run{r}"))
                else:
                    results[name].append(time_bare(run, data, device))
    images = len(data.train) * args.epochs
    print(f"{args.model} on {args.data}, batch {args.batch_size}, {args.epochs} epochs of "
          f"{len(data.train)} images, {device}, {args.precision}, {args.threads} thread(s), "
          f"median of {args.repeats} interleaved repeats")  # fmt: skip
    print(f"{'loop':<6}{'whole run s':>13}{'images/s':>11}{'steady images/s':>17}")
    for name, rows in results.items():
        wall, steady = statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)
        print(f"{name:<6}{wall:>13.3f}{images / wall:>11.0f}{steady:>17.0f}")
    # Each repeat's loop run is compared with its neighbouring bare run, so drifting load from
    # other processes weighs on both sides of every ratio alike.
    pairs = list(zip(results["loop"], results["bare"], strict=True))
    wall = statistics.median(loop[0] / bare[0] for loop, bare in pairs)
    steady = statistics.median(bare[1] / loop[1] for loop, bare in pairs)
    print(f"overhead (median of paired ratios): whole run {100 * (wall - 1):+.1f} %, "
          f"steady {100 * (steady - 1):+.1f} %")  # fmt: skip

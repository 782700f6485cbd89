"""Samples/s of each job's operations, for the cost model: ``stationarity bench throughput``.

For each workload (a model on its data set's input shape, options from the shipped studies) it
times, on random inputs at one batch size: a training step (forward, backward, optimiser step),
a forward pass, the per-sample-norm pass of the statistics, and one Hessian-vector product. Each
is the median of ``--repeats`` timed runs after one untimed. Rows replace those of the same
workload, device and operation in the table the cost model reads (``--table``); rows of other
devices stay, so CPU rows measured here and GPU rows from a GPU run live side by side.
"""

import argparse
import csv
import math
import multiprocessing
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from ..config import SHIPPED
from ..config.yaml_file import read_yaml
from ..data.text import ContextSegments
from ..estimators import hvp, summed_cross_entropy, summed_target_nll
from ..estimators.per_sample_norms import per_sample_pass
from ..models import build_model
from ..models.transformer_xl import WithContext
from ..provenance import provenance
from ..training.host_memory import keep_freed_memory
from ..training.loop import build_optimizer, pick_device

TABLE = Path(__file__).parents[1] / "plan" / "throughput.csv"
COLUMNS = [
    "model", "data", "device", "precision", "batch", "operation", "samples_per_s", "peak_mib",
    "parameters", "source", "commit",
]  # fmt: skip
OPERATIONS = ("train_step", "forward", "per_sample", "hvp")
# (study, experiment) -> the input shape or vocabulary of its data, and a CPU batch that fits here.
WORKLOADS = {
    ("paper", "imagenet_resnet101"): {"shape": (3, 224, 224), "classes": 1000, "batch": 8},
    ("paper", "cifar10_resnet18"): {"shape": (3, 32, 32), "classes": 10, "batch": 64},
    ("paper", "wt103_transformerxl"): {"vocab": 267_735, "batch": 2},
    ("demo", "mnist_underfit"): {"shape": (1, 14, 14), "classes": 10, "batch": 128},
    ("demo", "digits_overfit"): {"shape": (1, 8, 8), "classes": 10, "batch": 64},
    ("demo", "wikipedia_transformerxl"): {"vocab": 9_518, "batch": 16},
}


# Published training throughputs on one GPU (fp32 configs run with TF32 there, PyTorch's default
# for convolutions): (model, data) -> (samples/s of a training step, GPU, source). The other
# operations of such a row are scaled by the ratios this bench measures on CPU.
RN50_A100_TF32 = 1_281_167 * 90 / (29.4 * 3600)  # 90 epochs in 29.4 h: 1,089 images/s
PUBLISHED = {
    ("resnet101", "imagenet"): (
        RN50_A100_TF32 / 1.9,
        "A100-80GB (published)",
        "NVIDIA DeepLearningExamples MXNet ResNet-50 v1.5 on 1x A100-80GB, TF32: 90 epochs in "
        "29.4 h (1089 img/s); / 1.9 for ResNet-101's FLOPs",
    ),
    ("cifar_resnet18", "cifar10"): (
        RN50_A100_TF32 * 4.1 / 0.56,
        "A100-80GB (published)",
        "derived: the ResNet-50 A100 TF32 rate above x 4.1/0.56 GMACs per image (ResNet-50 at "
        "224 px / CIFAR ResNet-18 at 32 px); optimistic, as small images use a GPU less well",
    ),
    ("transformer_xl", "wikitext103"): (
        41_527 / 150,
        "A100-40GB (published)",
        "NVIDIA DeepLearningExamples PyTorch Transformer-XL base (16 layers, d_model 512) on 1x "
        "A100-40GB, TF32, batch 32: 41,527 tokens/s, / 150 tokens a segment; conservative for "
        "the 4-layer d_model-410 model here",
    ),
}


def published_rows(rows: list[dict]) -> list[dict]:
    """GPU rows: each published training rate, other operations scaled by the CPU ratios."""
    out = []
    for (model, data), (rate, device, source) in PUBLISHED.items():
        cpu = {
            r["operation"]: r
            for r in rows
            if (r["model"], r["data"], r["device"]) == (model, data, "cpu")
        }
        if "train_step" not in cpu:
            continue
        for op, row in cpu.items():
            ratio = float(row["samples_per_s"]) / float(cpu["train_step"]["samples_per_s"])
            scaled = "" if op == "train_step" else f"; x {ratio:.3f}, the CPU ratio {op}/train"
            out.append(
                {**row, "device": device, "samples_per_s": round(rate * ratio, 3),
                 "peak_mib": "", "batch": "", "source": source + scaled}
            )  # fmt: skip
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options."""
    names = sorted({experiment for _, experiment in WORKLOADS})
    parser.add_argument("--experiments", default=",".join(names), help="from " + ",".join(names))
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--table", type=Path, default=TABLE, help="CSV to update")
    parser.add_argument(
        "--published", action="store_true", help="also write GPU rows from published rates"
    )


def workload(study: str, name: str, device: torch.device):
    """(model, batches, loss function, experiment config) of one workload, on random inputs."""
    experiment = read_yaml(SHIPPED[study])["experiments"][name]
    spec = WORKLOADS[(study, name)]
    options = {k: v for k, v in experiment["model"].items() if k != "name"}
    torch.manual_seed(0)
    if "vocab" in spec:
        model = build_model("transformer_xl", spec["vocab"], (), **options)
        length, context = experiment["data"]["tgt_len"], options["mem_len"]
        tokens = torch.randint(0, spec["vocab"], (spec["batch"] * length + context + 1,))
        segments = ContextSegments(tokens, length, context)
        windows = torch.stack([segments[k][0] for k in range(spec["batch"])])
        targets = torch.stack([segments[k][1] for k in range(spec["batch"])])
        return WithContext(model, context).to(device), [(windows.to(device), targets.to(device))], (
            summed_target_nll
        ), experiment  # fmt: skip
    model = build_model(experiment["model"]["name"], spec["classes"], spec["shape"], **options)
    inputs = torch.randn(spec["batch"], *spec["shape"], device=device)
    targets = torch.randint(0, spec["classes"], (spec["batch"],), device=device)
    return model.to(device), [(inputs, targets)], summed_cross_entropy, experiment


def operation(name: str, model, batches, loss_fn, experiment):
    """A function running operation ``name`` once over ``batches``."""
    params = [p for p in model.parameters() if p.requires_grad]
    if name == "train_step":
        optimizer = build_optimizer(model, experiment["optimizer"])

        def step():
            model.train()
            optimizer.zero_grad(set_to_none=True)
            for inputs, targets in batches:
                loss, count = loss_fn(model(inputs), targets)
                (loss / count).backward()
            optimizer.step()

        return step
    if name == "forward":

        def forward():
            model.eval()
            with torch.no_grad():
                for inputs, _ in batches:
                    model(inputs)

        return forward
    if name == "per_sample":
        return lambda: (model.eval(), per_sample_pass(model, batches, loss_fn))
    vector = torch.randn(sum(p.numel() for p in params), device=params[0].device)
    return lambda: (model.eval(), hvp(model, batches, vector, loss_fn=loss_fn))


def timed(run, device: torch.device, repeats: int) -> float:
    """Median seconds of ``run`` over ``repeats`` calls, after one untimed call."""
    run()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_mib(device: torch.device) -> float:
    """The peak memory so far: the GPU's allocations, or the process's resident set on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(study: str, name: str, device: torch.device, repeats: int) -> list[dict]:
    """One row per operation of one workload."""
    model, batches, loss_fn, experiment = workload(study, name, device)
    batch = WORKLOADS[(study, name)]["batch"]
    rows = []
    for op in OPERATIONS:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        seconds = timed(operation(op, model, batches, loss_fn, experiment), device, repeats)
        rows.append(
            {
                "model": experiment["model"]["name"],
                "data": experiment["data"]["name"],
                "device": device.type if device.type == "cpu" else torch.cuda.get_device_name(),
                "precision": experiment.get("precision", "fp32"),
                "batch": batch,
                "operation": op,
                "samples_per_s": round(batch / seconds, 3),
                "peak_mib": round(peak_mib(device)),
                "parameters": sum(p.numel() for p in model.parameters()),
                "source": f"measured: stationarity bench throughput, {torch.get_num_threads()} "
                "thread(s)",
                "commit": provenance()["commit"],
            }
        )
    return rows


def measured_in_child(study: str, name: str, device: str, args: argparse.Namespace) -> list[dict]:
    """``measure`` in a fresh process with the benchmark's thread count."""
    torch.set_num_threads(args.threads)
    keep_freed_memory()
    return measure(study, name, pick_device(device), args.repeats)


def read_table(path: Path) -> list[dict]:
    """The rows of a throughput table (none if it does not exist)."""
    if not Path(path).exists():
        return []
    with open(path, newline="") as f:
        return [row for row in csv.DictReader(line for line in f if not line.startswith("#"))]


def write_table(path: Path, rows: list[dict], header: str = "") -> None:
    """Write the table sorted by data set, model, device and operation."""
    key = ("data", "model", "device", "operation")
    rows = sorted(rows, key=lambda row: tuple(str(row[k]) for k in key))
    with open(path, "w", newline="") as f:
        f.write(header)
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def merged(old: list[dict], new: list[dict]) -> list[dict]:
    """``old`` with the rows ``new`` measures again replaced."""
    key = ("model", "data", "device", "operation")
    fresh = {tuple(str(row[k]) for k in key) for row in new}
    return [row for row in old if tuple(str(row[k]) for k in key) not in fresh] + new


def record(rows: list[dict], table: Path = TABLE) -> None:
    """Put ``rows`` into the throughput table, replacing rows of the same model, data, device and
    operation and keeping the table's comment header."""
    path = Path(table)
    text = path.read_text() if path.exists() else ""
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    write_table(path, merged(read_table(path), rows), header)


def main(args: argparse.Namespace) -> None:
    """Measure the chosen workloads and update the throughput table."""
    torch.set_num_threads(args.threads)
    pick_device(args.device)  # fails early, here, for a device that is not there
    chosen = set(args.experiments.split(","))
    rows = []
    for study, name in WORKLOADS:
        if name in chosen:
            # A process per workload, so that a CPU row's peak memory is its own.
            spawn = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                job = pool.submit(measured_in_child, study, name, args.device, args)
                rows += job.result()
            for row in rows[-len(OPERATIONS) :]:
                rate = float(row["samples_per_s"])
                print(f"{name:26} {row['operation']:11} {rate:12.2f} samples/s  "
                      f"batch {row['batch']}  peak {row['peak_mib']} MiB")  # fmt: skip
    record(rows, args.table)
    if args.published:
        record(published_rows(read_table(args.table)), args.table)
    print(f"updated {args.table} ({math.ceil(len(rows))} rows)")

"""The cost model: the predicted hours of every job of a study, and its disk, before it runs.

It reads one table of measured throughputs (``throughput.csv`` beside this module, written by
``stationarity bench throughput``): samples/s of a training step, the per-sample-norm pass and one
Hessian-vector product, per model and data set, on CPU and on a GPU. A job's hours are its samples
over those rates: training the run's steps × batch; an estimate m samples through the per-sample
pass and k = m samples through each HVP; a sample-size job the same at each of its sizes.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

THROUGHPUT = Path(__file__).with_name("throughput.csv")
# Lanczos to a relative residual of 1e-3 took 7 to 27 HVPs on the bench's CNN and Transformer-XL
# checkpoints; a prediction assumes this many for that tolerance or a looser one, a job's time
# limit the config's max_hvps.
EXPECTED_HVPS = {1e-3: 30}
HVPS_BELOW = 60  # tighter tolerances than any measured: a guess, twice the tightest measured
DDP_EFFICIENCY = 0.9  # per GPU of a DDP job (NVIDIA's weak-scaling tables: 3.7× on 4 GPUs)
# Start-up of a job: imports (seconds) and, on a GPU node, the checkpoint and the data (minutes).
JOB_OVERHEAD_H = {True: 0.05, False: 0.002}
# Bytes a checkpoint keeps per parameter: fp32 weights and the optimiser's fp32 state.
STATE_BYTES = {"sgd": 4 * 2, "adam": 4 * 3}


@dataclass(frozen=True)
class Rates:
    """Samples/s of one model on one data set on one kind of device, and where they come from."""

    train_step: float
    per_sample: float
    hvp: float
    parameters: int
    device: str
    source: str


def read_rates(path: Path = THROUGHPUT) -> dict[tuple[str, str, bool], Rates]:
    """(model, data, on GPU) → its rates, from the throughput table (none if it is missing)."""
    if not Path(path).exists():
        return {}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    grouped: dict[tuple[str, str, bool], dict[str, dict]] = {}
    for row in rows:
        key = (row["model"], row["data"], row["device"] != "cpu")
        grouped.setdefault(key, {})[row["operation"]] = row
    return {
        key: Rates(
            train_step=float(ops["train_step"]["samples_per_s"]),
            per_sample=float(ops["per_sample"]["samples_per_s"]),
            hvp=float(ops["hvp"]["samples_per_s"]),
            parameters=int(ops["train_step"]["parameters"]),
            device=ops["train_step"]["device"],
            source=ops["train_step"]["source"],
        )
        for key, ops in grouped.items()
        if {"train_step", "per_sample", "hvp"} <= set(ops)
    }


@dataclass(frozen=True)
class JobCost:
    """One job's predicted hours (and the hours its time limit must cover) on ``gpus`` GPUs."""

    rule: str
    hours: float
    limit_hours: float
    gpus: int


def train_cost(experiment: dict, steps: int, rates: Rates, gpus: int) -> JobCost:
    """A run's training: its steps × batch samples at the training-step rate."""
    speedup = gpus * DDP_EFFICIENCY if gpus > 1 else 1
    hours = steps * experiment["batch_size"] / rates.train_step / speedup / 3600
    hours += JOB_OVERHEAD_H[gpus > 0]
    return JobCost("train", hours, hours, gpus)


def expected_hvps(statistics: dict) -> int:
    """The HVPs a prediction assumes: the measured count for the solver's tolerance, at most
    ``max_hvps``."""
    rtol = statistics.get("sharpness_rtol", 1e-3)
    # The loosest measured tolerance that is still at least as tight: its count bounds this one.
    tighter = [tolerance for tolerance in EXPECTED_HVPS if tolerance <= rtol]
    count = EXPECTED_HVPS[max(tighter)] if tighter else HVPS_BELOW
    return min(statistics.get("max_hvps", 100), count)


def pass_hours(samples: int, rates: Rates) -> float:
    """One per-sample pass over ``samples`` for L, ‖ḡ‖ and σ."""
    return samples / rates.per_sample / 3600


def sharpness_hours(statistics: dict, samples: int, rates: Rates, hvps: int) -> float:
    """``hvps`` Hessian-vector products over ``samples`` (none where sharpness is off)."""
    if statistics.get("sharpness", "lanczos") in (None, "none"):
        return 0.0
    return hvps * samples / rates.hvp / 3600


def estimate_cost(statistics: dict, rates: Rates, gpus: int, sharpness: bool = True) -> JobCost:
    """One checkpoint's statistics over m samples, the sharpness over the first k of them."""
    m = statistics["samples"]
    k = statistics.get("sharpness_samples", m) if sharpness else 0
    start = JOB_OVERHEAD_H[gpus > 0] + pass_hours(m, rates)
    hours = start + sharpness_hours(statistics, k, rates, expected_hvps(statistics))
    bound = start + sharpness_hours(statistics, k, rates, statistics.get("max_hvps", 100))
    return JobCost("estimate", hours, bound, gpus)


def sample_size_cost(
    statistics: dict, sizes: list[int], sharpness_sizes: list[int], rates: Rates, gpus: int
) -> JobCost:
    """One checkpoint's statistics at every size of the sample-size study, the sharpness at
    ``sharpness_sizes``."""
    start = JOB_OVERHEAD_H[gpus > 0] + sum(pass_hours(size, rates) for size in sizes)
    sharp = sum(sharpness_sizes)
    hours = start + sharpness_hours(statistics, sharp, rates, expected_hvps(statistics))
    bound = start + sharpness_hours(statistics, sharp, rates, statistics.get("max_hvps", 100))
    return JobCost("sample_size", hours, bound, gpus)


def checkpoint_bytes(experiment: dict, rates: Rates) -> int:
    """A checkpoint's size: weights and optimiser state (the data order's state is tiny)."""
    return rates.parameters * STATE_BYTES.get(experiment["optimizer"]["name"], 4 * 3)


def rates_of(experiment: dict, on_gpu: bool, table: dict) -> Rates | None:
    """The table's rates for an experiment's model and data set on its device, if measured."""
    return table.get((experiment["model"]["name"], experiment["data"]["name"], on_gpu))


def study_costs(plan, table: dict) -> tuple[list[JobCost], list[str], float]:
    """Every priced job of the plan, the experiments left unpriced, and the checkpoints' bytes."""
    jobs, unpriced, disk = [], [], 0.0
    for run in plan.runs:
        experiment = plan.experiments[run.experiment]
        rates = rates_of(experiment, plan.on_gpu(run), table)
        if rates is None:
            unpriced.append(run.experiment)
            continue
        gpus = plan.train_resources(run).gpu
        statistics = experiment["statistics"]
        jobs.append(train_cost(experiment, plan.checkpoints[run][-1], rates, gpus))
        sharp = set(plan.sharpness_steps(run))
        jobs += [
            estimate_cost(statistics, rates, int(gpus > 0), step in sharp)
            for step in plan.estimated_steps(run)
        ]
        if plan.studied_steps(run):
            sizes, sharp_sizes = plan.sample_sizes(run), plan.sharpness_sizes(run)
            study = sample_size_cost(statistics, sizes, sharp_sizes, rates, int(gpus > 0))
            jobs += [study] * len(plan.studied_steps(run))
        disk += len(plan.checkpoints[run]) * checkpoint_bytes(experiment, rates)
    return jobs, sorted(set(unpriced)), disk


def cost_summary(plan, path: Path = THROUGHPUT) -> dict:
    """Jobs, GPU-hours (CPU-hours for CPU jobs) and the longest job of each rule; totals; disk."""
    table = read_rates(path)
    jobs, unpriced, disk = study_costs(plan, table)
    rules: dict[str, dict] = {}
    for job in jobs:
        rule = rules.setdefault(
            job.rule, {"jobs": 0, "gpu_hours": 0.0, "cpu_hours": 0.0, "max_job_hours": 0.0}
        )
        rule["jobs"] += 1
        rule["gpu_hours" if job.gpus else "cpu_hours"] += job.hours * max(job.gpus, 1)
        rule["max_job_hours"] = max(rule["max_job_hours"], job.hours)
    devices = sorted({rates.device for key, rates in table.items() if key[2]})
    return {
        "rules": {name: {k: round(v, 2) for k, v in rule.items()} for name, rule in rules.items()},
        "total_gpu_hours": round(sum(rule["gpu_hours"] for rule in rules.values()), 1),
        "disk_gb": round(disk / 1e9, 1),
        "gpu": devices,
        "unpriced": unpriced,
        "throughput": str(path),
    }


def describe_cost(summary: dict) -> str:
    """The summary as a table a person reads before submitting."""
    lines = [f"{'rule':12} {'jobs':>6} {'GPU-hours':>10} {'CPU-hours':>10} {'longest job (h)':>16}"]
    for name, rule in summary["rules"].items():
        lines.append(
            f"{name:12} {rule['jobs']:6d} {rule['gpu_hours']:10.1f} {rule['cpu_hours']:10.2f} "
            f"{rule['max_job_hours']:16.2f}"
        )
    gpus = ", ".join(summary["gpu"]) or "none"
    lines.append(
        f"total GPU-hours {summary['total_gpu_hours']:.1f}, checkpoints "
        f"{summary['disk_gb']:.1f} GB, GPU rows: {gpus}"
    )
    if summary["unpriced"]:
        lines.append(f"not priced (no throughput rows): {', '.join(summary['unpriced'])}")
    lines.append(f"throughput table: {summary['throughput']}")
    return "\n".join(lines)

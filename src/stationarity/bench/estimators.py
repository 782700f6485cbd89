"""Cost and accuracy of the statistics: ``python -m stationarity.bench estimators``.

Every method is timed interleaved with a plain loss+gradient pass (``loss.backward()`` per
micro-batch) over the same m samples; its ratio is the median over repetitions of its time over
the plain pass just before it, so load from other processes weighs on both alike. Errors are
against float64 references: loss, ‖ḡ‖ and σ from the closed-form pass on a float64 copy (the
tests check it against per-sample loops to 1e-10; here the naive loop and vmap rows check it
again), and the top eigenvalue from Lanczos run to a 1e-6 residual. References and the
eigenvalue runs use micro-batches of at most ``REFERENCE_MICRO_BATCH`` samples to bound memory;
the timed HVP rows use the plain pass's micro-batches, so that the ratio compares like with like.
Float32 matmuls and convolutions run without TF32, so the errors are those of float32. A method
that runs out of GPU memory gets a row saying so. Each method's peak memory is that of its
untimed warm-up run (on a CPU the peak resident set above the level before it), and its rows go
into the throughput table.
"""

import argparse
import copy
import functools
import math
import statistics
import time
from collections.abc import Callable, Collection, Iterator
from functools import partial
from pathlib import Path

import torch
from torch import nn

from ..estimators import estimate, hvp, top_eigenvalue_lanczos, top_eigenvalue_power
from ..estimators.losses import LossFn
from .records import peak_memory, table_rows
from .reference_methods import naive_loop, vmap_gradients
from .throughput import TABLE, record
from .workloads import MODELS, Workload, make_workload, parameter_count, settle_batch_norm, train

Batches = list[tuple[torch.Tensor, torch.Tensor]]
Result = tuple[float, float, float]  # loss, ‖ḡ‖, σ; NaN where a method does not give one
TOLERANCE = 1e-3
REFERENCE_MICRO_BATCH = 64


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line options of the estimator benchmark."""
    parser.add_argument("--models", default="cnn,transformer", help="from " + ",".join(MODELS))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--samples", type=int, default=512, help="m, the measured samples")
    parser.add_argument("--micro-batch", type=int, default=128)
    parser.add_argument("--image-size", type=int, default=32, help="input side for the ResNets")
    parser.add_argument("--repeats", type=int, default=7, help="timed repetitions per method")
    parser.add_argument("--train-steps", type=int, default=200)
    parser.add_argument(
        "--max-hvps", type=int, default=60, help="per eigenvalue run; 0 skips the HVP counts"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument(
        "--clock",
        choices=("wall", "process"),
        default="wall",
        help="process: CPU time of this process, robust to other load (CPU, --threads 1)",
    )
    parser.add_argument(
        "--methods", default=",".join(METHODS), help="the rows to time, from " + ",".join(METHODS)
    )
    parser.add_argument(
        "--table", default=str(TABLE), help="the throughput table to record rows in ('-': none)"
    )


def plain_backward(model: nn.Module, batches: Batches, loss_fn: LossFn) -> Result:
    """The reference cost: ``loss.backward()`` per micro-batch, as a training step does it."""
    model.zero_grad(set_to_none=True)
    total = sum(int((y != -100).sum()) for _, y in batches)
    loss_sum = 0.0
    for inputs, targets in batches:
        loss, _ = loss_fn(model(inputs), targets)
        (loss / total).backward()
        loss_sum += float(loss.detach())
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()]))
    model.zero_grad(set_to_none=True)
    return loss_sum / total, float(norm), math.nan


Method = Callable[[nn.Module, Batches, LossFn], Result]


def _statistics(**options) -> Method:
    def run(model: nn.Module, batches: Batches, loss_fn: LossFn) -> Result:
        stats = estimate(model, batches, sharpness=None, loss_fn=loss_fn, **options)
        return stats.loss, stats.grad_norm, stats.noise

    return run


def _resplit(batches: Batches, size: int) -> Batches:
    """The same samples in micro-batches of at most ``size``."""
    return [
        (x_part, y_part)
        for x, y in batches
        for x_part, y_part in zip(x.split(size), y.split(size), strict=True)
    ]


@functools.cache
def _random_vector(length: int, device: torch.device) -> torch.Tensor:
    """A seeded Gaussian vector, drawn once: drawing it is no part of an HVP's cost."""
    return torch.randn(length, generator=torch.Generator().manual_seed(0)).to(device)


def _one_hvp(method: str) -> Method:
    def run(model: nn.Module, batches: Batches, loss_fn: LossFn) -> Result:
        vector = _random_vector(parameter_count(model), batches[0][0].device)
        hvp(model, batches, vector, loss_fn=loss_fn, method=method)  # the plain pass's batches
        return math.nan, math.nan, math.nan

    return run


# name → (label, method, repetitions; None: as many as --repeats)
METHODS: dict[str, tuple[str, Method, int | None]] = {
    "plain": ("plain loss+grad (`loss.backward()`)", plain_backward, None),
    "none": ("`estimate(noise=None)`: L, ‖ḡ‖ only", _statistics(noise=None), None),
    "naive": ("naive per-sample loop", naive_loop, 1),
    "vmap": ("torch.func vmap(grad), chunk 32", vmap_gradients, 2),
    "per_sample": (
        "**exact per-sample σ** (`noise='per_sample'`)",
        _statistics(noise="per_sample"),
        None,
    ),
    "minibatch": (
        "mini-batch σ̂ (`noise='minibatch'`, b = micro-batch)",
        _statistics(noise="minibatch"),
        None,
    ),
    "hvp": (
        "one HVP (double backward)",
        _one_hvp("double_backward"),
        3,
    ),
    "hvp_forward": (
        "one HVP (forward-over-reverse)",
        _one_hvp("forward_over_reverse"),
        3,
    ),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# The clock of every timing: wall time, or with --clock process the CPU time of this process,
# which other processes on a shared machine do not inflate (with one thread, no spin-waiting).
CLOCK = {"clock": time.perf_counter}


def _timed(fn: Callable[[], Result], device: torch.device) -> tuple[float, Result]:
    clock = CLOCK["clock"]
    _sync(device)
    started = clock()
    result = fn()
    _sync(device)
    return clock() - started, result


def time_method(
    method: Method, workload: Workload, batches: Batches, repeats: int, device: torch.device
) -> tuple[float, float, Result, float]:
    """Median time, median ratio to the interleaved plain pass, the result, peak extra MiB."""
    try:
        return _time_method(method, workload, batches, repeats, device)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        return math.nan, math.nan, (math.nan,) * 3, math.inf


def _time_method(method, workload, batches, repeats, device) -> tuple[float, float, Result, float]:
    model, loss_fn = workload.model, workload.loss_fn

    def paired() -> tuple[float, float, Result]:
        plain_time, _ = _timed(lambda: plain_backward(model, batches, loss_fn), device)
        method_time, result = _timed(lambda: method(model, batches, loss_fn), device)
        return method_time, method_time / plain_time, result

    # The peak is measured on an untimed warm-up run: measuring hands the allocator's free memory
    # back to the system first, and a timed run would then pay to fault it in again. Methods run
    # once (the slow references) measure it on that run.
    with peak_memory(device) as memory:
        runs = [paired()] if repeats == 1 else [method(model, batches, loss_fn)]
    if repeats > 1:
        runs = [paired() for _ in range(repeats)]  # the warm-up's result is dropped
    times, ratios, results = zip(*runs, strict=True)
    return statistics.median(times), statistics.median(ratios), results[-1], memory["mib"]


def float64_reference(workload: Workload, batches: Batches) -> Result:
    """Loss, ‖ḡ‖ and σ of a float64 copy of the model, by the closed-form pass."""
    double = copy.deepcopy(workload.model).double()
    batches64 = [
        (x.double() if x.is_floating_point() else x, y)
        for x, y in _resplit(batches, REFERENCE_MICRO_BATCH)
    ]
    return _statistics(noise="per_sample")(double, batches64, workload.loss_fn)


def _error(estimate: float, reference: float) -> str:
    return "–" if math.isnan(estimate) else f"{abs(estimate - reference) / abs(reference):.1e}"


def cost_table(
    workload: Workload,
    batches: Batches,
    repeats: int,
    device: torch.device,
    methods: list[str],
    measured: list[dict],
) -> Iterator[str]:
    """One row per method: time, ratio to the plain pass, errors against float64, peak memory;
    each method's numbers are appended to ``measured`` too."""
    loss, grad_norm, noise = float64_reference(workload, batches)
    yield f"float64: σ = {noise:.5g}, ‖ḡ‖ = {grad_norm:.5g}, L = {loss:.5g}"
    yield ""
    yield "| method | median time (ms) | ratio to plain | rel. err σ | rel. err ‖ḡ‖ | peak MiB |"
    yield "|---|---:|---:|---:|---:|---:|"
    for name in methods:
        label, method, fixed = METHODS[name]
        count = min(fixed or repeats, repeats)
        seconds, ratio, result, peak = time_method(method, workload, batches, count, device)
        if math.isinf(peak):
            yield f"| {label} | out of memory | | | | |"
            continue
        measured.append({"method": name, "seconds": seconds, "ratio": ratio, "peak_mib": peak})
        yield (
            f"| {label} | {seconds * 1e3:.0f} | {ratio:.2f} | {_error(result[2], noise)} "
            f"| {_error(result[1], grad_norm)} | {'–' if math.isnan(peak) else f'{peak:.0f}'} |"
        )


def _settled_after(history: list[float], reference: float) -> str:
    """HVPs until the estimate stays within the tolerance of the reference."""
    errors = [abs(h - reference) / abs(reference) for h in history]
    for step in range(len(errors)):
        if all(e < TOLERANCE for e in errors[step:]):
            return str(step + 1)
    return f">{len(errors)}"


def _stop(history: list[float], stops: list[bool], reference: float) -> str:
    """HVPs at the first step a stopping rule fires, and the true error there."""
    for step, stop in enumerate(stops):
        if stop:
            return f"{step + 1} / {abs(history[step] - reference) / abs(reference):.1e}"
    return f">{len(history)} / –"


def sharpness_row(label: str, workload: Workload, batches: Batches, max_hvps: int) -> str:
    """HVP counts of power iteration and Lanczos to 1e-3 true error, and of their stopping rules."""
    model = workload.model
    micro_batches = _resplit(batches, REFERENCE_MICRO_BATCH)
    matvec = partial(hvp, model, micro_batches, loss_fn=workload.loss_fn)
    start = torch.randn(parameter_count(model), generator=torch.Generator().manual_seed(0))
    start = start.to(batches[0][0].device)
    lanczos = top_eigenvalue_lanczos(matvec, start, rtol=1e-6, max_matvecs=max_hvps)
    power = top_eigenvalue_power(matvec, start, rtol=0.0, max_matvecs=max_hvps)
    ref = lanczos.value
    steps = zip(power.history, power.history[1:], strict=False)
    changes = [False] + [abs(b - a) < TOLERANCE * abs(a) for a, b in steps]
    return (
        f"| {label} | {ref:.6g}{'' if lanczos.converged else ' (unconverged)'} "
        f"| {_settled_after(power.history, ref)} | {_settled_after(lanczos.history, ref)} "
        f"| {_stop(lanczos.history, [r <= TOLERANCE for r in lanczos.residuals], ref)} "
        f"| {_stop(power.history, [r <= TOLERANCE for r in power.residuals], ref)} "
        f"| {_stop(power.history, changes, ref)} |"
    )


SHARPNESS_HEADER = [
    "| checkpoint | top eigenvalue (ref) | power: HVPs to 1e-3 | Lanczos: HVPs to 1e-3 "
    "| Lanczos, residual rule: HVPs / err | power, residual rule: HVPs / err "
    "| power, relative-change rule: HVPs / err |",
    "|---|---:|---:|---:|---:|---:|---:|",
]


def run_model(name: str, args: argparse.Namespace, device: torch.device) -> None:
    """Print all tables for one model, at initialisation and after a short training run."""
    workload = make_workload(name, args.samples, args.image_size)
    workload.model.to(device)
    size = args.micro_batch
    batches = [
        (x.to(device), y.to(device))
        for x, y in zip(workload.inputs.split(size), workload.targets.split(size), strict=True)
    ]
    targets = sum(int(y.numel()) for _, y in batches)
    _say(
        "",
        f"## {name}: {parameter_count(workload.model):,} parameters, m = {args.samples} samples "
        f"({targets:,} targets), micro-batch {size}",
    )
    context = {
        "device": device.type if device.type == "cpu" else torch.cuda.get_device_name(device),
        "samples": args.samples,
        "micro_batch": size,
        "parameters": parameter_count(workload.model),
        "threads": torch.get_num_threads(),
        "clock": args.clock,
    }
    inputs = f"{args.image_size}px images" if workload.inputs.is_floating_point() else "tokens"
    sharpness = []
    for checkpoint in ("init", "trained"):
        if checkpoint == "init":
            settle_batch_norm(workload, device)
        else:
            train(workload, device, args.train_steps)
        _say("", f"### {checkpoint}", "")
        measured: list[dict] = []
        methods = args.methods.split(",")
        for row in cost_table(workload, batches, args.repeats, device, methods, measured):
            _say(row)
        if args.table != "-":
            data = f"bench: synthetic {inputs}, {checkpoint}"
            record(table_rows(name, data, measured, context), Path(args.table))
        if args.max_hvps:
            sharpness.append(sharpness_row(checkpoint, workload, batches, args.max_hvps))
    if args.max_hvps:
        _say("", "### sharpness: HVPs and true errors against the reference", "")
        _say(*SHARPNESS_HEADER, *sharpness)


def _say(*lines: str) -> None:
    """Print at once, so that a run cut short still shows what it measured."""
    for line in lines:
        print(line, flush=True)


def _check_names(option: str, given: str, known: Collection[str]) -> None:
    """Refuse an unknown model or method before any model is built or trained."""
    unknown = [name for name in given.split(",") if name not in known]
    if unknown:
        raise SystemExit(f"{option}: unknown {', '.join(unknown)}; choose from {', '.join(known)}")


def main(args: argparse.Namespace) -> None:
    """Run the benchmark and print markdown."""
    _check_names("--models", args.models, MODELS)
    _check_names("--methods", args.methods, METHODS)
    if args.threads:
        torch.set_num_threads(args.threads)
    CLOCK["clock"] = time.process_time if args.clock == "process" else time.perf_counter
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    threads = torch.get_num_threads()
    print(
        f"# estimator benchmark: {name}, torch {torch.__version__}, {threads} CPU threads, "
        f"{args.clock} clock"
    )
    for model in args.models.split(","):
        started = time.perf_counter()
        run_model(model, args, device)
        _say("", f"({model}: {time.perf_counter() - started:.0f} s)")

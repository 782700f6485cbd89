"""What the estimator benchmark keeps: each method's peak memory, and its rows for the throughput
table that the cost model reads (``throughput.record`` writes them)."""

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ..provenance import provenance
from ..training.host_memory import release_free_memory

# method → the operation its row has in the throughput table
OPERATIONS = {
    "plain": "loss_grad",
    "none": "estimate_loss_grad",
    "naive": "per_sample_loop",
    "vmap": "per_sample_vmap",
    "per_sample": "per_sample",
    "minibatch": "minibatch",
    "hvp": "hvp",
    "hvp_forward": "hvp_forward_over_reverse",
}


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


@contextmanager
def peak_memory(device: torch.device) -> Iterator[dict]:
    """Measure the peak memory, in MiB above the level at entry, of what runs inside; the value
    is in the yielded dict's ``"mib"`` after the block (NaN where it cannot be measured).

    On a GPU the allocator's peak; on a CPU the peak resident set of this process, whose
    high-water mark Linux resets on writing 5 to /proc/self/clear_refs.
    """
    result = {"mib": math.nan}
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        yield result
        torch.cuda.synchronize(device)
        result["mib"] = (torch.cuda.max_memory_allocated(device) - base) / 2**20
        return
    try:
        release_free_memory()  # so that memory held free does not hide a peak
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        base = _status_kib("VmRSS")
    except OSError:  # not Linux, or not allowed: no CPU peak
        yield result
        return
    yield result
    result["mib"] = (_status_kib("VmHWM") - base) / 1024


def table_rows(name: str, data: str, measured: list[dict], context: dict) -> list[dict]:
    """Throughput-table rows of one model and checkpoint: samples/s of each timed method.

    ``measured`` holds per method: method, seconds (median), ratio (to the plain pass), peak_mib;
    ``context``: device, samples, micro_batch, parameters, threads, clock.
    """
    rows = []
    for entry in measured:
        if math.isnan(entry["seconds"]):
            continue
        peak = entry["peak_mib"]
        rows.append(
            {
                "model": name,
                "data": data,
                "device": context["device"],
                "precision": "fp32",
                "batch": context["micro_batch"],
                "operation": OPERATIONS[entry["method"]],
                "samples_per_s": round(context["samples"] / entry["seconds"], 3),
                "peak_mib": "" if math.isnan(peak) else round(peak),
                "parameters": context["parameters"],
                "source": f"measured: stationarity bench estimators, m = {context['samples']}, "
                f"{context['threads']} thread(s), {context['clock']} clock; "
                f"{entry['ratio']:.3f}x the plain loss+gradient pass",
                "commit": provenance()["commit"],
            }
        )
    return rows

"""Freed host memory stays in the process, so a pass does not fault its buffers in again."""

import subprocess
import sys

import pytest

# A small gradient pass, repeated, in a child process: the setting is process-wide and would
# outlive the test. Prints whether it took effect and the page faults of each pass.
SCRIPT = """
import resource
import sys
import torch
from stationarity.training.host_memory import keep_freed_memory

torch.set_num_threads(1)
took = keep_freed_memory() if sys.argv[1] == "keep" else None
torch.manual_seed(0)
conv = torch.nn.Conv2d(3, 32, 3, padding=1)
x = torch.randn(256, 3, 32, 32)  # activations of 32 MiB, above glibc's own mmap threshold

def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    conv(x).relu().square().sum().backward()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

print(took, *[faults() for _ in range(6)])
"""


def _faults(mode: str) -> tuple[str, list[int]]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    took, *faults = out.stdout.split()
    return took, [int(f) for f in faults]


@pytest.mark.skipif(sys.platform != "linux", reason="mallopt is glibc's")
def test_repeated_passes_reuse_their_buffers_without_page_faults():
    took, kept = _faults("keep")
    _, unkept = _faults("default")
    assert took == "True"
    # Two passes to warm up; then each pass faults its 32 MiB buffers in again by default.
    assert sum(unkept[2:]) > 4 * 8192
    assert sum(kept[2:]) * 10 < sum(unkept[2:])

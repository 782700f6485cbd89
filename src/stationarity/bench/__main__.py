"""Dispatch ``python -m stationarity.bench <benchmark> [options]``."""

import argparse
import importlib
import sys

from ..training.host_memory import keep_freed_memory

# Each names a module here with ``add_arguments(parser)`` and ``main(args)``; imported on demand,
# so one benchmark's dependencies never slow down or break another.
BENCHMARKS = ("estimators", "training", "language_model", "throughput")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark named by the first argument with the options that follow."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in BENCHMARKS:
        sys.exit(f"usage: python -m stationarity.bench {{{','.join(BENCHMARKS)}}} [options]")
    module = importlib.import_module(f".{argv[0]}", __package__)
    parser = argparse.ArgumentParser(
        prog=f"python -m stationarity.bench {argv[0]}", description=module.__doc__.splitlines()[0]
    )
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    keep_freed_memory()  # as the training and estimate jobs do: measure what they run
    module.main(args)


if __name__ == "__main__":
    main()

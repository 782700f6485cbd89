"""Benchmarks that are scripts, not tests: ``python -m stationarity.bench <name> --help``."""

"""Measure training dynamics: loss, gradient norm, gradient noise and sharpness along training."""

__version__ = "0.1.0"

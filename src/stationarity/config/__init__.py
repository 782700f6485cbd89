"""A study's config: the JSON schema shipped with the package, and its validation."""

from .validate import SCHEMA_PATH, SYNTHETIC_FIGURES, ConfigError, load_config, validate_config

__all__ = ["SCHEMA_PATH", "SYNTHETIC_FIGURES", "ConfigError", "load_config", "validate_config"]

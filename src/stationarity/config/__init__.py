"""A study's config: the JSON schema shipped with the package, and its validation."""

from .validate import SCHEMA_PATH, SYNTHETIC_FIGURES, ConfigError, load_config, validate_config
from .yaml_file import read_yaml

__all__ = [
    "SCHEMA_PATH",
    "SYNTHETIC_FIGURES",
    "ConfigError",
    "load_config",
    "read_yaml",
    "validate_config",
]

"""A study's config: the JSON schema and the studies shipped with the package, validation."""

from .shipped import SHIPPED, config_path
from .validate import (
    SCHEMA_PATH,
    SYNTHETIC_FIGURES,
    ConfigError,
    load_config,
    validate_config,
    validate_files,
)
from .yaml_file import read_yaml

__all__ = [
    "SCHEMA_PATH",
    "SHIPPED",
    "SYNTHETIC_FIGURES",
    "ConfigError",
    "config_path",
    "load_config",
    "read_yaml",
    "validate_config",
    "validate_files",
]

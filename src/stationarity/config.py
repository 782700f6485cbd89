"""Validate a study's config against the JSON schema, with messages that name the offending key."""

from pathlib import Path

import jsonschema
import yaml


class ConfigError(ValueError):
    """The config does not match the schema; the message names every offending key."""


def key_path(path) -> str:
    """Render a jsonschema error path as a config key, e.g. synthetic.sine.step_sizes[1]."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def describe(error: jsonschema.ValidationError) -> str:
    """One line: the key, what is wrong with it, and what is allowed there."""
    key = key_path(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        where = f"under '{key}'" if error.absolute_path else "at the top level"
        return f"unknown key(s) {unknown} {where}; allowed keys: {allowed}"
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        where = f"under '{key}'" if error.absolute_path else "at the top level"
        return f"missing key(s) {missing} {where}"
    if error.validator == "enum":
        return f"'{key}': {error.instance!r} is not allowed; choose one of {schema['enum']}"
    if error.validator in ("oneOf", "anyOf", "not"):  # the instance itself would be a wall of text
        return f"'{key}': {schema.get('description', 'not one of the allowed forms')}"
    hint = f" ({schema['description']})" if "description" in schema else ""
    return f"'{key}': {error.message}{hint}"


def validate_config(config: dict, schema_path: Path) -> None:
    """Raise ConfigError listing every schema violation of config; return None if it is valid."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        messages = dict.fromkeys(describe(e) for e in errors)  # unique, in order
        lines = "\n".join(f"  - {message}" for message in messages)
        raise ConfigError(f"invalid config ({len(messages)} problem(s)):\n{lines}")

"""Validate a study's config against the JSON schema, with messages that name the offending key."""

from pathlib import Path

import jsonschema
import yaml

from .checks import nonfinite_errors, run_errors
from .yaml_file import ConfigError, read_yaml

# The schema ships with the package, beside this module.
SCHEMA_PATH = Path(__file__).with_name("schema.yaml")

# Figures of the closed-form experiments: name -> the synthetic experiment whose table they draw.
# Every other figure draws trained runs, and needs `figure_sources`.
SYNTHETIC_FIGURES = {"fig5": "sine", "theory_lemma2": "lemma2", "theory_theorem1": "theorem1"}


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


def reference_errors(config: dict) -> list[str]:
    """Problems the schema cannot see: figures that name runs the config does not define."""
    experiments = config.get("experiments", {})
    sources = config.get("figure_sources", {})
    problems = []
    for figure in config.get("figures", []):
        if figure not in SYNTHETIC_FIGURES and figure not in sources:
            problems.append(f"'figures' lists {figure} but 'figure_sources.{figure}' is missing")
    for figure, entries in sources.items():
        for i, entry in enumerate(entries):
            key = f"figure_sources.{figure}[{i}]"
            experiment = experiments.get(entry["experiment"])
            if experiment is None:
                problems.append(
                    f"'{key}.experiment': {entry['experiment']!r} is not an experiment; "
                    f"defined: {sorted(experiments)}"
                )
                continue
            for schedule in entry["schedules"]:
                if schedule not in experiment["schedules"]:
                    problems.append(
                        f"'{key}.schedules': {schedule!r} is not a schedule of "
                        f"{entry['experiment']}; defined: {sorted(experiment['schedules'])}"
                    )
            if figure in ("fig8", "fig9") and "sample_size" not in experiment:
                problems.append(
                    f"'{key}': {figure} needs 'experiments.{entry['experiment']}.sample_size'"
                )
    for name, experiment in experiments.items():
        for schedule, spec in experiment["schedules"].items():
            parent = spec.get("from_checkpoint", {}).get("schedule")
            if parent is not None and (
                parent not in experiment["schedules"]
                or "from_checkpoint" in experiment["schedules"][parent]
            ):
                problems.append(
                    f"'experiments.{name}.schedules.{schedule}.from_checkpoint.schedule': "
                    f"{parent!r} is not an ordinary schedule of {name}"
                )
    return problems


def validate_config(config: dict, schema_path: Path = SCHEMA_PATH) -> None:
    """Raise ConfigError listing every schema violation of config; return None if it is valid.

    schema_path defaults to the schema shipped with the package.
    """
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    # Unique, in order: non-finite numbers first (a NaN can slip past the schema's bounds).
    messages = dict.fromkeys([*nonfinite_errors(config), *map(describe, errors)])
    if not messages:
        messages = dict.fromkeys([*reference_errors(config), *run_errors(config)])
    if messages:
        lines = "\n".join(f"  - {message}" for message in messages)
        raise ConfigError(f"invalid config ({len(messages)} problem(s)):\n{lines}")


def validate_files(paths: list, config: dict) -> None:
    """ConfigError if a config file is malformed (it names file, line and column) or the config
    they make is invalid (named by the files); the workflow's check of its ``--configfile``s."""
    for path in paths:
        read_yaml(path)  # refuses a key given twice, which Snakemake's reader would overwrite
    try:
        validate_config(config)
    except ConfigError as error:
        raise ConfigError(f"{', '.join(map(str, paths)) or 'config'}: {error}") from None


def load_config(path: Path | str, schema_path: Path = SCHEMA_PATH) -> dict:
    """Read the YAML config at path and validate it; ConfigError messages name the file."""
    config = read_yaml(path)
    try:
        validate_config(config, schema_path)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    return config

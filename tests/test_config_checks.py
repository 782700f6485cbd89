"""Bad configs and targets are refused by `validate` and by the workflow alike, by name (cases:
bad_inputs.py)."""

import re
from pathlib import Path

import pytest
import yaml
from bad_inputs import CONFIG_EDITS, TARGETS, TEXT_EDITS, demo_config
from snakemake_run import snakemake

from stationarity.cli import main


def dry_run(config: Path, work: Path):
    """A dry run of the whole study with ``config`` as its only config file."""
    return snakemake(
        "--configfile", str(config), "--replace-workflow-config", "-n", "all", workdir=work
    )


@pytest.mark.parametrize("case", CONFIG_EDITS)
def test_validate_and_the_workflow_refuse_it_naming_the_key(tmp_path, case):
    edit, message = CONFIG_EDITS[case]
    config = demo_config()
    edit(config)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    with pytest.raises(SystemExit) as refused:
        main(["validate", str(path)])
    assert message in str(refused.value)
    result = dry_run(path, tmp_path / "work")
    said = result.stdout + result.stderr
    assert result.returncode != 0 and f"{path}: invalid config" in said and message in said
    assert "Traceback" not in said and 'File "' not in said  # the message alone
    assert not (tmp_path / "work" / "results").exists()


@pytest.mark.parametrize("case", TEXT_EDITS)
def test_a_broken_config_file_is_refused_naming_file_and_line(tmp_path, case):
    text, pattern = TEXT_EDITS[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SystemExit, match=pattern) as refused:
        main(["validate", str(path)])
    assert "Traceback" not in str(refused.value)
    result = dry_run(path, tmp_path / "work")
    said = result.stdout + result.stderr
    assert result.returncode != 0
    if case == "YAML syntax error":  # Snakemake parses --configfile itself, before the workflow
        assert "Config file is not valid JSON or YAML" in said
    elif case == "config that is not a mapping":
        assert "Config file must be given as JSON or YAML with keys at top level" in said
    else:
        assert re.search(pattern, said) and f"{path}: {path}" not in said
        assert "Traceback" not in said


@pytest.mark.parametrize("case", TARGETS)
def test_a_target_that_cannot_be_built_fails_at_planning_naming_what_exists(tmp_path, case):
    target, message = TARGETS[case]
    result = snakemake("--profile", "local", "-n", target, workdir=tmp_path)
    said = result.stdout + result.stderr
    assert result.returncode != 0 and message in said and "Traceback" not in said


def test_the_model_options_table_matches_the_model_builders():
    import dataclasses
    import inspect

    from stationarity.config.checks import MODEL_OPTIONS
    from stationarity.models import MODELS
    from stationarity.models.transformer_xl import TransformerXLConfig

    assert set(MODEL_OPTIONS) == set(MODELS)
    for name, build in MODELS.items():
        taken = [
            p
            for p in inspect.signature(build).parameters
            if p not in ("num_classes", "input_shape")
        ]
        if name == "transformer_xl":
            taken = [
                f.name for f in dataclasses.fields(TransformerXLConfig) if f.name != "vocab_size"
            ]
        assert sorted(taken) == sorted(MODEL_OPTIONS[name]), name

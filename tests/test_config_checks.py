"""Bad input the schema cannot see is refused by `validate` and by the workflow alike, by name."""

import pytest
import yaml
from snakemake_run import snakemake

from stationarity.cli import main

E = "experiments"


def edited(repo, edit) -> str:
    """The demo config's text after ``edit(config)``."""
    config = yaml.safe_load((repo / "config" / "demo.yaml").read_text())
    edit(config)
    return yaml.safe_dump(config, allow_unicode=True)


def schedule(config, experiment, name):
    return config[E][experiment]["schedules"][name]


CASES = {
    "nan rate": (
        lambda c: schedule(c, "mnist_underfit", "const_0.1").update(lr=float("nan")),
        f"'{E}.mnist_underfit.schedules.const_0.1.lr': nan is not a finite number",
    ),
    "infinite rate": (
        lambda c: schedule(c, "mnist_underfit", "const_0.1").update(lr=float("inf")),
        f"'{E}.mnist_underfit.schedules.const_0.1.lr': inf is not a finite number",
    ),
    "sample sizes beyond the data": (
        lambda c: c[E]["mnist_underfit"]["sample_size"]["sizes"].append(6000),
        f"'{E}.mnist_underfit.sample_size.sizes': [6000] exceed the 5000 training samples",
    ),
    "milestone after the run": (
        lambda c: schedule(c, "digits_overfit", "multistep").update(milestones_epochs=[15, 40]),
        f"'{E}.digits_overfit.schedules.multistep.milestones_epochs': [40] at or after the end",
    ),
    "model key of another model": (
        lambda c: c[E]["mnist_underfit"]["model"].update(hidden=[16]),
        f"'{E}.mnist_underfit.model': ['hidden'] are not options of model cnn_8_16; its "
        "options: none",
    ),
    "resize that does not divide": (
        lambda c: c[E]["mnist_underfit"]["data"].update(resize=10),
        f"'{E}.mnist_underfit.data.resize': 10 does not divide the 28-pixel images of mnist5k; "
        "allowed: [1, 2, 4, 7, 14, 28]",
    ),
    "cutoffs out of order": (
        lambda c: c[E]["wikipedia_transformerxl"]["model"].update(cutoffs=[2000, 1000]),
        f"'{E}.wikipedia_transformerxl.model.cutoffs': [2000, 1000] must increase",
    ),
    "cosine horizon beyond the run": (
        lambda c: schedule(c, "wikipedia_transformerxl", "cosine").update(total_steps=5000),
        "'experiments.wikipedia_transformerxl.schedules.cosine.total_steps': 5000 differs from "
        "the run's 543 steps",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_validate_and_the_workflow_refuse_it_naming_the_key(repo, tmp_path, case):
    edit, message = CASES[case]
    path = tmp_path / "bad.yaml"
    path.write_text(edited(repo, edit))
    with pytest.raises(SystemExit) as refused:
        main(["validate", str(path)])
    assert message in str(refused.value)
    work = tmp_path / "work"
    args = ["--configfile", str(path), "--replace-workflow-config", "-n", "all"]
    result = snakemake(*args, workdir=work)
    assert result.returncode != 0 and message in result.stdout + result.stderr
    assert not (work / "results").exists()


def test_a_schedule_given_twice_is_refused_with_its_line(repo, tmp_path):
    text = (repo / "config" / "demo.yaml").read_text()
    line = "      const_0.1: {kind: constant, lr: 0.1}"
    assert line in text
    path = tmp_path / "twice.yaml"
    path.write_text(text.replace(line, f"{line}\n      const_0.1: {{kind: constant, lr: 0.2}}"))
    with pytest.raises(SystemExit, match=r"twice.yaml, line \d+, column 7: key 'const_0.1' given"):
        main(["validate", str(path)])
    args = ["--configfile", str(path), "--replace-workflow-config", "-n", "all"]
    result = snakemake(*args, workdir=tmp_path / "work")
    assert result.returncode != 0 and "key 'const_0.1' given twice" in result.stdout + result.stderr


def test_a_yaml_syntax_error_names_file_line_and_column(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("study: demo\nfigures: [fig5\nwandb: {}\n")
    with pytest.raises(SystemExit, match=r"broken.yaml, line \d+, column \d+: ") as refused:
        main(["validate", str(path)])
    assert "Traceback" not in str(refused.value)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("runs/mnist_underfit/const_0.1/seed7/manifest.tsv", "seed7 is not a run of this study"),
        ("runs/digits_overfit/const_0.1/seed0/manifest.tsv", "runs of digits_overfit: digits"),
        ("stats/mnist_underfit/const_0.1/seed0/step00000007.parquet", "no checkpoint at step 7"),
    ],
)
def test_a_target_that_cannot_be_built_fails_at_planning_naming_what_exists(
    tmp_path, target, message
):
    result = snakemake("--profile", "local", "-n", f"results/demo/{target}", workdir=tmp_path)
    assert result.returncode != 0 and message in result.stdout + result.stderr


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

"""The workflow as a user runs it: dry runs, the synthetic targets end to end, bad input."""

import re

import pandas as pd
import pytest
import yaml
from snakemake_run import REPO, snakemake

from stationarity.plan.runs import planned_checkpoints, run_spec


@pytest.fixture
def small_config(repo, tmp_path):
    """The demo config with a shorter Theorem 1 run, written to a temp file."""
    config = yaml.safe_load((repo / "config" / "demo.yaml").read_text())
    config["synthetic"]["theorem1"].update(iterations=2000, seeds=[0, 1, 2], points=8)
    config.update(figures=["fig5", "theory_lemma2", "theory_theorem1"], experiments={})
    del config["figure_sources"]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


@pytest.mark.parametrize("profile_args", [[], ["--profile", "local"]], ids=["paper", "demo"])
def test_dry_run_succeeds(profile_args, tmp_path):
    result = snakemake(*profile_args, "-n", "all", workdir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "figure" in result.stdout and "synthetic_table" in result.stdout
    runs = set(re.findall(r"/runs/([^,\s]+)/manifest\.tsv", result.stdout))
    expected = {
        "paper": {
            f"imagenet_resnet101/{s}/seed0"
            for s in ("step", "const_0.1", "const_0.01", "const_0.001", "const_0.01_long")
            + ("branch_0.05", "branch_0.01")
        }
        | {"cifar10_resnet18/multistep/seed0"}
        | {
            f"wt103_transformerxl/{s}/seed0"
            for s in ("cosine", "const_5e-5", "const_1e-4", "const_2.5e-4")
        },
        "demo": {
            f"mnist_underfit/{s}/seed0"
            for s in ("step", "const_0.1", "const_0.01", "const_0.001", "const_0.01_long")
            + ("branch_0.05", "branch_0.01")
        }
        | {"digits_overfit/multistep/seed0"}
        | {f"wikipedia_transformerxl/{s}/seed0" for s in ("cosine", "const_1e-3")},
    }
    assert runs == expected["demo" if profile_args else "paper"]
    if not profile_args:  # the paper measures every checkpoint of every run
        config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
        checkpoints = sum(
            len(planned_checkpoints(run_spec(settings))) for settings in run_settings(config)
        )
        assert job_count(result.stdout, "estimate") == checkpoints > 1000
        assert job_count(result.stdout, "sample_size") == 2 * 7 + 2 * 4  # ImageNet, WikiText


@pytest.mark.parametrize(("target", "runs", "estimates"), [("fig2", 3, 3 * 91), ("fig7", 1, 201)])
def test_one_figure_plans_only_the_runs_it_draws(target, runs, estimates, tmp_path):
    result = snakemake("-n", target, workdir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert job_count(result.stdout, "train") == job_count(result.stdout, "collect") == runs
    assert job_count(result.stdout, "estimate") == estimates <= 400


def run_settings(config):
    """The settings of every run of a config."""
    for name, experiment in config["experiments"].items():
        for schedule in experiment["schedules"]:
            for seed in experiment["seeds"]:
                yield {
                    "experiment": name, "schedule": schedule, "seed": seed,
                    "config": experiment, "wandb": config["wandb"],
                }  # fmt: skip


def job_count(stdout: str, rule: str) -> int:
    """The count of a rule's jobs in a dry run's job statistics."""
    return int(re.search(rf"^{rule}\s+(\d+)$", stdout, re.MULTILINE).group(1))


def test_synthetic_targets_end_to_end_with_report(small_config, tmp_path):
    work = tmp_path / "work"
    config_args = ["--configfile", str(small_config), "--replace-workflow-config"]
    result = snakemake(*config_args, "all", workdir=work)
    assert result.returncode == 0, result.stderr
    figures = work / "results" / "demo" / "figures"
    for name in ("fig5", "theory_lemma2", "theory_theorem1"):
        for ext in ("png", "pdf"):
            assert (figures / f"{name}.{ext}").stat().st_size > 10_000
        plotted = pd.read_parquet(figures / f"{name}.parquet")
        assert {"x", "statistic", "value"} <= set(plotted.columns) and len(plotted) > 0
    sine = pd.read_parquet(work / "results" / "demo" / "synthetic" / "sine.parquet")
    assert {"step_size", "iteration", "theta1", "theta2", "loss", "grad_norm"} <= set(sine.columns)

    # a named target after a full run has nothing left to do
    again = snakemake(*config_args, "-n", "fig5", workdir=work)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr

    report = work / "results" / "demo" / "report.html"
    made = snakemake(*config_args, "--report", str(report), workdir=work)
    assert made.returncode == 0, made.stderr
    html = report.read_text()
    assert "Gradient descent on f" in html and "<script src=" not in html  # captions; offline


@pytest.mark.parametrize(
    ("key", "line", "message"),
    [
        ("misspelled", "studdy: demo\n", "unknown key(s) ['studdy']"),
        ("negative step", None, "'synthetic.sine.step_sizes[0]'"),
        ("unknown figure", None, "'figures[0]': 'fig42' is not allowed"),
    ],
)
def test_bad_config_fails_fast_naming_the_key(repo, tmp_path, key, line, message):
    config = yaml.safe_load((repo / "config" / "demo.yaml").read_text())
    if key == "negative step":
        config["synthetic"]["sine"]["step_sizes"] = [-0.01, 0.04]
    if key == "unknown figure":
        config["figures"] = ["fig42"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True) + (line or ""))
    work = tmp_path / "work"
    result = snakemake("--configfile", str(path), "--replace-workflow-config", "all", workdir=work)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (work / "results").exists()


def test_the_slurm_profile_gives_each_job_the_plans_cores_memory_and_runtime(tmp_path):
    result = snakemake("--profile", "slurm", "-n", "all", workdir=tmp_path)
    assert result.returncode == 0, result.stderr
    jobs = re.findall(
        r"^rule (\w+):\n(?:    .*\n)*?    wildcards: experiment=(\w+).*\n    resources: (.*)$",
        result.stdout,
        re.M,
    )
    seen = {}
    for rule, experiment, resources in jobs:
        values = dict(re.findall(r"(\w+)=([^,]+)", resources))
        if rule in ("estimate", "sample_size"):
            assert int(values["cpus_per_task"]) >= 4 and int(values["mem_mb"]) >= 8000, values
            longest = seen.setdefault(rule, {}).get(experiment, 0)  # the checkpoints with sharpness
            seen[rule][experiment] = max(longest, int(values["runtime"]))
        if rule == "train":
            assert int(values["cpus_per_task"]) == 8 * int(values["gpu"]), values
    assert len(set(seen["estimate"].values())) == 3  # ImageNet, CIFAR-10, WikiText-103 differ
    assert set(seen["sample_size"]) == {"imagenet_resnet101", "wt103_transformerxl"}

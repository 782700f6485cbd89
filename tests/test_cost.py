"""The cost model prices every job of both shipped studies from the one throughput table."""

import copy
import json

import pytest
import yaml

from stationarity.bench.throughput import published_rows
from stationarity.cli import main
from stationarity.plan import StudyPlan
from stationarity.plan.cost import THROUGHPUT, cost_summary, read_rates, train_cost


def plan_of(repo, name: str) -> StudyPlan:
    return StudyPlan(yaml.safe_load((repo / "config" / f"{name}.yaml").read_text()))


@pytest.mark.parametrize("name", ["config", "demo"])
def test_every_experiment_of_the_shipped_studies_is_priced(repo, name):
    summary = cost_summary(plan_of(repo, name))
    assert summary["unpriced"] == []
    assert set(summary["rules"]) == {"train", "estimate", "sample_size"}
    assert all(rule["jobs"] > 0 and rule["max_job_hours"] > 0 for rule in summary["rules"].values())
    if name == "config":  # the paper study runs on GPUs: every hour is a GPU-hour
        assert summary["total_gpu_hours"] > 100 and summary["gpu"]
        assert all(rule["cpu_hours"] == 0 for rule in summary["rules"].values())


def test_halving_the_samples_lowers_the_estimate_cost(repo):
    paper = plan_of(repo, "config")
    before = cost_summary(paper)["rules"]["estimate"]["gpu_hours"]
    config = copy.deepcopy(paper.config)
    for experiment in config["experiments"].values():
        experiment["statistics"]["samples"] //= 2
    after = cost_summary(StudyPlan(config))["rules"]["estimate"]["gpu_hours"]
    assert after < before  # the gradient pass halves; the sharpness keeps its k samples
    for experiment in config["experiments"].values():  # sharpness over all m: it halves too
        experiment["statistics"].pop("sharpness_samples", None)
    whole = cost_summary(StudyPlan(config))["rules"]["estimate"]["gpu_hours"]
    config = copy.deepcopy(config)
    for experiment in config["experiments"].values():
        experiment["statistics"]["samples"] //= 2
    assert cost_summary(StudyPlan(config))["rules"]["estimate"]["gpu_hours"] < 0.6 * whole


def test_training_hours_are_samples_over_the_rate():
    (rates,) = [r for key, r in read_rates().items() if key == ("resnet101", "imagenet", True)]
    steps, batch = 100_000, 256
    job = train_cost({"batch_size": batch}, steps, rates, gpus=1)
    assert job.hours == pytest.approx(steps * batch / rates.train_step / 3600 + 0.05)
    four = train_cost({"batch_size": batch}, steps, rates, gpus=4)
    assert four.hours < job.hours / 3


def test_published_gpu_rows_keep_the_cpu_ratios():
    cpu = [
        {"model": "resnet101", "data": "imagenet", "device": "cpu", "operation": op,
         "samples_per_s": rate, "batch": 8, "peak_mib": 1, "parameters": 1, "source": "m",
         "commit": "c"}
        for op, rate in (("train_step", 2.0), ("per_sample", 1.0), ("hvp", 0.5))
    ]  # fmt: skip
    gpu = {row["operation"]: float(row["samples_per_s"]) for row in published_rows(cpu)}
    assert gpu["per_sample"] == pytest.approx(gpu["train_step"] / 2, rel=1e-3)
    assert gpu["hvp"] == pytest.approx(gpu["train_step"] / 4, rel=1e-3)
    assert 500 < gpu["train_step"] < 600  # ResNet-50's published rate / 1.9


def test_cost_prints_a_table_or_json(repo, capsys):
    main(["cost", str(repo / "config" / "demo.yaml"), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert {"rules", "total_gpu_hours", "disk_gb", "throughput"} <= set(summary)
    assert summary["throughput"] == str(THROUGHPUT)
    main(["cost", str(repo / "config" / "demo.yaml")])
    assert capsys.readouterr().out.startswith("rule ")


def test_sharpness_on_fewer_samples_or_checkpoints_costs_less(repo):
    paper = plan_of(repo, "config")
    config = copy.deepcopy(paper.config)
    imagenet = config["experiments"]["imagenet_resnet101"]["statistics"]

    def estimate_hours(**statistics) -> float:
        imagenet.update(statistics)
        return cost_summary(StudyPlan(config))["rules"]["estimate"]["gpu_hours"]

    full = estimate_hours(sharpness_samples=160_000, sharpness_every=1)
    tenth = estimate_hours(sharpness_samples=16_000)
    alternate = estimate_hours(sharpness_every=2)
    assert tenth < 0.5 * full and alternate < tenth
    # The gradient pass over all m samples stays at every estimated checkpoint.
    assert estimate_hours(sharpness="none") > 0


def test_each_estimate_is_priced_and_sized_with_or_without_its_sharpness(repo):
    plan = plan_of(repo, "config")
    run = next(r for r in plan.runs if r.experiment == "imagenet_resnet101")
    config = copy.deepcopy(plan.config)
    config["experiments"]["imagenet_resnet101"]["statistics"].update(sharpness_every=2)
    plan = StudyPlan(config)
    sharp, estimated = plan.sharpness_steps(run), plan.estimated_steps(run)
    assert set(sharp) < set(estimated) and estimated[-1] in sharp
    skipped = next(step for step in estimated if step not in sharp)
    with_sharpness = plan.estimate_resources(run, sharp[0])
    without = plan.estimate_resources(run, skipped)
    assert without.hours_per_attempt < with_sharpness.hours_per_attempt
    assert plan.measures_sharpness(run, sharp[0]) and not plan.measures_sharpness(run, skipped)


def test_the_paper_study_fits_a_cluster(repo):
    """Measurement at most half of training; estimates within 4 h, sample-size jobs within 8 h,
    while every sample-size sweep reaches twice the m it checks."""
    paper = plan_of(repo, "config")
    rules = cost_summary(paper)["rules"]
    measuring = rules["estimate"]["gpu_hours"] + rules["sample_size"]["gpu_hours"]
    assert measuring <= 0.5 * rules["train"]["gpu_hours"]
    assert rules["estimate"]["max_job_hours"] <= 4 and rules["sample_size"]["max_job_hours"] <= 8
    for experiment in paper.experiments.values():
        if "sample_size" in experiment:
            assert (
                max(experiment["sample_size"]["sizes"]) >= 2 * experiment["statistics"]["samples"]
            )

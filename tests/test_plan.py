"""StudyPlan answers every planning question without Snakemake."""

import pytest
import yaml

from stationarity.config import validate_config
from stationarity.plan import Run, StudyPlan


def study(repo, name: str) -> StudyPlan:
    """The plan of config/<name>.yaml, validated as the workflow does."""
    config = yaml.safe_load((repo / "config" / f"{name}.yaml").read_text())
    validate_config(config)
    return StudyPlan(config)


@pytest.fixture
def paper(repo):
    return study(repo, "config")


def imagenet(schedule: str) -> Run:
    return Run("imagenet_resnet101", schedule, 0)


def test_fig2_needs_exactly_the_three_constant_rate_imagenet_runs(paper):
    assert paper.figure_runs("fig2") == [imagenet(f"const_{lr}") for lr in ("0.1", "0.01", "0.001")]
    tables = paper.figure_inputs("fig2")["tables"]
    assert tables == [
        f"results/paper/tables/imagenet_resnet101/const_{lr}/seed0.parquet"
        for lr in ("0.1", "0.01", "0.001")
    ]


def test_fig7_needs_one_cifar_run_and_fig5_a_synthetic_table(paper):
    assert paper.figure_runs("fig7") == [Run("cifar10_resnet18", "multistep", 0)]
    assert paper.figure_inputs("fig5") == {"table": "results/paper/synthetic/sine.parquet"}


def test_a_branch_figure_also_reads_its_parent_run(paper):
    runs = paper.figure_runs("theorem8")
    assert runs == [imagenet("const_0.1"), imagenet("branch_0.05"), imagenet("branch_0.01")]
    parent, step = paper.parent(imagenet("branch_0.05"))
    assert parent == imagenet("const_0.1") and step == 45 * 5005  # halfway through 90 epochs
    assert paper.train_inputs(imagenet("branch_0.05"))["parent"] == (
        "results/paper/runs/imagenet_resnet101/const_0.1/seed0/manifest.tsv"
    )
    settings = paper.train_settings(imagenet("branch_0.05"))
    parent_identity = paper.identity(imagenet("const_0.1"))
    assert settings["init_from"].endswith(
        f"const_0.1/seed0/{parent_identity}/step{45 * 5005:08d}.pt"
    )
    assert settings["parent"] == {"identity": parent_identity, "step": 45 * 5005}
    assert paper.figure_sources("theorem8")[0]["branches"] == {
        "branch_0.05": ["const_0.1", 45 * 5005],
        "branch_0.01": ["const_0.1", 45 * 5005],
    }


def test_checkpoints_estimates_and_sample_size_steps_of_a_run(paper):
    run = imagenet("const_0.1")
    steps = paper.checkpoints[run]
    assert len(steps) == 91 and steps[-1] == 90 * 5005  # every epoch, with step 0
    assert paper.estimated_steps(run) == steps
    assert paper.studied_steps(run) == [30 * 5005, 90 * 5005]  # nearest to 0.33 and 1.0
    inputs = paper.collect_inputs(run)
    assert len(inputs["stats"]) == 91 and len(inputs["sample_size"]) == 2
    assert paper.collect_inputs(Run("cifar10_resnet18", "multistep", 0))["sample_size"] == []


def test_resources_come_from_the_plan_and_its_cost_model(paper, repo):
    imagenet_train = paper.train_resources(imagenet("step"))
    assert (imagenet_train.gpu, imagenet_train.threads, imagenet_train.mem_mb) == (4, 32, 64000)
    # 90 epochs on 4 GPUs: the predicted ~16 h with a margin, longer on a retry.
    assert 10 * 60 < imagenet_train.runtime(attempt=1) < 24 * 60
    assert abs(imagenet_train.runtime(attempt=2) - 2 * imagenet_train.runtime(attempt=1)) <= 1
    measuring = [
        resources(run)
        for run in paper.runs
        for resources in (paper.estimate_resources, paper.sample_size_resources)
        if resources != paper.sample_size_resources or paper.studied_steps(run)
    ]
    assert all(r.gpu == 1 and r.threads >= 4 and r.mem_mb >= 8000 for r in measuring)
    by_experiment = {
        run.experiment: paper.estimate_resources(run).runtime(attempt=1) for run in paper.runs
    }
    assert len(set(by_experiment.values())) == 3  # ImageNet, CIFAR-10 and WikiText differ
    demo = study(repo, "demo")
    assert {demo.train_resources(run).gpu for run in demo.runs} == {0}
    assert {demo.estimate_resources(run).gpu for run in demo.runs} == {0}


def test_the_whole_study_has_one_table_per_run(repo):
    demo = study(repo, "demo")
    assert len(demo.all_tables()) == len(demo.runs) == 10
    assert len(demo.all_figures()) == 3 * len(demo.config["figures"])
    assert demo.data_sets == {
        ("mnist5k", "data/mnist5k"): "experiments.mnist_underfit.data.root",
        ("digits", "data/digits"): "experiments.digits_overfit.data.root",
        ("wikipedia_demo", "data/wikipedia_demo"): "experiments.wikipedia_transformerxl.data.root",
    }


def test_job_counts_of_a_figure_and_of_the_study(paper):
    assert paper.job_counts(paper.target_runs("fig2")) == {
        "train": 3, "estimate": 3 * 91, "sample_size": 3 * 2, "collect": 3,
    }  # fmt: skip
    assert paper.job_counts(paper.target_runs("fig7"))["train"] == 1
    assert paper.job_counts(paper.target_runs())["train"] == len(paper.runs) == 12


def test_missing_slurm_commands_are_named(tmp_path, monkeypatch):
    from stationarity.plan.resources import missing_slurm_commands

    monkeypatch.setenv("PATH", str(tmp_path))
    assert "not on PATH: sbatch, squeue, scancel, sinfo, sacct" in missing_slurm_commands()
    for command in ("sbatch", "squeue", "scancel", "sinfo", "sacct"):
        (tmp_path / command).write_text("#!/bin/sh\n")
        (tmp_path / command).chmod(0o755)
    assert missing_slurm_commands() is None


def test_targets_that_cannot_be_built_name_what_exists(paper):
    with pytest.raises(ValueError, match=r"imagenet_resnet101/const_0.1/seed7 is not a run.*"):
        paper.run(Run("imagenet_resnet101", "const_0.1", 7))
    with pytest.raises(ValueError, match="cifar10_resnet18/const_0.1/seed0 is not a run"):
        paper.run(Run("cifar10_resnet18", "const_0.1", 0))
    with pytest.raises(ValueError, match=r"has no checkpoint at step 7; it checkpoints 0, 5005"):
        paper.checkpoint_file(imagenet("const_0.1"), "00000007")
    assert paper.checkpoint_file(imagenet("const_0.1"), "00005005").endswith("step00005005.pt")


def test_a_schedule_label_changes_neither_identity_nor_the_train_job(paper):
    run = imagenet("const_0.1")
    before = (paper.identity(run), paper.train_settings(run), paper.estimate_settings(run))
    paper.experiments["imagenet_resnet101"]["schedules"]["const_0.1"]["label"] = "renamed"
    relabelled = StudyPlan(paper.config)
    after = (relabelled.identity(run), relabelled.train_settings(run))
    assert after == before[:2] and relabelled.estimate_settings(run) == before[2]
    assert relabelled.schedule_labels("imagenet_resnet101")["const_0.1"] == "renamed"

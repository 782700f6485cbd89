"""The train stage through Snakemake: data preparation, training, outputs, clear errors."""

import re

import pandas as pd
import yaml
from snakemake_run import snakemake
from test_workflow import job_count

from stationarity.plan.runs import planned_checkpoints, run_spec


def study(repo, tmp_path, experiments):
    """A config file for a study with only the given experiments (and the cheap Fig. 5)."""
    config = yaml.safe_load((repo / "config" / "demo.yaml").read_text())
    config.update(study="t", figures=["fig5"], experiments=experiments)
    config.pop("figure_sources")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return ["--configfile", str(path), "--replace-workflow-config", "--show-failed-logs"]


TINY = {
    "label": "tiny MLP on digits",
    "data": {"name": "digits", "root": "data/digits"},
    "model": {"name": "mlp", "hidden": [16]},
    "optimizer": {"name": "sgd", "momentum": 0.9, "weight_decay": 5e-4},
    "batch_size": 256,
    "epochs": 3,
    "checkpoint_every": {"epochs": 1},
    "seeds": [0],
    "schedules": {"const_0.1": {"kind": "constant", "lr": 0.1}},
    "statistics": {"samples": 512, "micro_batch": 256, "seed": 0, "every": 2},
}


def test_demo_training_runs_through_snakemake(repo, tmp_path):
    work = tmp_path / "work"
    result = snakemake(*study(repo, tmp_path, {"tiny": TINY}), "train_all", workdir=work)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = work / "results" / "t" / "runs" / "tiny" / "const_0.1" / "seed0"
    manifest = pd.read_csv(run / "manifest.tsv", sep="\t")
    steps_per_epoch = 8  # ceil(1797 / 256)
    assert list(manifest.step) == [0, 8, 16, 24]
    settings = {"experiment": "tiny", "schedule": "const_0.1", "seed": 0, "config": TINY}
    assert planned_checkpoints(run_spec({**settings, "wandb": {"mode": "disabled"}})) == [
        0,
        8,
        16,
        24,
    ]
    (identity,) = set(manifest.identity)  # checkpoints live in the run's identity folder
    assert all((run / identity / name).is_file() for name in manifest.file)
    log = pd.read_parquet(run / "train_log.parquet")
    assert len(log) == 3 * steps_per_epoch and set(log.lr) == {0.1}
    assert (work / "data" / "digits" / ".prepared-digits.json").is_file()


def test_missing_imagenet_archives_fail_naming_files_and_key(repo, tmp_path):
    imagenet = {
        **TINY,
        "data": {"name": "imagenet", "root": str(tmp_path / "no_archives_here")},
        "model": {"name": "resnet18"},
    }
    work = tmp_path / "work"
    result = snakemake(*study(repo, tmp_path, {"imnet": imagenet}), "train_all", workdir=work)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "ILSVRC2012_img_train.tar" in output and "experiments.imnet.data.root" in output
    assert not (work / "results" / "t" / "runs").exists()  # nothing was trained


def test_unknown_schedule_kind_fails_before_any_job(repo, tmp_path):
    bad = {**TINY, "schedules": {"s": {"kind": "stepwise", "lr": 0.1}}}
    result = snakemake(*study(repo, tmp_path, {"tiny": bad}), "-n", "train_all", workdir=tmp_path)
    assert result.returncode != 0
    assert "'experiments.tiny.schedules.s.kind': 'stepwise' is not allowed" in result.stderr


def identity_of(run_dir) -> str:
    """The identity of the run whose manifest is published in ``run_dir``."""
    (identity,) = set(pd.read_csv(run_dir / "manifest.tsv", sep="\t").identity)
    return identity


def test_a_changed_setting_trains_a_new_run_and_keeps_the_old_one(repo, tmp_path):
    work = tmp_path / "work"
    table = "results/t/tables/tiny/const_0.1/seed0.parquet"
    first = snakemake(*study(repo, tmp_path, {"tiny": TINY}), table, workdir=work)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    run = work / "results" / "t" / "runs" / "tiny" / "const_0.1" / "seed0"
    old = identity_of(run)
    final = "step00000024.pt"
    old_bytes = (run / old / final).read_bytes()

    slower = {**TINY, "schedules": {"const_0.1": {"kind": "constant", "lr": 0.05}}}
    second = snakemake(*study(repo, tmp_path, {"tiny": slower}), table, workdir=work)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    new = identity_of(run)
    assert new != old and (run / old / final).read_bytes() == old_bytes  # the old run is kept
    assert (run / new / final).read_bytes() != old_bytes
    assert set(pd.read_parquet(run / "train_log.parquet").lr) == {0.05}
    log = (
        work / "results" / "t" / "logs" / "train" / "tiny" / "const_0.1" / "seed0.log"
    ).read_text()
    assert f"new identity {new} (was {old}): schedule.lr: 0.1 → 0.05" in log
    measured = pd.read_parquet(work / table)
    assert set(measured.run_identity) == {new}

    # An estimator setting re-estimates and never retrains.
    fewer = {**slower, "statistics": {**TINY["statistics"], "samples": 256}}
    dry = snakemake(*study(repo, tmp_path, {"tiny": fewer}), "-n", table, workdir=work)
    assert dry.returncode == 0, dry.stderr
    assert job_count(dry.stdout, "estimate") > 0 and not re.search(r"^train\s", dry.stdout, re.M)


def test_a_checkpoint_altered_after_training_is_refused_by_its_estimate_and_branch(repo, tmp_path):
    import torch

    work = tmp_path / "work"
    branch = {"kind": "constant", "lr": 0.05, "epochs": 1}
    branch["from_checkpoint"] = {"schedule": "const_0.1", "at": 1.0}  # from step 24
    schedules = {**TINY["schedules"], "branch": branch}
    args = study(repo, tmp_path, {"tiny": {**TINY, "schedules": schedules}})
    parent = "results/t/runs/tiny/const_0.1/seed0"
    trained = snakemake(*args, f"{parent}/manifest.tsv", workdir=work)
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    path = work / parent / identity_of(work / parent) / "step00000024.pt"
    state = torch.load(path, weights_only=True)
    first = next(key for key in state["model"] if key.endswith("weight"))
    state["model"][first] = -state["model"][first]  # a loadable file with other weights
    torch.save(state, path)
    refusal = f"checkpoint {path.relative_to(work)} is truncated or corrupt: sha256"

    stats = "results/t/stats/tiny/const_0.1/seed0/step00000024.parquet"
    result = snakemake(*args, stats, workdir=work)
    assert result.returncode != 0 and not (work / stats).exists()
    log = (work / "results/t/logs/estimate/tiny/const_0.1/seed0/step00000024.log").read_text()
    assert log.startswith(refusal) and "Traceback" not in log
    assert "Nothing was used: restore the file" in log

    result = snakemake(*args, "results/t/runs/tiny/branch/seed0/manifest.tsv", workdir=work)
    assert result.returncode != 0
    log = (work / "results/t/logs/train/tiny/branch/seed0.log").read_text()
    assert refusal in log and "Nothing was used" in log and "Traceback" not in log
    assert not (work / "results/t/runs/tiny/branch/seed0/manifest.tsv").exists()

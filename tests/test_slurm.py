"""The workflow through a real SLURM, as `snakemake --profile slurm` runs it on a cluster.

Needs the one-node cluster of `tests/slurm/cluster.sh start` (`.ci/run` starts it); skipped, saying
so, where SLURM is not running. The test profile layered over `slurm/` only polls faster.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_train_workflow import TINY

REPO = Path(__file__).resolve().parents[1]
PROFILES = ("--profile", "slurm", "--profile", "tests/slurm/profile")


def slurm_running() -> bool:
    """Whether sbatch is here and the controller answers with a node that takes jobs."""
    if not all(shutil.which(command) for command in ("sbatch", "sinfo", "scontrol")):
        return False
    # `scontrol ping` answers at once; sinfo waits 9 s for a controller that is down.
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=10)
    if "is UP" not in ping.stdout:
        return False
    state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=10)
    return bool({"idle", "mix", "alloc", "comp"} & set(state.stdout.split()))


pytestmark = pytest.mark.skipif(
    not slurm_running(),
    reason="SLURM is not running: start the test cluster with `tests/slurm/cluster.sh start`",
)

# What each stage runs through SLURM: targets, the rules whose jobs must be SLURM jobs, and files
# that must appear (under results/slurm/). A new stage adds its targets here.
DAGS = {
    "synthetic": (
        ["fig5", "theory_lemma2", "theory_theorem1"],
        ["synthetic_table", "figure"],
        ["figures/fig5.png", "figures/theory_lemma2.png", "figures/theory_theorem1.png"],
    ),
    "training": (
        ["train_all"],
        ["train"],
        ["runs/tiny/const_0.1/seed0/manifest.tsv", "runs/tiny/const_0.1/seed0/train_log.parquet"],
    ),
    "estimation": (
        ["results/slurm/tables/tiny/const_0.1/seed0.parquet"],
        ["estimate", "collect"],
        ["stats/tiny/const_0.1/seed0/step00000016.parquet", "tables/tiny/const_0.1/seed0.parquet"],
    ),
}


def write_config(path: Path, experiments: dict, **keys) -> list[str]:
    """A small study `slurm` with the given experiments (and keys); the arguments that select it."""
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    config["synthetic"]["theorem1"].update(iterations=2000, seeds=[0, 1, 2], points=8)
    for experiment in experiments.values():  # estimated as the demo estimates the same data
        demo = (
            e
            for e in config["experiments"].values()
            if e["data"]["name"] == experiment["data"]["name"]
        )
        experiment.setdefault("statistics", next(demo)["statistics"])
    # Only the synthetic figures: the trained-run figures draw the demo's experiments.
    config.update(study="slurm", experiments=experiments, figures=DAGS["synthetic"][0])
    config.update(figure_sources={}, **keys)
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return ["--configfile", str(path), "--replace-workflow-config"]


def snakemake_slurm(workdir: Path, *args: str, limit: int = 600) -> subprocess.CompletedProcess:
    """Snakemake with the SLURM profiles; SIGINT at the limit makes it cancel its SLURM jobs."""
    command = ["timeout", "-s", "INT", "-k", "30", str(limit), sys.executable, "-m", "snakemake"]
    return subprocess.run(
        [*command, *PROFILES, "--directory", str(workdir), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


def slurm_job_ids(workdir: Path, rule: str) -> list[str]:
    """The SLURM job ids of a rule's jobs, from the plugin's per-job logs."""
    logs = workdir / ".snakemake" / "slurm_logs" / f"rule_{rule}"
    return sorted((path.stem for path in logs.rglob("*.log")), key=int)


def slurm_states(job_ids: list[str]) -> set[str]:
    """What SLURM says of these jobs (it remembers finished ones for MinJobAge seconds)."""
    out = subprocess.run(
        ["squeue", "--states=all", "-h", "-o", "%T", "-j", ",".join(job_ids)],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    """Every DAG of DAGS in one run through SLURM; the workdir and the run's output."""
    work = tmp_path_factory.mktemp("slurm")
    config = write_config(work / "config.yaml", {"tiny": {**TINY, "epochs": 2}})
    targets = [target for dag in DAGS.values() for target in dag[0]]
    result = snakemake_slurm(work, *config, *targets)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return work, result.stdout + result.stderr


@pytest.mark.parametrize("dag", DAGS)
def test_jobs_run_through_sbatch_and_results_appear(slurm_run, dag):
    work, output = slurm_run
    _, rules, files = DAGS[dag]
    for rule in rules:
        job_ids = slurm_job_ids(work, rule)
        assert job_ids and all(re.fullmatch(r"\d+", i) for i in job_ids), rule
        assert all(f"SLURM jobid {i}" in output for i in job_ids)
        assert slurm_states(job_ids) == {"COMPLETED"}
    for name in files:
        assert (work / "results" / "slurm" / name).stat().st_size > 0, name


def test_data_is_prepared_on_the_login_node_not_in_a_job(slurm_run):
    work, _ = slurm_run
    assert (work / "data" / "digits" / ".prepared-digits.json").is_file()
    assert not slurm_job_ids(work, "prepare_data")


# About 80 s of training on an idle machine (1 s an epoch at one thread), several minutes on a busy
# one: it must still run when the warning comes, 25-55 s into a one-minute job (see below).
SLOW = {
    "label": "a CNN on MNIST-5k that outlasts a one-minute SLURM time limit",
    "data": {"name": "mnist5k", "root": "data/mnist5k"},
    "model": {"name": "cnn_16_32_bn"},
    "optimizer": {"name": "sgd", "momentum": 0.9, "weight_decay": 5e-4},
    "batch_size": 128,
    "epochs": 80,
    "checkpoint_every": {"epochs": 100},  # only step 0, the preemption and the end
    "seeds": [0],
    "schedules": {"const": {"kind": "constant", "lr": 0.05}},
}


def test_time_limit_warning_checkpoints_and_the_retry_resumes_identically(tmp_path):
    # Every key of config.yaml's wandb: Snakemake 9.27 does not pass --replace-workflow-config on to
    # SLURM jobs, so they merge config.yaml under this config, and the run (saved in checkpoints)
    # must come out the same.
    wandb = {"mode": "disabled", "project": "slurm", "entity": None}
    config = write_config(tmp_path / "config.yaml", {"slow": SLOW}, wandb=wandb)
    # The uninterrupted reference, on this machine beside the SLURM job (same relative paths).
    local = ["--cores", "1", "--directory", str(tmp_path / "local"), *config, "train_all"]
    reference = subprocess.Popen(
        [sys.executable, "-m", "snakemake", *local],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    work = tmp_path / "slurm"
    # Attempt 1 may run 1 minute. SLURM looks for due warnings every 30 s, so USR1@5 comes 25-55 s
    # in: after training has started, before the time limit.
    limits = ["train:runtime=1 if attempt == 1 else 10", "train:slurm_extra='--signal=USR1@5'"]
    result = snakemake_slurm(work, *config, "train_all", "--set-resources", *limits)
    _, err = reference.communicate(timeout=600)
    assert reference.returncode == 0, err[-3000:]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]

    run = Path("results/slurm/runs/slow/const/seed0")
    first, retry = slurm_job_ids(work, "train")  # the interrupted job and its retry
    # Attempt 1 stopped on the warning, with the checkpoint exit code, before its time limit.
    first_log = next((work / ".snakemake" / "slurm_logs").rglob(f"{first}.log")).read_text()
    assert "non-zero exit status 75" in first_log and "DUE TO TIME LIMIT" not in first_log
    log = (work / "results/slurm/logs/train/slow/const/seed0.log").read_text()
    assert "resuming from step" in log
    ours = pd.read_csv(work / run / "manifest.tsv", sep="\t")
    theirs = pd.read_csv(tmp_path / "local" / run / "manifest.tsv", sep="\t")
    assert ours.iloc[-1].equals(theirs.iloc[-1])  # same final step and sha256
    assert len(ours) == 3  # step 0, the one saved on SIGUSR1, the end

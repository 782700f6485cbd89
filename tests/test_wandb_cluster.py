"""W&B from the login node: upload offline runs, update the report; fail fast, never hang."""

import time

import pytest
import yaml
from snakemake_run import snakemake

from stationarity.tracking import WandbUnavailable, check_server, offline_runs, upload_skipped

NO_SERVER = "https://api.stationarity-test.invalid"  # .invalid never resolves: no network
FAKE_KEY = "0123456789abcdef0123456789abcdef01234567"  # the shape of a key; never sent


@pytest.fixture
def online_env(monkeypatch, tmp_path):
    """WANDB_MODE unset (as on a login node), no key anywhere unless a test sets one."""
    import wandb

    wandb.teardown()  # a login node starts fresh: drop W&B state that earlier tests left here
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("WANDB_BASE_URL", NO_SERVER)


def test_disabled_or_offline_only_skips_with_a_reason(monkeypatch):
    assert "disabled" in upload_skipped({"mode": "disabled"})
    assert "offline-only" in upload_skipped({"mode": "offline"})  # WANDB_MODE=offline here
    monkeypatch.delenv("WANDB_MODE")
    assert upload_skipped({"mode": "offline"}) is None  # offline runs are what sync uploads


@pytest.mark.usefixtures("online_env")
def test_no_key_fails_at_once_saying_so():
    with pytest.raises(WandbUnavailable, match="no W&B API key"):
        check_server()


@pytest.mark.usefixtures("online_env")
def test_no_network_fails_in_seconds_naming_the_server(monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    start = time.monotonic()
    with pytest.raises(WandbUnavailable, match="cannot reach the W&B server .*invalid"):
        check_server(timeout_s=5)
    assert time.monotonic() - start < 10


def test_only_runs_never_uploaded_are_synced(tmp_path):
    for name in ("offline-run-1", "offline-run-2"):
        (tmp_path / "wandb" / name).mkdir(parents=True)
    (tmp_path / "wandb" / "offline-run-1" / "run-1.wandb.synced").touch()
    assert offline_runs(tmp_path) == [tmp_path / "wandb" / "offline-run-2"]


def _study(repo, tmp_path, mode):
    config = yaml.safe_load((repo / "config" / "demo.yaml").read_text())
    config["wandb"]["mode"] = mode
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return ["--configfile", str(path), "--replace-workflow-config"]


def test_rules_skip_when_wandb_is_disabled(repo, tmp_path):
    args = _study(repo, tmp_path, "disabled")
    result = snakemake(*args, "wandb_sync", "wandb_report", workdir=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "wandb_sync skipped: W&B is disabled" in result.stdout
    assert "wandb_report skipped: W&B is disabled" in result.stdout


@pytest.mark.usefixtures("online_env")
def test_sync_without_network_fails_fast_saying_what_is_missing(repo, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    (tmp_path / "results" / "demo" / "wandb" / "wandb" / "offline-run-x").mkdir(parents=True)
    start = time.monotonic()
    args = [*_study(repo, tmp_path, "offline"), "--show-failed-logs", "wandb_sync"]
    result = snakemake(*args, workdir=tmp_path)
    assert result.returncode != 0
    assert "cannot reach the W&B server" in result.stdout + result.stderr
    assert time.monotonic() - start < 60

"""`stationarity <command>` (`python -m stationarity`): the stages without Snakemake."""

import pandas as pd
import pytest

from stationarity.cli import main


def test_validate_accepts_demo_and_rejects_bad(repo, tmp_path, capsys):
    main(["validate", str(repo / "config" / "demo.yaml")])
    assert "valid" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text((repo / "config" / "demo.yaml").read_text().replace("study:", "stuy:"))
    with pytest.raises(SystemExit, match="stuy"):
        main(["validate", str(bad)])


def test_plan_of_one_figure_lists_its_runs(repo, capsys):
    main(["plan", "fig2", "--config", str(repo / "config" / "config.yaml")])
    out = capsys.readouterr().out
    runs = [line.split()[0] for line in out.splitlines() if "/seed" in line]
    assert runs == [f"imagenet_resnet101/const_{lr}/seed0" for lr in ("0.1", "0.01", "0.001")]
    assert "train: 3" in out and "estimate: 273" in out


def test_synthetic_then_figure_from_the_study_tables(repo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = str(repo / "config" / "demo.yaml")
    table = tmp_path / "results" / "demo" / "synthetic" / "lemma2.parquet"
    with pytest.raises(SystemExit, match="not there yet"):
        main(["figure", "theory_lemma2", "--config", config])
    main(["synthetic", "lemma2", "--config", config, "--out", str(table)])
    assert set(pd.read_parquet(table).n) == {2, 5, 10}
    main(["figure", "theory_lemma2", "--config", config])
    figures = tmp_path / "results" / "demo" / "figures"
    assert (figures / "theory_lemma2.png").exists() and (figures / "theory_lemma2.parquet").exists()


def test_superseded_runs_are_listed_and_pruned_only_when_asked(repo, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = str(repo / "config" / "demo.yaml")
    main(["plan", "--config", config])
    line = next(line for line in capsys.readouterr().out.splitlines() if "digits_overfit" in line)
    current = line.split("identity ")[1].split()[0]
    run = tmp_path / "results" / "demo" / "runs" / "digits_overfit" / "multistep" / "seed0"
    for identity in (current, "0123456789ab"):
        (run / identity).mkdir(parents=True)
        (run / identity / "run.json").write_text("{}")
        (run / identity / "step00000000.pt").write_bytes(b"x" * 2_000_000)
    main(["plan", "--superseded", "--config", config])
    listed = capsys.readouterr().out
    assert "0123456789ab  2.0 MB" in listed and current not in listed
    with pytest.raises(SystemExit, match="nothing deleted"):
        main(["prune", "--config", config])
    assert (run / "0123456789ab").exists()
    main(["prune", "--yes", "--config", config])
    assert not (run / "0123456789ab").exists() and (run / current / "run.json").exists()


def test_the_console_script_validates_from_another_directory(repo, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("stationarity")
    result = subprocess.run(
        [str(script), "validate", str(repo / "config" / "demo.yaml")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and "valid" in result.stdout, result.stderr


def test_report_spec_and_sync_preview_need_no_server(repo, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = str(repo / "config" / "demo.yaml")
    main(["report", "--spec", "--config", config])
    spec = capsys.readouterr().out
    assert spec.startswith("fig1: train/loss, estimate/grad_norm") and "fig5" not in spec
    assert "mnist_underfit/const_0.001/seed0 estimate  [constant η = 0.001, #" in spec
    fragment = tmp_path / "results" / "demo" / "wandb" / "wandb" / "offline-run-20260101_000000-x"
    fragment.mkdir(parents=True)
    main(["sync", "--dry-run", "--config", config])
    preview = capsys.readouterr().out
    assert str(fragment.relative_to(tmp_path)) in preview
    assert "would upload 1 run(s) in 1 fragment(s), 0 logged step(s)" in preview


def test_bench_and_prepare_are_subcommands(repo, capsys):
    with pytest.raises(SystemExit, match="estimators"):
        main(["bench", "nonesuch"])
    with pytest.raises(SystemExit, match="unknown experiment 'nope'; experiments of this config"):
        main(["prepare", str(repo / "config" / "demo.yaml"), "nope"])


def test_prepare_refuses_corrupt_imagenet_archives_naming_each(repo, tmp_path):
    import yaml

    from stationarity.data.catalog import IMAGENET_ARCHIVES

    for name, _ in IMAGENET_ARCHIVES.values():
        (tmp_path / name).write_bytes(b"not the archive")
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    config["experiments"]["imagenet_resnet101"]["data"]["root"] = str(tmp_path)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit) as refused:
        main(["prepare", str(path), "imagenet_resnet101"])
    said = str(refused.value)
    assert "differ from their published MD5 sums" in said and "Traceback" not in said
    for name, md5 in IMAGENET_ARCHIVES.values():
        assert f"{name} has md5 " in said and f"expected {md5}" in said
    assert not (tmp_path / "train").exists()  # nothing unpacked

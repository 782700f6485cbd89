"""`python -m stationarity` runs the synthetic stages without Snakemake."""

import pandas as pd
import pytest

from stationarity.cli import main


def test_validate_accepts_demo_and_rejects_bad(repo, tmp_path, capsys):
    schema = str(repo / "workflow" / "schemas" / "config.schema.yaml")
    main(["validate", str(repo / "config" / "demo.yaml"), "--schema", schema])
    assert "valid" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text((repo / "config" / "demo.yaml").read_text().replace("study:", "stuy:"))
    with pytest.raises(SystemExit, match="stuy"):
        main(["validate", str(bad), "--schema", schema])


def test_synthetic_then_figure(repo, tmp_path):
    table = tmp_path / "lemma2.parquet"
    main(
        ["synthetic", "lemma2", "--config", str(repo / "config" / "demo.yaml"), "--out", str(table)]
    )
    assert set(pd.read_parquet(table).n) == {2, 5, 10}
    main(["figure", "theory_lemma2", "--table", f"table={table}", "--out", str(tmp_path / "l2")])
    assert (tmp_path / "l2.png").exists() and (tmp_path / "l2.parquet").exists()

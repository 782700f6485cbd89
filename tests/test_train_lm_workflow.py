"""A language model through Snakemake: the Wikipedia excerpt prepared, trained, logged."""

import pandas as pd
import yaml
from snakemake_run import snakemake

TINY_LM = {
    "label": "tiny Transformer-XL on the Wikipedia excerpt",
    "data": {"name": "wikipedia_demo", "root": "data/wikipedia_demo", "tgt_len": 16},
    "model": {
        "name": "transformer_xl",
        **{"n_layer": 1, "d_model": 16, "n_head": 2, "d_head": 8, "d_inner": 32},
        **{"mem_len": 16, "cutoffs": [2000, 5000]},
    },
    "optimizer": {"name": "adam", "betas": [0.9, 0.999], "grad_clip": 0.25},
    "batch_size": 4,
    "max_steps": 20,
    "checkpoint_every": {"steps": 10},
    "seeds": [0],
    "statistics": {"samples": 8, "micro_batch": 8, "seed": 0},
    "schedules": {"cosine": {"kind": "cosine", "lr": 1.0e-3, "total_steps": 20}},
}


def study(repo, tmp_path, experiments):
    """A demo config with only the given experiments and the cheap Fig. 5."""
    config = yaml.safe_load((repo / "config" / "demo.yaml").read_text())
    config.pop("figure_sources", None)  # they name the demo's own experiments
    config.update(study="t", figures=["fig5"], experiments=experiments)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return ["--configfile", str(path), "--replace-workflow-config", "--show-failed-logs"]


def test_demo_language_model_trains_through_snakemake(repo, tmp_path):
    work = tmp_path / "work"
    result = snakemake(*study(repo, tmp_path, {"lm": TINY_LM}), "train_all", workdir=work)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = work / "results" / "t" / "runs" / "lm" / "cosine" / "seed0"
    manifest = pd.read_csv(run / "manifest.tsv", sep="\t")
    assert list(manifest.step) == [0, 10, 20]
    log = pd.read_parquet(run / "train_log.parquet")
    assert list(log.step) == list(range(20)) and log.lr.iloc[0] == 1.0e-3
    assert log.loss.iloc[0] > 9.0  # about log(9,518 words) at initialisation
    assert (work / "data" / "wikipedia_demo" / "corpus.pt").is_file()


def test_missing_wikitext_tokens_fail_naming_the_localrule(repo, tmp_path):
    wikitext = {**TINY_LM, "data": {**TINY_LM["data"], "name": "wikitext103", "root": "wt"}}
    work = tmp_path / "work"
    result = snakemake(*study(repo, tmp_path, {"wt": wikitext}), "train_all", workdir=work)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "prepare_data" in output and "run it on the login node" in output
    assert not (work / "results" / "t" / "runs").exists()  # nothing was trained

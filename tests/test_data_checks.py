"""Checked data through jobs and workflow: pinned revisions, archive sums, the rule split."""

import json
import re

import datasets
import pytest
import yaml
from snakemake_run import snakemake

from stationarity.config import ConfigError, validate_config
from stationarity.data import load_text_corpus
from stationarity.data.catalog import IMAGENET_ARCHIVES
from stationarity.jobs.prepare import prepare_experiment
from stationarity.plan import StudyPlan

TEXT = {"train": [" = A = \n", " the cat . \n"], "validation": [" the . \n"]}


@pytest.fixture
def paper(repo):
    return yaml.safe_load((repo / "config" / "config.yaml").read_text())


def only(config, experiment, root):
    """The paper config with one experiment, its data under ``root``, and the cheap Fig. 5."""
    config = {**config, "figures": ["fig5"], "figure_sources": {}}
    chosen = config["experiments"][experiment]
    config["experiments"] = {experiment: {**chosen, "data": {**chosen["data"], "root": str(root)}}}
    return config


def test_the_paper_pins_a_full_wikitext_commit_and_only_hub_sets_take_one(paper):
    revision = paper["experiments"]["wt103_transformerxl"]["data"]["revision"]
    assert re.fullmatch(r"[0-9a-f]{40}", revision)
    paper["experiments"]["cifar10_resnet18"]["data"]["revision"] = revision
    with pytest.raises(ConfigError, match=r"\['revision'\] are not options of data set cifar10"):
        validate_config(paper)


def test_prepare_experiment_writes_the_receipt_the_workflow_reads(paper, tmp_path, monkeypatch):
    asked = []

    def load_dataset(*args, revision=None):
        asked.append(revision)
        return datasets.DatasetDict(
            {k: datasets.Dataset.from_dict({"text": v}) for k, v in TEXT.items()}
        )

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    config = only(paper, "wt103_transformerxl", tmp_path / "wt" / ".")
    revision = config["experiments"]["wt103_transformerxl"]["data"]["revision"]
    written = prepare_experiment(config, "wt103_transformerxl")
    assert [str(path) for path in written] == [
        str(tmp_path / "wt" / "corpus.pt"),
        *StudyPlan(config).data_receipts(),  # the path the rules produce and training waits for
    ]
    receipt = json.loads(written[1].read_text())
    assert asked == [revision] and receipt["revision"] == revision
    assert load_text_corpus("wikitext103", tmp_path / "wt", revision).vocab[:2] == ["<eos>", "="]
    with pytest.raises(ValueError, match="unknown experiment 'wt103'; .*wt103_transformerxl"):
        prepare_experiment(config, "wt103")


def test_imagenet_receipt_records_the_checked_sums(paper, tmp_path, monkeypatch):
    config = only(paper, "imagenet_resnet101", tmp_path)
    for role, (name, _) in list(IMAGENET_ARCHIVES.items()):
        (tmp_path / name).write_bytes(b"")
        # Empty stand-ins, recorded as checked; the marker makes unpacking a no-op.
        monkeypatch.setitem(IMAGENET_ARCHIVES, role, (name, "d41d8cd98f00b204e9800998ecf8427e"))
    (tmp_path / "prepared.json").write_text("{}")
    (tmp_path / ".checked-md5.json").write_text(
        json.dumps({n: {"md5": s} for n, s in IMAGENET_ARCHIVES.values()})
    )
    receipt = json.loads(prepare_experiment(config, "imagenet_resnet101")[1].read_text())
    assert receipt["checked_md5"] == dict(IMAGENET_ARCHIVES.values())
    assert "revision" not in receipt  # ImageNet has none


def test_only_downloads_stay_on_the_login_node(tmp_path):
    result = snakemake("-n", "prepare_all", workdir=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    counts = dict(re.findall(r"^(prepare_data|unpack_imagenet)\s+(\d+)$", result.stdout, re.M))
    assert counts == {"prepare_data": "2", "unpack_imagenet": "1"}  # CIFAR-10, WikiText; ImageNet
    job = result.stdout.split("rule unpack_imagenet:")[1].split("\n\n")[0]
    assert "cpus_per_task=1" in job and "runtime=720" in job and "mem_mb=4000" in job


def test_corrupt_archives_stop_the_job_with_their_sums_and_no_traceback(paper, tmp_path):
    archives = tmp_path / "archives"
    archives.mkdir()
    for name, _ in IMAGENET_ARCHIVES.values():
        (archives / name).write_bytes(b"not an archive")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(only(paper, "imagenet_resnet101", archives)))
    receipt = archives / ".prepared-imagenet.json"
    args = ["--configfile", str(path), "--replace-workflow-config", str(receipt)]
    result = snakemake(*args, workdir=tmp_path / "work")
    assert result.returncode != 0 and not receipt.exists()
    log = (archives / ".prepared-imagenet.log").read_text()
    assert "Traceback" not in log and "ILSVRC2012_img_train.tar has md5" in log
    assert "expected 1d675b47d978889d74fa0da5fadfb00e" in log
    assert "rule unpack_imagenet" in result.stderr + result.stdout

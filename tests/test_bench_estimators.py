"""The estimator benchmark: its workloads, its memory measurement and the rows it records."""

import csv
import math

import pytest
import torch

from stationarity.bench.__main__ import main as bench
from stationarity.bench.records import peak_memory
from stationarity.bench.workloads import make_workload, settle_batch_norm
from stationarity.estimators import estimate
from stationarity.plan.cost import read_rates

KEPT_ROW = {
    "model": "resnet101", "data": "imagenet", "device": "cpu", "precision": "fp32", "batch": "8",
    "operation": "train_step", "samples_per_s": "2.5", "peak_mib": "2471",
    "parameters": "44549160", "source": "an earlier run", "commit": "abc",
}  # fmt: skip


def _table_with_one_row(path) -> None:
    with open(path, "w", newline="") as f:
        f.write("# the table's own comment\n")
        writer = csv.DictWriter(f, fieldnames=list(KEPT_ROW), lineterminator="\n")
        writer.writeheader()
        writer.writerow(KEPT_ROW)


def test_the_bench_records_each_timed_method_per_checkpoint(tmp_path, capsys):
    table = tmp_path / "throughput.csv"
    _table_with_one_row(table)
    options = "--samples 32 --micro-batch 8 --repeats 1 --train-steps 2 --max-hvps 0 --threads 1"
    methods = ["--methods", "none,per_sample,naive"]
    bench(["estimators", "--models", "cnn", *methods, "--table", str(table), *options.split()])
    printed = capsys.readouterr().out
    assert "| **exact per-sample σ** (`noise='per_sample'`) |" in printed
    assert table.read_text().startswith("# the table's own comment\n")
    with open(table, newline="") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    assert KEPT_ROW in rows
    bench_rows = [row for row in rows if row["model"] == "cnn"]
    assert {(row["data"], row["operation"]) for row in bench_rows} == {
        (f"bench: synthetic 32px images, {checkpoint}", operation)
        for checkpoint in ("init", "trained")
        for operation in ("estimate_loss_grad", "per_sample", "per_sample_loop")
    }
    for row in bench_rows:
        assert float(row["samples_per_s"]) > 0 and row["batch"] == "8"
        assert "x the plain loss+gradient pass" in row["source"]
        assert float(row["peak_mib"]) >= 0
    # The cost model reads the same table and prices only workloads with all its operations.
    assert set(read_rates(table)) == set()


def test_peak_memory_sees_an_allocation_inside_the_block():
    with peak_memory(torch.device("cpu")) as memory:
        block = torch.ones(40 * 2**20)  # 160 MiB
        del block
    assert 150 <= memory["mib"] < 1000


def test_the_transformer_xl_workload_is_measured_in_eval_mode_per_segment():
    workload = make_workload("transformer_xl", 6, 32)
    settle_batch_norm(workload, torch.device("cpu"))
    assert not workload.model.training  # no dropout in the plain pass the bench compares with
    batches = list(zip(workload.inputs.split(3), workload.targets.split(3), strict=True))
    stats = estimate(workload.model, batches, sharpness=None, loss_fn=workload.loss_fn)
    assert (stats.samples, stats.tokens) == (6, 6 * workload.targets.shape[1])
    assert math.isfinite(stats.noise) and stats.noise > 0


def test_the_bench_refuses_an_unknown_model_before_building_any(monkeypatch):
    built = []
    monkeypatch.setattr("stationarity.bench.estimators.run_model", built.append)
    with pytest.raises(SystemExit, match="--models: unknown conv_bn; choose from cnn, convbn"):
        bench(["estimators", "--models", "cnn,conv_bn", "--table", "-"])
    assert built == []

"""The estimate and sample_size jobs: the statistics of one checkpoint over the run's fixed samples.

The m samples come from one seeded shuffle of the clean (un-augmented) training set: the estimate
takes its first m, the sample-size study its first n for each size n, so every checkpoint of a run
is measured on the same samples and the study's subsets are nested.
"""

from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch
from torch.utils.data import DataLoader, Subset

from ..data import TEXT_SETS, ContextSegments, build_image_data, load_text_corpus
from ..estimators import (
    SE_GROUPS,
    estimate,
    group_micro_batch,
    nested_subsets,
    sample_size_study,
    summed_cross_entropy,
    summed_target_nll,
)
from ..models import build_model
from ..models.transformer_xl import WithContext
from ..plan.runs import run_spec
from ..provenance import provenance
from ..tables import write_table
from ..training.checkpoints import load_verified
from ..training.host_memory import keep_freed_memory
from ..training.preemption import PreemptionSignals
from ..training.spec import TrainSpec
from .estimate_state import SavedProgress, fingerprint, state_path

ESTIMATE_OPTIONS = ("mode", "noise", "sharpness", "sharpness_rtol", "max_hvps", "se_groups")


def estimate_options(statistics: dict) -> dict:
    """The keyword arguments of ``estimate`` set by the config's ``statistics`` block."""
    options = {key: statistics[key] for key in ESTIMATE_OPTIONS if key in statistics}
    if options.get("sharpness") == "none":
        options["sharpness"] = None
    return options


def measured_model(spec: TrainSpec, checkpoint: Path, device: torch.device):
    """The checkpoint's model as the estimators see it, the samples they measure, the loss
    function over its outputs, and the checkpoint's state.

    Images: the clean (un-augmented) training set. Language models: windows of context + tgt_len
    + 1 tokens, so a sample carries mem_len tokens of memory as in training; the model scores the
    targets in the window (``WithContext``).
    """
    options = {k: v for k, v in spec.data.items() if k not in ("name", "root")}
    model_options = {k: v for k, v in spec.model.items() if k != "name"}
    # The one verified loader: the manifest's hash, and the identity of the run being measured.
    state = load_verified(checkpoint, spec.identity)
    if spec.data["name"] in TEXT_SETS:
        corpus = load_text_corpus(
            spec.data["name"], Path(spec.data["root"]), spec.data.get("revision")
        )
        model = build_model(spec.model["name"], len(corpus.vocab), (), **model_options)
        model.load_state_dict(state["model"])
        context = model.config.mem_len
        samples = ContextSegments(corpus.splits["train"], options["tgt_len"], context)
        return WithContext(model, context).to(device), samples, summed_target_nll, state
    data = build_image_data(spec.data["name"], Path(spec.data["root"]), seed=spec.seed, **options)
    model = build_model(spec.model["name"], data.num_classes, data.input_shape, **model_options)
    model.load_state_dict(state["model"])
    return model.to(device), data.clean, summed_cross_entropy, state


def estimate_micro_batch(statistics: dict, samples: int) -> int:
    """The micro-batch of an estimate over ``samples``: at most ceil(m/G) in eval mode, so that
    the G jackknife groups of the standard errors each get their own (the same passes in finer
    chunks). In train mode a micro-batch is BatchNorm's batch, part of what is measured: kept."""
    if statistics.get("mode", "eval") == "train":
        return statistics["micro_batch"]
    groups = statistics.get("se_groups", SE_GROUPS)
    return group_micro_batch(samples, statistics["micro_batch"], groups)


def estimator_settings(statistics: dict) -> dict:
    """The settings that define an estimate, recorded beside it (the samples are a column)."""
    return {
        "micro_batch": statistics["micro_batch"],
        "subset_seed": statistics["seed"],
        "noise_requested": statistics.get("noise", "per_sample"),
        "sharpness_method": str(statistics.get("sharpness", "lanczos")),
        "sharpness_rtol": statistics.get("sharpness_rtol", 1e-3),  # estimate's defaults
        "max_hvps": statistics.get("max_hvps", 100),
        # The estimate's `se_groups` column holds the groups used (fewer for few micro-batches).
        "se_groups_requested": statistics.get("se_groups", SE_GROUPS),
    }


def run_columns(spec: TrainSpec, state: dict) -> dict:
    """The columns that identify a measurement: run, step, epoch, where and with which code."""
    return {
        "experiment": spec.experiment,
        "schedule": spec.schedule_name,
        "seed": spec.seed,
        "run_identity": spec.identity,
        "step": int(state["step"]),
        "epoch": state["step"] / state["steps_per_epoch"],
    }


class SampleBatches:
    """Micro-batches of ``indices`` of a data set, re-iterable, that can start past the first
    ones without loading them (a resumed estimate reads only what is left)."""

    def __init__(self, dataset, indices: list[int], batch_size: int, workers: int):
        self.dataset, self.indices, self.batch_size, self.workers = (
            dataset,
            indices,
            batch_size,
            workers,
        )
        # Persistent workers: the Hessian passes reread the samples, up to max_hvps times.
        self.loader = self._loader(indices, persistent=workers > 0)

    def _loader(self, indices: list[int], persistent: bool) -> DataLoader:
        subset = Subset(self.dataset, indices)
        options = dict(num_workers=self.workers, persistent_workers=persistent)
        return DataLoader(subset, batch_size=self.batch_size, **options)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        return iter(self.loader)

    def skip(self, start: int) -> DataLoader:
        """The micro-batches from number ``start`` on."""
        return self._loader(self.indices[start * self.batch_size :], persistent=False)


def measured_subsets(statistics: dict, samples, m: int, sharpness: bool, workers: int):
    """The m samples in the estimate's micro-batches, and the first k of them in the configured
    micro-batches for the Hessian-vector products (None: the same batches serve both)."""
    generator = torch.Generator().manual_seed(statistics["seed"])
    indices = nested_subsets(len(samples), [m], generator)[0].tolist()
    micro_batch = estimate_micro_batch(statistics, m)
    batches = SampleBatches(samples, indices, micro_batch, workers)
    k = min(statistics.get("sharpness_samples", m), m)
    if not sharpness or (k == m and micro_batch == statistics["micro_batch"]):
        return batches, None
    # Finer chunks serve only the SE groups; the HVPs read k samples in full micro-batches.
    return batches, SampleBatches(samples, indices[:k], statistics["micro_batch"], workers)


def measure(
    settings: dict,
    checkpoint: Path,
    out: Path,
    threads: int,
    sizes=None,
    sharpness: bool = True,
    sharpness_sizes=None,
) -> pd.DataFrame:
    """Estimate one checkpoint (or, with sizes, the sample-size study) and write a Parquet.

    ``sharpness=False`` skips the sharpness of this checkpoint (``statistics.sharpness_every``).
    The running state is saved beside ``out`` and a rerun resumes from it (``estimate_state``).
    """
    torch.set_num_threads(threads)
    keep_freed_memory()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    spec = run_spec(settings)
    statistics = settings["config"]["statistics"]
    model, samples, loss_fn, state = measured_model(spec, checkpoint, device)
    workers = 0 if device.type == "cpu" and threads <= 1 else max(0, threads - 1)
    options = {**estimate_options(statistics), "loss_fn": loss_fn}
    if not sharpness:
        options["sharpness"] = None
    name = f"{'sample_size' if sizes else 'estimate'} {spec.run_path} step {state['step']}"
    key = fingerprint(settings, str(checkpoint), state["step"], sizes, sharpness, sharpness_sizes)
    with PreemptionSignals() as signals:
        saver = SavedProgress(state_path(out), key, name, signals)
        resume = saver.resume()
        if sizes is None:
            m = min(statistics["samples"], len(samples))
            batches, hessian = measured_subsets(statistics, samples, m, sharpness, workers)
            stats = estimate(
                model, batches, hessian_batches=hessian, progress=saver, resume=resume, **options
            )
            k = len(hessian.indices) if hessian is not None else m
            table = pd.DataFrame([asdict(stats)]).assign(sharpness_samples=k if stats.hvps else 0)
        else:
            check_sizes(spec, samples, sizes)
            table = sample_size_study(
                model,
                samples,
                sizes,
                micro_batch=statistics["micro_batch"],
                seed=statistics["seed"],
                sharpness_sizes=sharpness_sizes,
                progress=saver,
                resume=resume,
                **options,
            )
            table["sharpness_samples"] = table["size"].where(table.hvps > 0, 0)
    columns = run_columns(spec, state)
    for key_, value in reversed(columns.items()):
        table.insert(0, key_, value)
    for key_, value in estimator_settings(statistics).items():
        table[key_] = value
    table["device"] = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    for key_, value in provenance().items():
        table[key_] = value
    write_table(table, out)
    saver.discard()
    return table


def check_sizes(spec: TrainSpec, samples, sizes: list[int]) -> None:
    """Refuse sample sizes beyond the samples (image sets are checked at planning; a corpus's
    size is known only now)."""
    beyond = [size for size in sizes if size > len(samples)]
    if beyond:
        raise ValueError(
            f"{spec.run_path}: sample_size.sizes {beyond} exceed the {len(samples)} samples "
            f"of {spec.data['name']}; use sizes up to {len(samples)}"
        )

"""StudyPlan: which runs, checkpoints and jobs a study (or one of its targets) needs.

Built once from a validated config. The Snakemake rules ask it for their inputs and resources in
one-line input functions, so every planning question is answered here, without Snakemake.
"""

import os
from functools import cached_property
from pathlib import Path

from ..config import SYNTHETIC_FIGURES
from ..data.catalog import CATALOG
from .cost import (
    Rates,
    estimate_cost,
    rates_of,
    read_rates,
    sample_size_cost,
    train_cost,
)
from .paths import Paths, Run
from .resources import Resources, estimate_resources, train_resources
from .runs import planned_checkpoints, run_spec

# Keys of an experiment that do not change how its runs train. They are left out of the train
# jobs' params, so editing them (adding a schedule, measuring differently) retrains nothing.
NOT_TRAINING = ("label", "seeds", "schedules", "statistics", "sample_size")


def nearest(steps: list[int], fraction: float) -> int:
    """The step of ``steps`` nearest to ``fraction`` of the last one."""
    return min(steps, key=lambda step: abs(step - fraction * steps[-1]))


class UnknownTargetError(ValueError):
    """A target names a run or checkpoint the study does not plan; the message lists what exists."""


class StudyPlan:
    """Every run of a study, its checkpoints, its jobs' inputs and resources, each target's runs."""

    def __init__(self, config: dict):
        self.config = config
        self.experiments = config["experiments"]
        self.paths = Paths(config["study"])
        self.runs = [
            Run(name, schedule, int(seed))
            for name, experiment in self.experiments.items()
            for schedule in experiment["schedules"]
            for seed in experiment["seeds"]
        ]
        self._identities: dict[Run, str] = {}

    def run(self, wildcards) -> Run:
        """The run that wildcards (or a Run) name; UnknownTargetError listing the runs if none."""
        run = Run.of(wildcards)
        if run not in self.runs:
            known = ", ".join(r.name for r in self.runs if r.experiment == run.experiment)
            raise UnknownTargetError(
                f"{run.name} is not a run of this study; runs of {run.experiment}: "
                f"{known or 'none'} (schedules and seeds come from the config)"
            )
        return run

    def checkpoint_step(self, run: Run, step) -> int:
        """``step`` as an int if the run checkpoints it, else UnknownTargetError naming them."""
        steps = self.checkpoints[run]
        if int(step) not in steps:
            shown = ", ".join(map(str, steps[:5])) + (", …" if len(steps) > 5 else "")
            raise UnknownTargetError(
                f"{run.name} has no checkpoint at step {int(step)}; it checkpoints {shown} "
                f"(last {steps[-1]})"
            )
        return int(step)

    def named_target(self, target: str, rule_names: list[str]) -> None:
        """UnknownTargetError listing the figures and other targets: ``target`` names no rule."""
        figures = self.config["figures"]
        others = ", ".join(name for name in sorted(rule_names) if name not in figures)
        raise UnknownTargetError(
            f"unknown target {target!r}; figures of this study: {', '.join(figures)}; "
            f"other targets: {others}"
        )

    # --- runs, their identities and checkpoints -------------------------------------------------
    def base_settings(self, run: Run) -> dict:
        """The plain-data description of a run: its experiment's training keys and its schedule."""
        experiment = self.experiments[run.experiment]
        training = {k: v for k, v in experiment.items() if k not in NOT_TRAINING}
        schedule = experiment["schedules"][run.schedule]
        # A label names the schedule in figures; editing it must not rerun anything.
        training["schedules"] = {run.schedule: {k: v for k, v in schedule.items() if k != "label"}}
        return {
            "experiment": run.experiment,
            "schedule": run.schedule,
            "seed": run.seed,
            "config": training,
        }

    def run_settings(self, run: Run) -> dict:
        """A run's settings with the rest of what defines it: its GPUs and, for a branch, parent."""
        settings = {**self.base_settings(run), "gpus": self.train_resources(run).gpu}
        start = self.parent(run)
        if start is not None:
            settings["parent"] = {"identity": self.identity(start[0]), "step": start[1]}
        return settings

    def identity(self, run: Run) -> str:
        """The hash of everything that defines a run's trajectory (``training.identity``)."""
        if run not in self._identities:
            self._identities[run] = run_spec(self.run_settings(run)).identity
        return self._identities[run]

    def checkpoint_dir(self, run: Run) -> str:
        """The folder of a run's current identity: checkpoints, manifest, log, definition."""
        return f"{self.paths.fill(self.paths.run_dir, run)}/{self.identity(run)}"

    def checkpoint_file(self, run: Run, step: int) -> str:
        """The checkpoint of ``step`` in the folder of a run's current identity."""
        return f"{self.checkpoint_dir(run)}/step{self.checkpoint_step(run, step):08d}.pt"

    def superseded(self) -> list[tuple[Run, Path]]:
        """The identity folders on disk of runs whose settings have changed since they trained."""
        found = []
        for run in self.runs:
            run_dir = Path(self.paths.fill(self.paths.run_dir, run))
            folders = [path.parent for path in sorted(run_dir.glob("*/run.json"))]
            found += [(run, folder) for folder in folders if folder.name != self.identity(run)]
        return found

    @cached_property
    def checkpoints(self) -> dict[Run, list[int]]:
        """The steps each run will checkpoint, known before it trains."""
        return {run: planned_checkpoints(run_spec(self.base_settings(run))) for run in self.runs}

    def parent(self, run: Run) -> tuple[Run, int] | None:
        """A branch run's parent run and the parent's step it starts from; None for other runs."""
        origin = self.experiments[run.experiment]["schedules"][run.schedule].get("from_checkpoint")
        if origin is None:
            return None
        parent = Run(run.experiment, origin["schedule"], run.seed)
        return parent, nearest(self.checkpoints[parent], origin["at"])

    def estimated_steps(self, run: Run) -> list[int]:
        """Every ``statistics.every``-th checkpoint of a run, with its first and last."""
        steps = self.checkpoints[run]
        every = self.experiments[run.experiment]["statistics"].get("every", 1)
        return sorted(set(steps[::every]) | {steps[-1]})

    def sharpness_steps(self, run: Run) -> list[int]:
        """The estimated checkpoints that also measure the sharpness: every
        ``statistics.sharpness_every``-th checkpoint (default ``every``), the first and last."""
        steps = self.checkpoints[run]
        statistics = self.experiments[run.experiment]["statistics"]
        if statistics.get("sharpness", "lanczos") == "none":
            return []
        every = statistics.get("sharpness_every", statistics.get("every", 1))
        return sorted(set(steps[::every]) | {steps[-1]})

    def measures_sharpness(self, run: Run, step) -> bool:
        """Whether the estimate of checkpoint ``step`` measures the sharpness."""
        return self.checkpoint_step(run, step) in self.sharpness_steps(run)

    def studied_steps(self, run: Run) -> list[int]:
        """The checkpoints nearest to the fractions of training the sample-size study asks for."""
        study = self.experiments[run.experiment].get("sample_size")
        if study is None:
            return []
        return sorted({nearest(self.checkpoints[run], at) for at in study["at"]})

    # --- data ---------------------------------------------------------------------------------
    @cached_property
    def data_sets(self) -> dict[tuple[str, str], str]:
        """(data set, root) to prepare → the config key that sets that root (for messages)."""
        return {
            (experiment["data"]["name"], os.path.normpath(experiment["data"]["root"])): (
                f"experiments.{name}.data.root"
            )
            for name, experiment in reversed(self.experiments.items())
        }

    def data_options(self, dataset: str, root: str) -> dict:
        """The ``data`` block (a revision, say) of the experiment ``data_sets`` names for a root."""
        experiment = self.data_sets[(dataset, root)].split(".")[1]  # experiments.<name>.data.root
        return self.experiments[experiment]["data"]

    def data_receipts(self) -> list[str]:
        """The receipt of every data set the study prepares."""
        return [os.path.join(root, f".prepared-{name}.json") for name, root in self.data_sets]

    def data_receipt(self, run: Run) -> str:
        """The file that says a run's data set is prepared."""
        data = self.experiments[run.experiment]["data"]
        return os.path.join(os.path.normpath(data["root"]), f".prepared-{data['name']}.json")

    # --- training -------------------------------------------------------------------------------
    def train_inputs(self, run: Run) -> dict[str, str]:
        """A run's prepared data, and for a branch the parent run it starts from."""
        inputs = {"data": self.data_receipt(run)}
        start = self.parent(run)
        if start is not None:
            inputs["parent"] = self.paths.fill(self.paths.manifest, start[0])
        return inputs

    def train_settings(self, run: Run) -> dict:
        """Everything the training loop needs about one run, with a branch's start checkpoint."""
        start = self.parent(run)
        init_from = None if start is None else self.checkpoint_file(*start)
        return {**self.run_settings(run), "init_from": init_from, "identity": self.identity(run)}

    def on_gpu(self, run: Run) -> bool:
        """Whether a run trains on GPUs: every data set but the bundled ones, which train on CPU."""
        return not CATALOG[self.experiments[run.experiment]["data"]["name"]].bundled

    @cached_property
    def rates(self) -> dict:
        """The measured throughputs the cost model prices jobs with (``plan.cost``)."""
        return read_rates()

    def job_rates(self, run: Run) -> Rates | None:
        """The throughputs of a run's model and data set on its device; None if not measured."""
        return rates_of(self.experiments[run.experiment], self.on_gpu(run), self.rates)

    def train_resources(self, run: Run) -> Resources:
        """GPUs, cores, memory and runtime (the cost model's prediction) of a run's training."""
        gpus = self.experiments[run.experiment].get("gpus", 1) if self.on_gpu(run) else 0
        rates = self.job_rates(run)
        if rates is None:
            return train_resources(gpus)
        experiment = self.experiments[run.experiment]
        return train_resources(
            gpus, train_cost(experiment, self.checkpoints[run][-1], rates, gpus).hours
        )

    # --- measurement ------------------------------------------------------------------------------
    def estimate_settings(self, run: Run) -> dict:
        """A run's settings and its experiment's ``statistics``: all an estimate job depends on."""
        settings = self.run_settings(run)
        statistics = self.experiments[run.experiment]["statistics"]
        return {**settings, "config": {**settings["config"], "statistics": statistics}}

    def estimate_resources(self, run: Run, step=None) -> Resources:
        """An estimate job: one GPU where the run trained on GPUs, for its priced time limit
        (with the sharpness, unless ``step`` names a checkpoint that skips it)."""
        sharpness = step is None or self.measures_sharpness(run, step)
        statistics = self.experiments[run.experiment]["statistics"]
        return self._measurement_resources(
            run, lambda rates, gpus: estimate_cost(statistics, rates, gpus, sharpness)
        )

    def sample_size_resources(self, run: Run) -> Resources:
        """A sample-size job: as an estimate, at every size of the study."""
        statistics = self.experiments[run.experiment]["statistics"]
        sizes, sharp = self.sample_sizes(run), self.sharpness_sizes(run)
        return self._measurement_resources(
            run, lambda rates, gpus: sample_size_cost(statistics, sizes, sharp, rates, gpus), 12
        )

    def _measurement_resources(self, run: Run, price, unpriced_hours: float = 4) -> Resources:
        """Resources of a measurement job that ``price(rates, gpus)`` prices."""
        rates, on_gpu = self.job_rates(run), self.on_gpu(run)
        if rates is None:  # unpriced: the limits before the cost model
            return estimate_resources(on_gpu, unpriced_hours)
        job = price(rates, int(on_gpu))
        statistics = self.experiments[run.experiment]["statistics"]
        groups = statistics.get("se_groups", 16)
        basis = (
            statistics.get("max_hvps", 100)
            if statistics.get("sharpness", "lanczos") == "lanczos"
            else 1
        )
        return estimate_resources(on_gpu, job.limit_hours, rates.parameters, groups, basis)

    def sample_sizes(self, run: Run) -> list[int]:
        """The subset sizes of a run's sample-size study."""
        return self.experiments[run.experiment]["sample_size"]["sizes"]

    def sharpness_sizes(self, run: Run) -> list[int]:
        """The sizes at which a run's sample-size study measures the sharpness too."""
        study = self.experiments[run.experiment]["sample_size"]
        if self.experiments[run.experiment]["statistics"].get("sharpness", "lanczos") == "none":
            return []
        return study.get("sharpness_sizes", study["sizes"])

    def collect_inputs(self, run: Run) -> dict[str, list[str]]:
        """Everything measured for one run: estimates, sample-size studies, training log."""
        paths = self.paths
        return {
            "stats": [paths.fill(paths.stats, run, s) for s in self.estimated_steps(run)],
            "sample_size": [paths.fill(paths.sample_size, run, s) for s in self.studied_steps(run)],
            "train_log": [paths.fill(paths.train_log, run)],
        }

    # --- figures and targets ------------------------------------------------------------------
    def figure_runs(self, name: str) -> list[Run]:
        """The runs a figure of trained runs draws, and the parents of the branches among them."""
        runs = [
            Run(source["experiment"], schedule, int(seed))
            for source in self.config.get("figure_sources", {}).get(name, [])
            for schedule in source["schedules"]
            for seed in self.experiments[source["experiment"]]["seeds"]
        ]
        parents = [start[0] for start in map(self.parent, runs) if start is not None]
        return sorted(set(runs + parents), key=self.runs.index)  # in the config's order

    def figure_inputs(self, name: str) -> dict[str, str | list[str]]:
        """The tables a figure reads: a synthetic experiment's table, or its runs' tables."""
        if name in SYNTHETIC_FIGURES:
            return {"table": self.paths.synthetic.format(synthetic=SYNTHETIC_FIGURES[name])}
        return {
            "tables": [self.paths.fill(self.paths.table, run) for run in self.figure_runs(name)]
        }

    def figure_sources(self, name: str) -> list[dict]:
        """A figure's sources with what drawing and captioning them needs from the config.

        Batch size and optimizer (eq. 10), branch points (Thm. 8), schedule labels, the study's
        schedule order (one color per schedule in every figure), and for captions the
        experiment's label, ``statistics``, ``sample_size``, tgt_len, each schedule's length and
        number of estimated checkpoints (first seed).
        """
        order = list(dict.fromkeys(run.schedule for run in self.runs))
        sources = []
        for source in self.config.get("figure_sources", {}).get(name, []):
            experiment = self.experiments[source["experiment"]]
            seed = int(experiment["seeds"][0])
            runs = {s: Run(source["experiment"], s, seed) for s in source["schedules"]}
            specs = {s: run_spec(self.base_settings(run)) for s, run in runs.items()}
            sources.append(
                {
                    **source,
                    "batch_size": experiment["batch_size"],
                    "optimizer": experiment["optimizer"],
                    "branches": self.branches_of(source["experiment"], source["schedules"]),
                    "labels": self.schedule_labels(source["experiment"]),
                    "schedule_order": order,
                    "experiment_label": experiment.get("label", source["experiment"]),
                    "statistics": experiment["statistics"],
                    "sample_size": experiment.get("sample_size"),
                    "tgt_len": experiment["data"].get("tgt_len"),
                    "horizons": {
                        s: {"epochs": spec.epochs} if spec.epochs else {"steps": spec.max_steps}
                        for s, spec in specs.items()
                    },
                    "checkpoints": {s: len(self.estimated_steps(run)) for s, run in runs.items()},
                }
            )
        return sources

    def schedule_labels(self, experiment: str) -> dict[str, str]:
        """Each schedule's legend label: its ``label`` in the config, else its name."""
        schedules = self.experiments[experiment]["schedules"]
        return {name: schedule.get("label", name) for name, schedule in schedules.items()}

    def branches_of(self, experiment: str, schedules: list[str]) -> dict[str, list]:
        """For the branch runs among schedules (first seed): {schedule: [parent schedule, step]}."""
        seed = int(self.experiments[experiment]["seeds"][0])
        starts = {s: self.parent(Run(experiment, s, seed)) for s in schedules}
        return {s: [start[0].schedule, start[1]] for s, start in starts.items() if start}

    def target_runs(self, target: str | None = None) -> list[Run]:
        """The runs a figure draws, or every run of the study for no target."""
        return self.runs if target is None else self.figure_runs(target)

    def job_counts(self, runs: list[Run]) -> dict[str, int]:
        """How many jobs of each training and measurement rule these runs need."""
        return {
            "train": len(runs),
            "estimate": sum(len(self.estimated_steps(run)) for run in runs),
            "sample_size": sum(len(self.studied_steps(run)) for run in runs),
            "collect": len(runs),
        }

    def all_tables(self) -> list[str]:
        """The tidy table of every run."""
        return [self.paths.fill(self.paths.table, run) for run in self.runs]

    def all_figures(self) -> list[str]:
        """Every file of every figure the config lists."""
        return [path for name in self.config["figures"] for path in self.paths.figure_files(name)]

    def synthetic_settings(self, name: str) -> dict:
        """The config block of one synthetic experiment, passed as keyword arguments."""
        return self.config["synthetic"][name]

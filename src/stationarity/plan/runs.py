"""What a run will do, known before it starts: its TrainSpec and the steps it will checkpoint.

The workflow needs the checkpoint steps at planning time (one estimate job per checkpoint, listed by
a dry run), before any data is downloaded: the training-set sizes come from the data catalog.
"""

import dataclasses
from pathlib import Path

from ..data.catalog import CATALOG
from ..training.spec import TrainSpec, steps_per_epoch


def run_spec(settings: dict, wandb_dir: Path | None = None) -> TrainSpec:
    """The TrainSpec of settings {experiment, schedule, seed, config[, wandb, init_from, parent,
    gpus]}."""
    experiment = dict(settings["config"])
    schedule = dict(experiment["schedules"][settings["schedule"]])
    epochs = schedule.pop("epochs", None)  # a schedule may train longer than its experiment
    if epochs is not None:
        experiment.pop("max_steps", None)
        experiment["epochs"] = epochs
    schedule.pop("from_checkpoint", None)  # the workflow resolves it to settings["init_from"]
    experiment["schedules"] = {settings["schedule"]: schedule}
    wandb = {
        **settings.get("wandb", {"mode": "disabled"}),
        **({"dir": str(wandb_dir)} if wandb_dir else {}),
    }
    spec = TrainSpec.from_config(
        settings["experiment"],
        experiment,
        settings["schedule"],
        settings["seed"],
        Path(experiment["data"]["root"]),
        wandb,
    )
    return dataclasses.replace(
        spec,
        init_from=settings.get("init_from"),
        parent=settings.get("parent"),
        gpus=int(settings.get("gpus", 0)),
    )


def planned_checkpoints(spec: TrainSpec) -> list[int]:
    """The steps at which training saves a checkpoint: every interval, the first and the last."""
    by_steps = spec.epochs is None and "steps" in spec.checkpoint_every
    name = spec.data["name"]
    train_size = CATALOG[name].train_size if name in CATALOG else None
    if not by_steps and train_size is None:
        raise ValueError(
            f"{spec.experiment}: with data set {name!r} set max_steps and checkpoint_every.steps "
            "(its epoch length is not known before the data is prepared)"
        )
    per_epoch = None if by_steps else steps_per_epoch(train_size, spec.batch_size)
    total, every = spec.total_steps(per_epoch), spec.checkpoint_interval(per_epoch)
    return sorted(set(range(0, total + 1, every)) | {total})

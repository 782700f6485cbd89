"""What one training run is: a plain, validated record built from an experiment's config entry."""

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..files import run_name
from .identity import identity_of, run_definition
from .schedules import check_schedule

OPTIMIZERS = ("sgd", "adam")
PRECISIONS = ("fp32", "tf32", "bf16")
# Progress lines and W&B points at most this many steps apart (ImageNet has 5,005 steps an epoch).
MAX_LOG_EVERY = 200


@dataclass(frozen=True)
class TrainSpec:
    """One run = (experiment, schedule, seed) with everything the training loop needs."""

    experiment: str
    schedule_name: str
    seed: int
    data: dict  # name, root (resolved path) and the data set's options
    model: dict  # name and the model's options
    optimizer: dict  # name (sgd|adam) and its settings: momentum, weight_decay, betas, eps
    schedule: dict  # see stationarity.schedules
    batch_size: int
    epochs: int | None = None  # exactly one of epochs and max_steps
    max_steps: int | None = None
    # {epochs: k} or {steps: k}; step 0 and the last step are always saved too
    checkpoint_every: dict = field(default_factory=lambda: {"epochs": 1})
    precision: str = "fp32"
    wandb: dict = field(default_factory=lambda: {"mode": "disabled"})  # mode, project, entity
    # A branch (Theorem 8) starts from another run's checkpoint: its model and optimiser state.
    init_from: str | None = None
    # The parent's identity and start step, which are part of a branch's identity.
    parent: dict | None = None
    gpus: int = 0  # data-parallel processes (0: CPU); part of the identity

    def __post_init__(self):
        check_schedule(self.schedule)
        if (self.epochs is None) == (self.max_steps is None):
            raise ValueError(f"{self.experiment}: set exactly one of epochs and max_steps")
        if self.optimizer.get("name") not in OPTIMIZERS:
            raise ValueError(
                f"{self.experiment}: unknown optimizer {self.optimizer.get('name')!r}; "
                f"allowed: {', '.join(OPTIMIZERS)}"
            )
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"{self.experiment}: unknown precision {self.precision!r}; "
                f"allowed: {', '.join(PRECISIONS)}"
            )
        every = self.checkpoint_every
        if (
            len(every) != 1
            or not set(every) <= {"epochs", "steps"}
            or not all(isinstance(v, int) and v > 0 for v in every.values())
        ):
            raise ValueError(
                f"{self.experiment}: checkpoint_every must be {{epochs: k}} or {{steps: k}} "
                f"with a positive integer k, got {every!r}"
            )

    @property
    def run_path(self) -> str:
        """The run's name: ``{experiment}/{schedule}/seed{seed}``, as in the results tree."""
        return run_name(self.experiment, self.schedule_name, self.seed)

    @property
    def definition(self) -> dict:
        """What defines the run's trajectory (see ``training.identity``)."""
        return run_definition(self)

    @property
    def identity(self) -> str:
        """The hash of ``definition``: checkpoints, estimates and W&B runs are keyed by it."""
        return identity_of(self.definition)

    def total_steps(self, steps_per_epoch: int) -> int:
        """How many optimisation steps the run takes."""
        return self.max_steps if self.epochs is None else self.epochs * steps_per_epoch

    def checkpoint_interval(self, steps_per_epoch: int) -> int:
        """Steps between checkpoints."""
        every = self.checkpoint_every
        return every["steps"] if "steps" in every else every["epochs"] * steps_per_epoch

    def log_interval(self, steps_per_epoch: int) -> int:
        """Steps between progress lines and W&B points: once an epoch, or more often if long."""
        return max(1, min(steps_per_epoch, MAX_LOG_EVERY))

    def to_dict(self) -> dict:
        """The run as plain data (for checkpoints and W&B config)."""
        return asdict(self)

    @classmethod
    def from_config(
        cls,
        experiment_name: str,
        experiment_cfg: dict,
        schedule_name: str,
        seed: int,
        data_root_resolved: Path,
        wandb_cfg: dict | None = None,
    ) -> "TrainSpec":
        """Build the run ``schedule_name``/``seed`` of config entry ``experiments.<name>``."""
        schedules = experiment_cfg["schedules"]
        if schedule_name not in schedules:
            raise ValueError(
                f"experiment {experiment_name!r} has no schedule {schedule_name!r}; "
                f"it has: {', '.join(schedules)}"
            )
        return cls(
            experiment=experiment_name,
            schedule_name=schedule_name,
            seed=int(seed),
            data={**experiment_cfg["data"], "root": str(data_root_resolved)},
            model=dict(experiment_cfg["model"]),
            optimizer=dict(experiment_cfg["optimizer"]),
            schedule=dict(schedules[schedule_name]),
            batch_size=int(experiment_cfg["batch_size"]),
            epochs=experiment_cfg.get("epochs"),
            max_steps=experiment_cfg.get("max_steps"),
            checkpoint_every=dict(experiment_cfg.get("checkpoint_every", {"epochs": 1})),
            precision=experiment_cfg.get("precision", "fp32"),
            wandb=dict(wandb_cfg or {"mode": "disabled"}),
        )


def steps_per_epoch(num_samples: int, batch_size: int) -> int:
    """Batches per epoch; the last batch may be smaller (the reference loaders keep it)."""
    return math.ceil(num_samples / batch_size)

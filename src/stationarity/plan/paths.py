"""Where a study's files live: path templates with Snakemake wildcards, and filling them in."""

from dataclasses import dataclass

from ..files import run_name


@dataclass(frozen=True)
class Run:
    """One training run: (experiment, schedule, seed). Snakemake's wildcards convert with ``of``."""

    experiment: str
    schedule: str
    seed: int

    @classmethod
    def of(cls, wildcards) -> "Run":
        """The run named by anything with experiment, schedule and seed (wildcards, a Run)."""
        return cls(wildcards.experiment, wildcards.schedule, int(wildcards.seed))

    @property
    def name(self) -> str:
        """``experiment/schedule/seedN``: the run's place in the results tree and its label."""
        return run_name(self.experiment, self.schedule, self.seed)


RUN = run_name("{experiment}", "{schedule}", "{seed}")  # the run's folder, as wildcards
STEP = "step{step}"


class Paths:
    """Every file of a study under ``results/<study>``, as templates over Snakemake wildcards."""

    def __init__(self, study: str):
        self.results = results = f"results/{study}"
        self.run_dir = f"{results}/runs/{RUN}"
        self.manifest = f"{self.run_dir}/manifest.tsv"
        self.train_log = f"{self.run_dir}/train_log.parquet"
        self.stats = f"{results}/stats/{RUN}/{STEP}.parquet"
        self.sample_size = f"{results}/sample_size/{RUN}/{STEP}.parquet"
        self.table = f"{results}/tables/{RUN}.parquet"
        self.synthetic = f"{results}/synthetic/{{synthetic}}.parquet"
        self.figure = f"{results}/figures/{{name}}"
        self.wandb = f"{results}/wandb"
        self.logs = f"{results}/logs"

    @staticmethod
    def fill(template: str, run: Run, step: int | None = None) -> str:
        """The template with a run's wildcards (and a checkpoint step) filled in."""
        step_text = None if step is None else f"{step:08d}"
        return template.format(
            experiment=run.experiment, schedule=run.schedule, seed=run.seed, step=step_text
        )

    def figure_files(self, name: str) -> list[str]:
        """The files one figure consists of: PNG, PDF and the Parquet of its numbers."""
        return [f"{self.results}/figures/{name}.{ext}" for ext in ("png", "pdf", "parquet")]

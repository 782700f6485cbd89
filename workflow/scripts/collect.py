"""Shim: one experiment's tidy tables from its estimates and training logs (rule collect)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821, SIM115
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from stationarity.tables import collect_experiment  # noqa: E402

collect_experiment(
    stats=snakemake.input.stats,  # noqa: F821
    sample_size=snakemake.input.sample_size,  # noqa: F821
    train_logs=snakemake.input.train_logs,  # noqa: F821
    outputs={key: Path(path) for key, path in snakemake.output.items()},  # noqa: F821
    # W&B settings from the config, not params: changing them must not recollect anything.
    wandb={**snakemake.config["wandb"], "dir": snakemake.params.wandb_dir},  # noqa: F821
)

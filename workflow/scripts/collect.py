"""Shim: one run's tidy table from its estimates and training log (rule collect)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from stationarity.jobs.collect import collect_run

collect_run(
    {key: snakemake.wildcards[key] for key in ("experiment", "schedule")}
    | {"seed": int(snakemake.wildcards.seed)},
    identity=snakemake.params.identity,
    stats=snakemake.input.stats,
    sample_size=snakemake.input.sample_size,
    train_log=snakemake.input.train_log[0],
    out=Path(snakemake.output.table),
    # W&B settings from the config, not params: changing them must not recollect anything.
    wandb={**snakemake.config["wandb"], "dir": snakemake.params.wandb_dir},
)

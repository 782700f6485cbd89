"""`stationarity <command>` (or `python -m stationarity`): a study's stages without Snakemake."""

import argparse
import shutil
from pathlib import Path

from stationarity.config import SHIPPED, SYNTHETIC_FIGURES, ConfigError, config_path, load_config

# --config takes a path or a shipped study's name; by default, the paper's study.
DEFAULT_CONFIG = "paper"


def parse_args(argv=None) -> argparse.Namespace:
    """The command line: one subcommand per stage."""
    parser = argparse.ArgumentParser(prog="stationarity", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("validate", help="check a config file against the schema")
    check.add_argument("config", type=config_path, help=f"a path, or one of {sorted(SHIPPED)}")
    plan = commands.add_parser("plan", help="list the runs and jobs a study or a figure needs")
    plan.add_argument("target", nargs="?", help="a figure name; default: the whole study")
    plan.add_argument("--config", type=config_path, default=DEFAULT_CONFIG)
    plan.add_argument(
        "--superseded", action="store_true", help="list runs of old identities and their size"
    )
    prune = commands.add_parser("prune", help="delete the superseded runs (asks for --yes)")
    prune.add_argument("--config", type=config_path, default=DEFAULT_CONFIG)
    prune.add_argument("--yes", action="store_true", help="really delete them")
    table = commands.add_parser("synthetic", help="compute one synthetic experiment's table")
    table.add_argument("experiment", choices=sorted(SYNTHETIC_FIGURES.values()))
    table.add_argument("--config", type=config_path, default=DEFAULT_CONFIG)
    table.add_argument("--out", type=Path, required=True, help="Parquet file to write")
    figure = commands.add_parser("figure", help="draw one figure from the study's tables")
    figure.add_argument("name")
    figure.add_argument("--config", type=config_path, default=DEFAULT_CONFIG)
    figure.add_argument("--out", type=Path, help="output prefix (default: the study's figure)")
    prepare = commands.add_parser("prepare", help="download or unpack one experiment's data")
    prepare.add_argument("config", type=config_path)
    prepare.add_argument("experiment")
    sync = commands.add_parser("sync", help="upload the study's offline W&B runs")
    sync.add_argument("--config", type=config_path, default=DEFAULT_CONFIG)
    sync.add_argument("--dry-run", action="store_true", help="list what would be uploaded")
    report = commands.add_parser("report", help="update (or create) the study's W&B report")
    report.add_argument("--config", type=config_path, default=DEFAULT_CONFIG)
    report.add_argument("--spec", action="store_true", help="print its sections; no upload")
    cost = commands.add_parser("cost", help="predicted GPU-hours, longest jobs and disk")
    cost.add_argument("config", type=config_path, nargs="?", default=DEFAULT_CONFIG)
    cost.add_argument("--json", action="store_true", help="machine-readable")
    bench = commands.add_parser("bench", help="run a benchmark: `stationarity bench NAME --help`")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="the benchmark and its options")
    return parser.parse_args(argv)


def describe_plan(config: dict, target: str | None) -> str:
    """The runs (with their GPUs) and the count of each job a target needs, one line each."""
    from stationarity.plan import StudyPlan

    plan = StudyPlan(config)
    if target is not None and target not in config["figures"]:
        raise SystemExit(f"unknown target {target!r}; figures of this study: {config['figures']}")
    runs = plan.target_runs(target)
    lines = [
        f"{run.name}  identity {plan.identity(run)}  GPUs {plan.train_resources(run).gpu}"
        for run in runs
    ]
    lines += [f"{rule}: {count}" for rule, count in plan.job_counts(runs).items()]
    return "\n".join(lines)


def size_of(folder: Path) -> int:
    """Bytes of the files under ``folder``."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def superseded(config: dict, delete: bool) -> str:
    """The runs of old identities with their disk use; deleted only when ``delete`` is set."""
    from stationarity.plan import StudyPlan

    folders = StudyPlan(config).superseded()
    total = sum(size_of(folder) for _, folder in folders)
    lines = [f"{folder}  {size_of(folder) / 1e6:.1f} MB" for _, folder in folders]
    if delete:
        for _, folder in folders:
            shutil.rmtree(folder)
        lines.append(f"deleted {len(folders)} superseded run(s), {total / 1e6:.1f} MB")
    else:
        lines.append(f"{len(folders)} superseded run(s), {total / 1e6:.1f} MB")
    return "\n".join(lines)


def draw(config: dict, name: str, out: Path | None) -> Path:
    """Draw figure ``name`` of the study from its tables (which must exist); the PNG written."""
    from stationarity.jobs.figure import draw_figure
    from stationarity.plan import StudyPlan

    plan = StudyPlan(config)
    if name not in config["figures"]:
        raise SystemExit(f"unknown figure {name!r}; figures of this study: {config['figures']}")
    inputs = plan.figure_inputs(name)
    paths = [inputs["table"]] if "table" in inputs else inputs["tables"]
    missing = [path for path in paths if not Path(path).exists()]
    if missing:
        raise SystemExit(f"{name} needs tables that are not there yet: {missing}")
    prefix = str(out) if out else f"{plan.paths.results}/figures/{name}"
    outputs = {"png": f"{prefix}.png", "pdf": f"{prefix}.pdf", "data": f"{prefix}.parquet"}
    draw_figure(name, inputs, outputs, plan.figure_sources(name) or None)
    return Path(outputs["png"])


def publish(config: dict, command: str, preview: bool) -> str:
    """The sync or report command's output: what it did, or with ``preview`` what it would do."""
    from stationarity.jobs import publish

    if command == "report" and preview:
        return "\n".join(section.describe() for section in publish.report_sections(config))
    if command == "report":
        return publish.report(config)
    from stationarity.plan import Paths

    wandb_dir = Path(Paths(config["study"]).wandb)
    if preview:
        return publish.sync_preview(wandb_dir)
    return publish.sync(config["wandb"], wandb_dir)


def main(argv=None) -> None:
    """Run the command named on the command line."""
    args = parse_args(argv)
    if args.command == "bench":
        from stationarity.bench.__main__ import main as bench

        return bench(args.args)
    try:
        config = load_config(args.config)
    except ConfigError as error:
        raise SystemExit(str(error)) from None
    if args.command == "cost":
        import json

        from stationarity.plan import StudyPlan
        from stationarity.plan.cost import cost_summary, describe_cost

        summary = cost_summary(StudyPlan(config))
        print(json.dumps(summary, indent=1) if args.json else describe_cost(summary))
    elif args.command in ("sync", "report"):
        print(publish(config, args.command, args.dry_run if args.command == "sync" else args.spec))
    elif args.command == "prepare":
        from stationarity.jobs.prepare import prepare_experiment

        try:
            for path in prepare_experiment(config, args.experiment):
                print(path)
        except ValueError as error:  # an unknown experiment, a wrong archive: no traceback
            raise SystemExit(str(error)) from None
    elif args.command == "validate":
        print(f"{args.config}: valid")
    elif args.command == "plan" and args.superseded:
        print(superseded(config, delete=False))
    elif args.command == "plan":
        print(describe_plan(config, args.target))
    elif args.command == "prune":
        if not args.yes:
            print(superseded(config, delete=False))
            raise SystemExit("nothing deleted: run `stationarity prune --yes` to delete these")
        print(superseded(config, delete=True))
    elif args.command == "synthetic":
        from stationarity.jobs.synthetic import synthetic_table

        synthetic_table(args.experiment, config["synthetic"][args.experiment], args.out)
    elif args.command == "figure":
        print(draw(config, args.name, args.out))

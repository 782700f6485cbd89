"""`python -m stationarity <stage> ...`: the workflow's stages without Snakemake."""

import argparse
from pathlib import Path
from types import SimpleNamespace

import yaml

from stationarity.config import ConfigError, validate_config

SCHEMA = Path("workflow") / "schemas" / "config.schema.yaml"


def parse_args(argv=None) -> argparse.Namespace:
    """The command line: one subcommand per stage."""
    parser = argparse.ArgumentParser(prog="python -m stationarity", description=__doc__)
    stages = parser.add_subparsers(dest="stage", required=True)
    check = stages.add_parser("validate", help="check a config file against the schema")
    check.add_argument("config", type=Path)
    check.add_argument("--schema", type=Path, default=SCHEMA)
    table = stages.add_parser("synthetic", help="compute one synthetic experiment's table")
    table.add_argument("experiment", choices=["sine", "lemma2", "theorem1"])
    table.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    table.add_argument("--out", type=Path, required=True, help="Parquet file to write")
    figure = stages.add_parser("figure", help="draw a figure from its tables")
    figure.add_argument("name")
    figure.add_argument("--table", action="append", default=[], metavar="KEY=PARQUET")
    figure.add_argument("--out", type=Path, required=True, help="output prefix (no extension)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    """Run the stage named on the command line."""
    args = parse_args(argv)
    if args.stage == "validate":
        try:
            validate_config(yaml.safe_load(args.config.read_text()), args.schema)
        except ConfigError as error:
            raise SystemExit(f"{args.config}: {error}") from None
        print(f"{args.config}: valid")
    elif args.stage == "synthetic":
        from stationarity.synthetic import TABLES

        settings = yaml.safe_load(args.config.read_text())["synthetic"][args.experiment]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        TABLES[args.experiment](**settings).to_parquet(args.out)
    elif args.stage == "figure":
        from stationarity.figures import draw_figure

        tables = dict(item.split("=", 1) for item in args.table)
        outputs = SimpleNamespace(**{ext: f"{args.out}.{ext}" for ext in ("png", "pdf")})
        outputs.data = f"{args.out}.parquet"
        draw_figure(args.name, tables, outputs)

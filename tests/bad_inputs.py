"""Every kind of bad config and target the study refuses, with the words each refusal must contain.

The tests run each case through `stationarity validate` and a dry run of the workflow;
`python tests/bad_inputs.py` prints what each of the two says, as a Markdown table.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
E = "experiments"


def demo_config() -> dict:
    """The demo study's config, parsed."""
    return yaml.safe_load((REPO / "config" / "demo.yaml").read_text())


def schedule(config, experiment, name):
    return config[E][experiment]["schedules"][name]


def mnist(config):
    return config[E]["mnist_underfit"]


def transformer(config):
    return config[E]["wikipedia_transformerxl"]


# name -> (edit of the parsed demo config, words its refusal must contain)
CONFIG_EDITS = {
    "NaN learning rate": (
        lambda c: schedule(c, "mnist_underfit", "const_0.1").update(lr=float("nan")),
        f"'{E}.mnist_underfit.schedules.const_0.1.lr': nan is not a finite number",
    ),
    "infinite learning rate": (
        lambda c: schedule(c, "mnist_underfit", "const_0.1").update(lr=float("inf")),
        f"'{E}.mnist_underfit.schedules.const_0.1.lr': inf is not a finite number",
    ),
    "sample sizes beyond the data set": (
        lambda c: mnist(c)["sample_size"]["sizes"].append(6000),
        f"'{E}.mnist_underfit.sample_size.sizes': [6000] exceed the 5000 training samples",
    ),
    "estimation samples beyond the data set": (
        lambda c: mnist(c)["statistics"].update(samples=8192),
        f"'{E}.mnist_underfit.statistics.samples': 8192 is more than the 5000 training samples",
    ),
    "sharpness subset beyond the samples": (
        lambda c: mnist(c)["statistics"].update(sharpness_samples=4096),
        f"'{E}.mnist_underfit.statistics.sharpness_samples': 4096 is more than the 2048 samples",
    ),
    "sharpness rhythm off the estimates'": (
        lambda c: mnist(c)["statistics"].update(sharpness_every=3),
        f"'{E}.mnist_underfit.statistics.sharpness_every': 3 is not a multiple of statistics.every",
    ),
    "exact noise in train mode": (
        lambda c: mnist(c)["statistics"].update(mode="train"),
        f"'{E}.mnist_underfit.statistics.noise': per_sample needs mode eval",
    ),
    "sample-size sharpness at a size not studied": (
        lambda c: mnist(c)["sample_size"].update(sharpness_sizes=[64, 300]),
        f"'{E}.mnist_underfit.sample_size.sharpness_sizes': [300] are not in sample_size.sizes",
    ),
    "milestone after the run": (
        lambda c: schedule(c, "digits_overfit", "multistep").update(milestones_epochs=[15, 40]),
        f"'{E}.digits_overfit.schedules.multistep.milestones_epochs': [40] at or after the end",
    ),
    "step decay never reached": (
        lambda c: schedule(c, "mnist_underfit", "step").update(every_epochs=30),
        f"'{E}.mnist_underfit.schedules.step.every_epochs': 30 is not shorter than the run",
    ),
    "cosine horizon beyond the run": (
        lambda c: schedule(c, "wikipedia_transformerxl", "cosine").update(total_steps=5000),
        f"'{E}.wikipedia_transformerxl.schedules.cosine.total_steps': 5000 differs from the "
        "run's 543 steps",
    ),
    "model key of another model": (
        lambda c: mnist(c)["model"].update(hidden=[16]),
        f"'{E}.mnist_underfit.model': ['hidden'] are not options of model cnn_8_16; its "
        "options: none",
    ),
    "resize that does not divide the images": (
        lambda c: mnist(c)["data"].update(resize=10),
        f"'{E}.mnist_underfit.data.resize': 10 does not divide the 28-pixel images of mnist5k; "
        "allowed: [1, 2, 4, 7, 14, 28]",
    ),
    "data option of another data set": (
        lambda c: mnist(c)["data"].update(revision="b08601e"),
        f"'{E}.mnist_underfit.data': ['revision'] are not options of data set mnist5k; its "
        "options: augment, label_noise, resize",
    ),
    "cutoffs out of order": (
        lambda c: transformer(c)["model"].update(cutoffs=[2000, 1000]),
        f"'{E}.wikipedia_transformerxl.model.cutoffs': [2000, 1000] must increase",
    ),
    "misspelt top-level key": (
        lambda c: c.update(figure=c.pop("figures")),
        "unknown key(s) ['figure'] at the top level",
    ),
    "missing study name": (
        lambda c: c.pop("study"),
        "missing key(s) ['study'] at the top level",
    ),
    "misspelt schedule key": (
        lambda c: schedule(c, "mnist_underfit", "const_0.1").update(learning_rate=0.1),
        f"unknown key(s) ['learning_rate'] under '{E}.mnist_underfit.schedules.const_0.1'",
    ),
    "unknown schedule kind": (
        lambda c: schedule(c, "mnist_underfit", "step").update(kind="stepwise"),
        f"'{E}.mnist_underfit.schedules.step.kind': 'stepwise' is not allowed; choose one of",
    ),
    "negative learning rate": (
        lambda c: schedule(c, "mnist_underfit", "const_0.1").update(lr=-0.1),
        f"'{E}.mnist_underfit.schedules.const_0.1.lr': -0.1 is less than or equal to",
    ),
    "learning rate as text": (
        lambda c: schedule(c, "mnist_underfit", "const_0.1").update(lr="1e-1x"),
        f"'{E}.mnist_underfit.schedules.const_0.1.lr': '1e-1x' is not of type 'number'",
    ),
    "batch size zero": (
        lambda c: mnist(c).update(batch_size=0),
        f"'{E}.mnist_underfit.batch_size': 0 is less than the minimum of 1",
    ),
    "unknown model": (
        lambda c: mnist(c)["model"].update(name="resnet50"),
        f"'{E}.mnist_underfit.model.name': 'resnet50' is not allowed; choose one of",
    ),
    "unknown data set": (
        lambda c: mnist(c)["data"].update(name="mnist"),
        f"'{E}.mnist_underfit.data.name': 'mnist' is not allowed; choose one of",
    ),
    "unknown figure": (
        lambda c: c["figures"].append("fig99"),
        "'figures[13]': 'fig99' is not allowed; choose one of",
    ),
    "unknown W&B mode in the config": (
        lambda c: c["wandb"].update(mode="sometimes"),
        "'wandb.mode': 'sometimes' is not allowed; choose one of",
    ),
    "both epochs and max_steps": (
        lambda c: mnist(c).update(max_steps=100),
        "exactly one of epochs and max_steps",
    ),
    "empty seed list": (
        lambda c: mnist(c).update(seeds=[]),
        f"'{E}.mnist_underfit.seeds': [] should be non-empty",
    ),
    "figure without its sources": (
        lambda c: c["figure_sources"].pop("fig7"),
        "'figures' lists fig7 but 'figure_sources.fig7' is missing",
    ),
    "figure drawing a missing experiment": (
        lambda c: c["figure_sources"]["fig7"][0].update(experiment="digits"),
        "'figure_sources.fig7[0].experiment': 'digits' is not an experiment; defined:",
    ),
    "figure drawing a missing schedule": (
        lambda c: c["figure_sources"]["fig7"][0].update(schedules=["step"]),
        "'figure_sources.fig7[0].schedules': 'step' is not a schedule of digits_overfit; "
        "defined: ['multistep']",
    ),
    "branch from a branch": (
        lambda c: schedule(c, "mnist_underfit", "branch_0.01")["from_checkpoint"].update(
            schedule="branch_0.05"
        ),
        f"'{E}.mnist_underfit.schedules.branch_0.01.from_checkpoint.schedule': 'branch_0.05' "
        "is not an ordinary schedule of mnist_underfit",
    ),
    "sample-size figure without a sample-size study": (
        lambda c: c["figure_sources"]["fig8"][0].update(experiment="digits_overfit"),
        "'figure_sources.fig8[0]': fig8 needs 'experiments.digits_overfit.sample_size'",
    ),
}

DEMO_TEXT = (REPO / "config" / "demo.yaml").read_text()
SCHEDULE_LINE = '      const_0.1: {kind: constant, lr: 0.1, label: "constant η = 0.1"}'

# name -> (the config file's text, a regular expression its refusal must match)
TEXT_EDITS = {
    "YAML syntax error": (
        DEMO_TEXT.replace("schedules: [step]}]", "schedules: [step}]"),
        r"bad\.yaml, line 10, column \d+: ",
    ),
    "schedule given twice": (
        DEMO_TEXT.replace(SCHEDULE_LINE, f"{SCHEDULE_LINE}\n      const_0.1: {{kind: constant}}"),
        r"bad\.yaml, line \d+, column 7: key 'const_0\.1' given twice \(first on line \d+\)",
    ),
    "top-level key given twice": (
        DEMO_TEXT + "\nstudy: demo2\n",
        r"bad\.yaml, line \d+, column 1: key 'study' given twice \(first on line 4\)",
    ),
    "config that is not a mapping": (
        "- study: demo\n",
        r"bad\.yaml: a config is a mapping of keys, not list",
    ),
}

# name -> (workflow target, words its refusal must contain)
TARGETS = {
    "seed not in the config": (
        "results/demo/runs/mnist_underfit/const_0.1/seed7/manifest.tsv",
        "seed7 is not a run of this study",
    ),
    "schedule of another experiment": (
        "results/demo/runs/digits_overfit/const_0.1/seed0/manifest.tsv",
        "runs of digits_overfit: digits",
    ),
    "step that is not a checkpoint": (
        "results/demo/stats/mnist_underfit/const_0.1/seed0/step00000007.parquet",
        "no checkpoint at step 7",
    ),
    "figure the study does not draw": (
        "fig99",
        "unknown target 'fig99'; figures of this study: fig1, fig2",
    ),
}


def first_line_with(output: str, words: str) -> str:
    """The line of ``output`` holding ``words`` (or its last line), for the table."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    hits = [line for line in lines if words in line]
    return (hits or lines or ["(nothing)"])[-1 if not hits else 0]


def refusals(config_text: str | None, target: str, workdir: Path) -> tuple[str, str]:
    """(what `stationarity validate` prints, what a dry run prints) for a config or a target."""
    base = [sys.executable, "-m", "snakemake", "--cores", "1", "-n", "--directory", str(workdir)]
    if config_text is None:
        command = [*base, "--profile", "local", target]
        validate = None
    else:
        path = workdir / "bad.yaml"
        workdir.mkdir(parents=True, exist_ok=True)
        path.write_text(config_text)
        command = [*base, "--configfile", str(path), "--replace-workflow-config", target]
        validate = [sys.executable, "-m", "stationarity", "validate", str(path)]
    run = dict(cwd=REPO, capture_output=True, text=True, check=False, timeout=300)
    said = subprocess.run(validate, **run) if validate else None
    dry = subprocess.run(command, **run)
    return (said.stdout + said.stderr if said else "", dry.stdout + dry.stderr)


def table() -> str:
    """Every case with what `validate` and the workflow say, as Markdown."""
    rows = ["| case | `stationarity validate` | workflow (dry run) |", "|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            (name, yaml.safe_dump(_edited(edit), allow_unicode=True), "all", words)
            for name, (edit, words) in CONFIG_EDITS.items()
        ]
        cases += [(name, text, "all", "bad.yaml") for name, (text, _) in TEXT_EDITS.items()]
        cases += [(name, None, target, words) for name, (target, words) in TARGETS.items()]
        for i, (name, text, target, words) in enumerate(cases):
            said, dry = refusals(text, target, Path(tmp) / str(i))
            cell = first_line_with(said, words) if text is not None else "—"
            rows.append(f"| {name} | {cell} | {first_line_with(dry, words)} |")
    return "\n".join(row.replace("\n", " ") for row in rows)


def _edited(edit) -> dict:
    config = demo_config()
    edit(config)
    return config


if __name__ == "__main__":
    print(table())

"""Checks the schema cannot express: finite numbers, schedules inside their run, data-set limits.

Each returns one message per problem, naming the key path, the value and what is allowed.
"""

import math

from ..data.catalog import CATALOG


def nonfinite_errors(node, path: str = "") -> list[str]:
    """Every NaN or infinite number in the config (YAML's .nan and .inf)."""
    if isinstance(node, float) and not math.isfinite(node):
        return [f"'{path}': {node} is not a finite number"]
    if isinstance(node, dict):
        items = ((f"{path}.{key}" if path else str(key), value) for key, value in node.items())
    elif isinstance(node, list):
        items = ((f"{path}[{i}]", value) for i, value in enumerate(node))
    else:
        return []
    return [message for key, value in items for message in nonfinite_errors(value, key)]


def steps_per_epoch(experiment: dict) -> int | None:
    """Optimisation steps in an epoch, where the data set's size is known before download."""
    entry = CATALOG.get(experiment["data"]["name"])
    if entry is None or entry.train_size is None:
        return None
    return math.ceil(entry.train_size / experiment["batch_size"])


def run_length(experiment: dict, schedule: dict) -> tuple[float | None, int | None]:
    """(epochs, steps) of a schedule's runs, each None where it is not known before download."""
    per_epoch = steps_per_epoch(experiment)
    epochs = schedule.get("epochs", experiment.get("epochs"))
    if epochs is not None and "epochs" not in schedule and experiment.get("max_steps"):
        epochs = None  # the experiment is measured in steps
    if epochs is not None:
        return epochs, epochs * per_epoch if per_epoch else None
    steps = experiment.get("max_steps")
    return (steps / per_epoch if per_epoch and steps else None), steps


def schedule_errors(name: str, experiment: dict) -> list[str]:
    """Milestones and step boundaries beyond the run, and a cosine horizon other than the run's."""
    problems = []
    for schedule_name, schedule in experiment["schedules"].items():
        key = f"experiments.{name}.schedules.{schedule_name}"
        epochs, steps = run_length(experiment, schedule)
        late = [m for m in schedule.get("milestones_epochs", []) if epochs and m >= epochs]
        if late:
            problems.append(
                f"'{key}.milestones_epochs': {late} at or after the end of the run "
                f"({epochs:g} epochs); milestones must fall inside it"
            )
        every = schedule.get("every_epochs")
        if every is not None and epochs and every >= epochs:
            problems.append(
                f"'{key}.every_epochs': {every} is not shorter than the run ({epochs:g} epochs): "
                "the rate would never change"
            )
        horizon = schedule.get("total_steps")
        if horizon is not None and steps and horizon != steps:
            problems.append(
                f"'{key}.total_steps': {horizon} differs from the run's {steps} steps; "
                "set it to the run's length"
            )
    return problems


def data_limit_errors(name: str, experiment: dict) -> list[str]:
    """Sample counts beyond the training set, for data sets whose size is known before download."""
    entry = CATALOG.get(experiment["data"]["name"])
    if entry is None or entry.train_size is None:
        return []
    problems = []
    key = f"experiments.{name}"
    resize = experiment["data"].get("resize")
    if resize is not None and entry.side and entry.side % resize:
        divisors = [d for d in range(1, entry.side + 1) if entry.side % d == 0]
        problems.append(
            f"'{key}.data.resize': {resize} does not divide the {entry.side}-pixel images of "
            f"{entry.name}; allowed: {divisors}"
        )
    samples = experiment.get("statistics", {}).get("samples")
    if samples is not None and samples > entry.train_size:
        problems.append(
            f"'{key}.statistics.samples': {samples} is more than the {entry.train_size} "
            f"training samples of {entry.name}"
        )
    sizes = experiment.get("sample_size", {}).get("sizes", [])
    beyond = [size for size in sizes if size > entry.train_size]
    if beyond:
        problems.append(
            f"'{key}.sample_size.sizes': {beyond} exceed the {entry.train_size} training samples "
            f"of {entry.name}"
        )
    return problems


# The options each model takes besides its name (a test keeps this in step with the builders).
TRANSFORMER_XL = ("n_layer", "d_model", "n_head", "d_head", "d_inner", "dropout", "dropatt")
MODEL_OPTIONS = {
    "resnet101": (), "resnet18": (), "cifar_resnet18": (), "cnn_8_16": (), "cnn_16_32_bn": (),
    "mlp": ("hidden",),
    "transformer_xl": (*TRANSFORMER_XL, "mem_len", "cutoffs"),
}  # fmt: skip


def model_errors(name: str, experiment: dict) -> list[str]:
    """Model keys that the chosen model does not take."""
    model = experiment["model"]
    allowed = MODEL_OPTIONS.get(model["name"], ())
    foreign = sorted(set(model) - {"name", *allowed})
    problems = []
    if foreign:
        problems.append(
            f"'experiments.{name}.model': {foreign} are not options of model {model['name']}; "
            f"its options: {', '.join(allowed) or 'none'}"
        )
    cutoffs = model.get("cutoffs", [])
    if list(cutoffs) != sorted(cutoffs):
        problems.append(f"'experiments.{name}.model.cutoffs': {cutoffs} must increase")
    return problems


def data_option_errors(name: str, experiment: dict) -> list[str]:
    """Data keys that the chosen data set does not take (a revision of a set not from the Hub)."""
    data = experiment["data"]
    entry = CATALOG.get(data["name"])
    foreign = sorted(set(data) - {"name", "root", *entry.options}) if entry else []
    if not foreign:
        return []
    return [
        f"'experiments.{name}.data': {foreign} are not options of data set {entry.name}; "
        f"its options: {', '.join(sorted(entry.options)) or 'none'}"
    ]


def statistics_errors(name: str, experiment: dict) -> list[str]:
    """A sharpness subset larger than the samples, a sharpness rhythm off the estimates', an exact
    noise in train mode, and sample-size sharpness sizes outside the study's sizes."""
    statistics, key = experiment["statistics"], f"experiments.{name}"
    problems = []
    k = statistics.get("sharpness_samples")
    if k is not None and k > statistics["samples"]:
        problems.append(
            f"'{key}.statistics.sharpness_samples': {k} is more than the {statistics['samples']} "
            "samples it is drawn from (statistics.samples)"
        )
    every, sharpness_every = statistics.get("every", 1), statistics.get("sharpness_every")
    if sharpness_every is not None and sharpness_every % every:
        problems.append(
            f"'{key}.statistics.sharpness_every': {sharpness_every} is not a multiple of "
            f"statistics.every ({every}); sharpness is measured only where an estimate runs"
        )
    noise = statistics.get("noise", "per_sample")
    if statistics.get("mode") == "train" and noise in ("per_sample", "per_token"):
        problems.append(
            f"'{key}.statistics.noise': {noise} needs mode eval (train-mode BatchNorm and dropout "
            "mix or vary the samples); with mode train use noise: minibatch"
        )
    study = experiment.get("sample_size", {})
    stray = sorted(set(study.get("sharpness_sizes", [])) - set(study.get("sizes", [])))
    if stray:
        problems.append(
            f"'{key}.sample_size.sharpness_sizes': {stray} are not in sample_size.sizes "
            f"{study['sizes']}"
        )
    return problems


def run_errors(config: dict) -> list[str]:
    """Every model, schedule, data-option, data-limit and statistics problem of the config's
    experiments."""
    checks = (
        model_errors,
        schedule_errors,
        data_option_errors,
        data_limit_errors,
        statistics_errors,
    )
    return [
        message
        for name, experiment in config.get("experiments", {}).items()
        for check in checks
        for message in check(name, experiment)
    ]

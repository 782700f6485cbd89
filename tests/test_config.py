"""The config schema accepts the shipped configs and rejects each kind of bad key by name."""

import copy

import pytest
import yaml

from stationarity.config import SCHEMA_PATH, ConfigError, validate_config


@pytest.fixture
def schema():
    return SCHEMA_PATH


@pytest.fixture
def demo(repo):
    return yaml.safe_load((repo / "config" / "demo.yaml").read_text())


@pytest.mark.parametrize("name", ["config.yaml", "demo.yaml"])
def test_shipped_configs_are_valid(repo, schema, name):
    validate_config(yaml.safe_load((repo / "config" / name).read_text()), schema)


def edit(config, path, value):
    """A copy of config with the key at path (a tuple) set to value, or deleted if value is ...."""
    config = copy.deepcopy(config)
    node = config
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return config


BAD = [
    (
        ("synthetic", "sine", "step_size"),
        [0.1],
        "unknown key(s) ['step_size'] under 'synthetic.sine'",
    ),
    (("studdy",), "x", "unknown key(s) ['studdy'] at the top level"),
    (("synthetic", "sine", "step_sizes"), [0.01, -0.04], "'synthetic.sine.step_sizes[1]'"),
    (("synthetic", "sine", "iterations"), "many", "'synthetic.sine.iterations'"),
    (("synthetic", "sine", "start"), [1.0], "'synthetic.sine.start'"),
    (("figures",), ["fig5", "fig99"], "'figures[1]': 'fig99' is not allowed; choose one of"),
    (("wandb", "mode"), "sometimes", "'wandb.mode': 'sometimes' is not allowed"),
    (("study",), "my study", "'study'"),
    (("synthetic", "lemma2"), ..., "missing key(s) ['lemma2'] under 'synthetic'"),
    (("synthetic", "lemma2", "windows"), [0], "'synthetic.lemma2.windows[0]'"),
    (
        ("experiments", "mnist_underfit", "schedules", "step", "kind"),
        "stepwise",
        "'experiments.mnist_underfit.schedules.step.kind': 'stepwise' is not allowed; choose one",
    ),
    (
        ("experiments", "mnist_underfit", "schedules", "step", "every_epochs"),
        ...,
        "missing key(s) ['every_epochs'] under 'experiments.mnist_underfit.schedules.step'",
    ),
    (
        ("experiments", "mnist_underfit", "optimizer", "lr"),
        0.1,
        "unknown key(s) ['lr'] under 'experiments.mnist_underfit.optimizer'",
    ),
    (
        ("experiments", "digits_overfit", "data", "name"),
        "mnist",
        "'experiments.digits_overfit.data.name': 'mnist' is not allowed",
    ),
    (("experiments", "digits_overfit", "max_steps"), 100, "exactly one of epochs and max_steps"),
    (("experiments", "bad name"), {}, "'bad name' does not match"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD)
def test_schema_rejects_bad_key_naming_it(demo, schema, path, value, message):
    with pytest.raises(ConfigError) as error:
        validate_config(edit(demo, path, value), schema)
    assert message in str(error.value)


def test_every_schema_property_has_type_and_description(schema):
    def walk(node, where):
        if isinstance(node, dict) and "properties" in node:
            assert node.get("additionalProperties") is False, where
            for key, child in node["properties"].items():
                assert "description" in child and "type" in child, f"{where}.{key}"
                walk(child, f"{where}.{key}")
                walk(child.get("items"), f"{where}.{key}[]")

    document = yaml.safe_load(schema.read_text())
    walk(document, "config")
    for name, definition in document["$defs"].items():
        walk(definition, f"$defs.{name}")

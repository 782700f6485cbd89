"""config/README.md documents exactly the keys of the config schema, no more and no fewer.

A documented key is a backticked path in the first cell of a table row whose header's first cell
starts with "key"; a header such as "key under `synthetic`" prefixes the paths of its table. In
paths, entries of a map of named entries are written `<experiment>`, `<schedule>` or `<figure>`,
and each entry of a list `[]`, e.g. `figure_sources.<figure>[].experiment`.
"""

import re

import pytest
import yaml

from stationarity.config import SCHEMA_PATH

# The placeholder of the named entries of each map of the schema (additionalProperties or
# patternProperties with a schema), by the map's key.
PLACEHOLDERS = {
    "figure_sources": "<figure>",
    "experiments": "<experiment>",
    "schedules": "<schedule>",
}

# Subschemas whose properties are keys of the same object (an `if` only tests, `not` forbids).
SAME_OBJECT = ("allOf", "anyOf", "oneOf", "then", "else")

BACKTICKED = re.compile(r"`([^`]+)`")


def schema_keys(schema: dict) -> set[str]:
    """Every key path of the schema, with placeholders for named entries and `[]` for lists."""
    keys: set[str] = set()

    def resolve(node):
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), f"only local $ref are supported: {ref}"
            target = schema
            for part in ref[2:].split("/"):
                target = target[part]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return node

    def walk(node, path: str, name: str | None) -> None:
        node = resolve(node)
        if not isinstance(node, dict):
            return
        for key, child in node.get("properties", {}).items():
            keys.add(f"{path}.{key}" if path else key)
            walk(child, f"{path}.{key}" if path else key, key)
        entries = list(node.get("patternProperties", {}).values())
        if isinstance(node.get("additionalProperties"), dict):
            entries.append(node["additionalProperties"])
        for child in entries:
            assert name in PLACEHOLDERS, f"'{path}' holds named entries: add it to PLACEHOLDERS"
            keys.add(f"{path}.{PLACEHOLDERS[name]}")
            walk(child, f"{path}.{PLACEHOLDERS[name]}", None)
        items = node.get("items")
        for child in [items, *node.get("prefixItems", [])]:
            walk(child, f"{path}[]", None)
        for combinator in SAME_OBJECT:
            children = node.get(combinator, [])
            for child in children if isinstance(children, list) else [children]:
                walk(child, path, name)

    walk(schema, "", None)
    return keys


def readme_keys(text: str) -> set[str]:
    """Every key path documented in the key tables of config/README.md."""
    keys: set[str] = set()
    lines = text.splitlines()
    prefix = None  # None outside a key table
    for i, line in enumerate(lines):
        if not line.startswith("|"):
            prefix = None
            continue
        first = line.strip("|").split("|")[0].strip()
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", following.strip()):  # a header row
            prefix = None
            if first.startswith("key"):
                under = BACKTICKED.findall(first)
                prefix = f"{under[0]}." if under else ""
            continue
        if prefix is None or re.fullmatch(r"(\s*:?-+:?\s*)", first):
            continue
        cell_keys = BACKTICKED.findall(first)
        assert cell_keys, f"config/README.md: a key row without a backticked key: {line[:80]}"
        keys.update(prefix + key for key in cell_keys)
    return keys


@pytest.fixture
def documented(repo) -> set[str]:
    return readme_keys((repo / "config" / "README.md").read_text())


@pytest.fixture
def defined() -> set[str]:
    return schema_keys(yaml.safe_load(SCHEMA_PATH.read_text()))


def test_every_schema_key_is_documented(defined, documented):
    missing = sorted(defined - documented)
    assert not missing, f"keys of the schema missing from config/README.md: {missing}"


def test_every_documented_key_is_in_the_schema(defined, documented):
    unknown = sorted(documented - defined)
    assert not unknown, f"keys documented in config/README.md but not in the schema: {unknown}"


def test_schema_walk_finds_nested_keys(defined):
    # The walk reaches map entries, $ref definitions and list items, not just the top level.
    for key in (
        "wandb.mode",
        "experiments.<experiment>.data.root",
        "experiments.<experiment>.schedules.<schedule>.from_checkpoint.at",
        "figure_sources.<figure>[].experiment",
    ):
        assert key in defined


def test_readme_parser_reads_prefixed_tables():
    text = (
        "| key | meaning |\n|---|---|\n| `a`, `b.c` | x |\n\n"
        "| key under `d.<e>` | meaning |\n|---|---|\n| `f` / `g` | `not.a.key` |\n\n"
        "| figure | shows |\n|---|---|\n| `fig1` | y |\n"
    )
    assert readme_keys(text) == {"a", "b.c", "d.<e>.f", "d.<e>.g"}

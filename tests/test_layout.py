"""The house rules: parts import one way, files stay short, few modules sit flat in the package."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "stationarity"
# What each part may import besides itself. Flat modules are parts of their own; a dotted name
# allows one module of a part (planning reads the torch-free run spec, not the training loop).
ALLOWED = {
    "__main__": {"cli"},
    "cli": {"config", "plan", "jobs", "bench"},
    "jobs": {
        "config",
        "plan",
        "training",
        "estimators",
        "tables",
        "figures",
        "tracking",
        "data",
        "models",
        "synthetic",
        "files",
        "provenance",
        "progress",
    },
    "plan": {"config", "training.spec", "training.schedules", "data.catalog", "files"},
    "config": {"data.catalog"},
    "training": {"data", "models", "tracking", "files", "seeding", "provenance", "progress"},
    "estimators": {"models"},
    "figures": {"tables", "files"},
    "bench": {"estimators", "training", "models", "data", "config", "provenance"},
    "tables": {"files"},
    "data": {"files", "seeding"},
    "tracking": set(),
    "models": set(),
    "synthetic": set(),
    "files": set(),
    "seeding": set(),
    "provenance": set(),
    "progress": set(),
    "__init__": set(),
}
CODE_SUFFIXES = {".py", ".smk", ".yaml", ".md", ".sh", ".rst", ".toml"}
SKIP = {".git", ".venv", "results", "data", ".snakemake", ".pytest_cache", ".ruff_cache"}


def module_name(path: Path) -> str:
    """The dotted module name below the package: ``training.loop``, ``files``, ``jobs``."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def is_module(name: str) -> bool:
    """Whether a dotted name below the package is a module or package (not an attribute)."""
    path = PACKAGE.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or path.is_dir()


def imported_modules(path: Path) -> set[str]:
    """The package modules a file imports (anywhere in it), as dotted names below the package."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            target = [*base, *(node.module.split(".") if node.module else [])]
            names = [".".join([*target, alias.name]) for alias in node.names]
            if node.module:  # from .x import name: name is in module x
                names = [".".join(target)]
            found.update(name if is_module(name) else ".".join(target) for name in names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stationarity"):
            found.add(node.module.removeprefix("stationarity").lstrip("."))
        elif isinstance(node, ast.Import):
            found.update(
                alias.name.removeprefix("stationarity").lstrip(".")
                for alias in node.names
                if alias.name.startswith("stationarity")
            )
    return {name for name in found if name}


def edges() -> set[tuple[str, str, str]]:
    """(importing part, imported module, file) for every import across parts."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        part = module_name(path).split(".")[0]
        for target in imported_modules(path):
            if target.split(".")[0] != part:
                found.add((part, target, str(path.relative_to(REPO))))
    return found


def allowed(part: str, target: str) -> bool:
    """Whether ``part`` may import module ``target``."""
    names = target.split(".")
    return any(".".join(names[:k]) in ALLOWED[part] for k in range(1, len(names) + 1))


def test_every_import_across_parts_is_an_allowed_edge():
    bad = sorted(edge for edge in edges() if not allowed(edge[0], edge[1]))
    assert not bad, "imports against the layering: " + ", ".join(map(str, bad))


def test_parts_import_each_other_without_cycles():
    graph = {}
    for part, target, _ in edges():
        graph.setdefault(part, set()).add(target.split(".")[0])

    def reaches(start, goal, seen=()):
        return any(
            n == goal or (n not in seen and reaches(n, goal, (*seen, n)))
            for n in graph.get(start, ())
        )

    cycles = sorted(part for part in graph if reaches(part, part))
    assert not cycles, f"parts on an import cycle: {cycles}"


def test_the_layering_test_sees_a_forbidden_import():
    assert not allowed("models", "estimators.layer_rules")
    assert not allowed("plan", "training.loop") and allowed("plan", "training.spec")
    module = PACKAGE / "models" / "small.py"
    assert "estimators" not in {m.split(".")[0] for m in imported_modules(module)}


def test_every_part_of_the_package_is_listed():
    parts = {module_name(path).split(".")[0] for path in PACKAGE.rglob("*.py")}
    assert parts == set(ALLOWED)


def test_at_most_eight_modules_sit_flat_in_the_package():
    flat = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(flat) <= 8, flat


def repository_files():
    """Every text file of the repository that people read: code, rules, configs, docs."""
    for path in REPO.rglob("*"):
        relative = path.relative_to(REPO)
        if any(part in SKIP or part.endswith(".egg-info") for part in relative.parts):
            continue
        if path.is_file() and (
            path.suffix in CODE_SUFFIXES or path.name in ("Snakefile", "Makefile")
        ):
            yield path


@pytest.mark.parametrize("limit", [400])
def test_no_file_is_over_400_lines(limit):
    long = {
        str(p.relative_to(REPO)): n
        for p in repository_files()
        if (n := len(p.read_text().splitlines())) > limit
    }
    assert not long, long


def test_nothing_points_outside_the_repository():
    outside = ("../shared", "shared folder", "project notes", "DESIGN.md")
    hits = [
        f"{path.relative_to(REPO)}: {word}"
        for path in repository_files()
        if path != Path(__file__).resolve()
        for word in outside
        if word in path.read_text()
    ]
    assert not hits, hits

"""Packaging: ranges in pyproject.toml, exact versions in requirements.lock, and the rules' conda
environment generated from both."""

import functools
import importlib.util
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
RUNTIME = [Requirement(text) for text in PROJECT["dependencies"]]
DEV = [Requirement(text) for text in PROJECT["optional-dependencies"]["dev"]]
NOT_IN_RULES = {"snakemake", "snakemake-executor-plugin-slurm"}


def load_generator():
    """envs/generate.py as a module (envs/ is not a package)."""
    spec = importlib.util.spec_from_file_location("envs_generate", REPO / "envs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def lock() -> dict[str, Version]:
    """Canonical name → exact version of every line of requirements.lock."""
    versions = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            (spec,) = requirement.specifier  # exactly one `==`, nothing else
            assert spec.operator == "==", line
            versions[canonicalize_name(requirement.name)] = Version(spec.version)
    return versions


@pytest.mark.parametrize("requirement", RUNTIME + DEV, ids=str)
def test_every_dependency_has_a_lower_bound_and_the_next_major_as_upper(requirement):
    """`>=tested,<next major` (next minor for 0.x): new fixes come in, breaking releases do not."""
    bounds = {spec.operator: Version(spec.version) for spec in requirement.specifier}
    assert set(bounds) == {">=", "<"}, requirement
    low, high = bounds[">="], bounds["<"]
    expected = Version(f"0.{low.minor + 1}") if low.major == 0 else Version(f"{low.major + 1}")
    assert high == expected, f"{requirement}: upper bound should be <{expected}"


@pytest.mark.parametrize("requirement", RUNTIME + DEV, ids=str)
def test_the_lock_holds_every_dependency_at_a_version_inside_its_range(requirement):
    """What `make` installs is what the ranges allow."""
    locked = lock()
    name = canonicalize_name(requirement.name)
    assert name in locked, f"{requirement.name} is missing from requirements.lock"
    assert requirement.specifier.contains(locked[name], prereleases=True), (
        f"requirements.lock has {requirement.name}=={locked[name]}, outside {requirement}"
    )


def test_the_lock_leaves_out_pip_and_the_package_itself():
    """The lock holds dependencies: the package is installed editable, pip comes with the venv."""
    assert not {"pip", "stationarity"} & set(lock())


def test_the_conda_environment_is_what_generate_writes():
    """envs/stationarity.yaml is up to date: rerun `make envs/stationarity.yaml` when this fails."""
    text = (REPO / "envs" / "stationarity.yaml").read_text()
    assert text == load_generator().render(), "run `make envs/stationarity.yaml`"


def test_the_conda_environment_has_every_runtime_dependency_but_snakemake_at_the_lock():
    """Every rule's imports, at the tested version; Snakemake itself runs the jobs, not in them."""
    env = yaml.safe_load((REPO / "envs" / "stationarity.yaml").read_text())
    assert env["dependencies"][:2] == ["python=3.11", "pip"]
    pinned = [Requirement(text) for text in env["dependencies"][2]["pip"]]
    names = {canonicalize_name(r.name) for r in pinned}
    expected = {canonicalize_name(r.name) for r in RUNTIME} - NOT_IN_RULES
    assert names == expected
    assert "wandb-workspaces" in names
    locked = lock()
    for requirement in pinned:
        assert str(requirement.specifier) == f"=={locked[canonicalize_name(requirement.name)]}"


def test_generate_refuses_a_dependency_missing_from_the_lock(tmp_path):
    """A dependency added to pyproject.toml without `make lock` stops generation, naming it."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["numpy>=2,<3", "einops>=0.8,<0.9"]\n')
    lockfile = tmp_path / "requirements.lock"
    lockfile.write_text("# header\nnumpy==2.4.6\n")
    with pytest.raises(SystemExit, match="einops"):
        load_generator().render(pyproject, lockfile)

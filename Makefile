# `make demo` builds the demo study and its report; `make test` runs the test suite.
# Each creates .venv (pinned dependencies, the package in editable mode) when it is missing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint clean

$(BIN)/snakemake: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev]'
	touch $@

demo: $(BIN)/snakemake
	$(BIN)/snakemake --profile local all
	$(BIN)/snakemake --profile local --report results/demo/report.html

test: $(BIN)/snakemake
	$(BIN)/python -m pytest

lint: $(BIN)/snakemake
	$(BIN)/ruff check src tests workflow/scripts
	$(BIN)/ruff format --check src tests workflow/scripts
	$(BIN)/snakefmt --check Snakefile workflow
	$(BIN)/snakemake --lint

clean:
	rm -rf results .snakemake

# The two commands: `make run` (the main job) and `make test` (the whole suite).
# Each creates or reuses .venv and installs what it needs; only Python 3.11 is assumed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.symreg-installed

.PHONY: run test lint docs bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(BIN)/python -m pip check
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/symreg tradeoff --quick

test: $(STAMP)
	$(BIN)/python -m ruff check symreg tests benchmarks
	$(BIN)/python -m ruff format --check symreg tests benchmarks
	NO_MKDOCS_2_WARNING=1 SYMREG_DOCS_EXECUTE=false $(BIN)/python -m mkdocs build --strict --quiet
	$(BIN)/python -m pytest -n 2 -q

# The documentation site (mkdocs-material + mkdocstrings), built into site/, with the notebooks
# run so that their pages show outputs (a few minutes; `make test` builds it without running them).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 SYMREG_DOCS_EXECUTE=true $(BIN)/python -m mkdocs build --strict

lint: $(STAMP)
	$(BIN)/python -m ruff format symreg tests benchmarks
	$(BIN)/python -m ruff check --fix symreg tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

soak: $(STAMP)
	cd benchmarks && ../$(BIN)/python soak.py

clean:
	rm -rf $(VENV) build site *.egg-info

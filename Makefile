# `make train` and `make test` work on a fresh machine: each creates .venv when missing and
# installs the project into it first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install train test test-slow lint bench

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(INSTALLED)

install: $(INSTALLED)

train: $(INSTALLED)
	$(BIN)/python train.py --config configs/default.yaml

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

# Long learning runs; exit code 5 means no test is marked slow yet.
test-slow: $(INSTALLED)
	$(BIN)/python -m pytest -m slow || [ $$? -eq 5 ]

bench: $(INSTALLED)
	$(BIN)/python -m jaxik.bench env

# Two commands for a new user (README.md): `make demo` runs Svarfrist, `make test` tests it.
# Both create .venv themselves; nothing else needs installing by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[postgres,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m tracker.demo

lint: $(STAMP)
	$(BIN)/ruff check tracker tests bench
	$(BIN)/ruff format --check tracker tests bench
	$(BIN)/mypy --strict tracker

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/deadlines.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis demo

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
	$(BIN)/python -m tracker.cli.demo --serve

lint: $(STAMP)
	$(BIN)/ruff check tracker tests bench
	$(BIN)/ruff format --check tracker tests bench
	$(BIN)/mypy --strict tracker
	$(BIN)/lint-imports --no-cache

test: lint
	$(BIN)/pytest

# docs/benchmarks.md describes each bench/ script and its latest figures.
# The peers are installed only into .bench-venv, never into the project's dependencies. A peer
# that cannot be installed here is reported by the benchmark as "not installed".
BENCH_VENV := .bench-venv
BENCH_PEERS := workclock businesstimedelta pandas

bench:
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet -e .
	for peer in $(BENCH_PEERS); do \
		$(BENCH_VENV)/bin/pip install --quiet $$peer || echo "bench: cannot install $$peer" >&2; \
	done
	$(BENCH_VENV)/bin/python bench/deadlines.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis demo

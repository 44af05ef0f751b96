# Developer and CI entry points. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Rebuilt only when pyproject.toml changes, so `make test` is quick once installed.
STAMP := $(VENV)/.sluiceway-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: venv demo test test-faults lint test-pythons services bench clean distclean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: venv
	$(BIN)/sluiceway run examples/penguin/pipeline.py

# System services the tests start themselves (a throwaway PostgreSQL server, see tests/conftest.py).
# Debian installs the binaries under /usr/lib/postgresql/<version>/bin, not on the PATH.
services:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "PostgreSQL binaries present"; \
	else \
		echo "Installing PostgreSQL (Debian package postgresql) for the store tests"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	fi

test: venv services
	$(BIN)/python -m pytest

# The fault probes at their full counts (random kills, damaged stores, hostile inputs, the fuzzer budget),
# then the table of outcomes that RELIABILITY.md records. `make test` runs a fast subset of each.
test-faults: venv services
	rm -f .faults.jsonl
	SLUICEWAY_FAULTS_FULL=1 SLUICEWAY_FAULTS_REPORT=$(CURDIR)/.faults.jsonl $(BIN)/python -m pytest -q tests/faults; \
	status=$$?; cd tests/faults && $(CURDIR)/$(BIN)/python report.py $(CURDIR)/.faults.jsonl && exit $$status

# The linter and the type checker; `make test` runs them too once the tree passes them.
lint: venv
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/mypy

# The package supports CPython 3.10-3.13: run the core suite on each interpreter found (pyenv or PATH).
test-pythons:
	@set -e; for v in 3.10 3.12 3.13; do \
		py=$$(command -v python$$v || ls -d $$HOME/.pyenv/versions/$$v.*/bin/python 2>/dev/null | tail -n 1); \
		if [ -z "$$py" ]; then echo "python$$v not found: skipped"; continue; fi; \
		echo "== $$py"; $$py -m venv .venv-$$v; .venv-$$v/bin/pip install --quiet -e '.[dev]'; \
		.venv-$$v/bin/python -m pytest -q -p no:cacheprovider tests/dsl tests/runners/test_local.py tests/components tests/test_testing.py; \
	done

bench: venv
	@set -e; for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script; done

clean:
	rm -rf .sluiceway .pytest_cache .bench build dist $(STAMP)
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)

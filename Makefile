# Developer and CI entry points. `make demo`, `make test` and `make bench` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check
# Two install levels in one virtual environment, each redone only when pyproject.toml changes:
# the package and what the examples need (`make demo`), then the dev extras on top (`make test`).
EXAMPLES_STAMP := $(VENV)/.sluiceway-examples
DEV_STAMP := $(VENV)/.sluiceway-dev
# The core suite against the oldest versions of the core dependencies that pyproject.toml declares.
MIN_VENV := .venv-min
MIN_STAMP := $(MIN_VENV)/.sluiceway-min
CORE_SUITE := tests/dsl tests/runners/test_local.py tests/components tests/data tests/cli
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: venv demo test test-min test-faults lint test-pythons services orchestrators mlflow-venv bench-services bench clean distclean

venv: $(DEV_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(EXAMPLES_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[examples]'
	touch $@

# torch first, pinned to the CPU build (895 MB): left to the resolver, `torch>=2.5` may pull a multi-GB CUDA build.
TORCH_CPU := torch==2.13.0

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install '$(TORCH_CPU)'
	$(PIP) install -e '.[dev]'
	touch $@ $(EXAMPLES_STAMP)

# The penguin pipeline: needs the package, scikit-learn and the palmerpenguins data, not the dev tools.
demo: $(EXAMPLES_STAMP)
	$(BIN)/sluiceway run examples/penguin/pipeline.py

# System services the tests start themselves (a throwaway PostgreSQL server, see tests/conftest.py; a Redis
# server for the Celery runner, tests/runners/test_celery.py). Installing them starts nothing.
# Debian installs the PostgreSQL binaries under /usr/lib/postgresql/<version>/bin, not on the PATH.
services:
	@missing=""; \
	command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="postgresql"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	if [ -z "$$missing" ]; then \
		echo "PostgreSQL and Redis binaries present"; \
	else \
		echo "Installing Debian packages for the store and Celery tests:$$missing"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# Airflow and kfp pin packages the main venv cannot share (kfp: protobuf < 7), so each gets its own venv holding
# only the orchestrator; their tasks run the main venv's `sluiceway` (tests/export put it first on PATH).
AIRFLOW_VENV := .venv-airflow
KFP_VENV := .venv-kfp
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.sluiceway-airflow
KFP_STAMP := $(KFP_VENV)/.sluiceway-kfp
AIRFLOW_PIN := apache-airflow>=3.3,<3.4
KFP_PIN := kfp>=2.17,<2.18

orchestrators: $(AIRFLOW_STAMP) $(KFP_STAMP)

$(AIRFLOW_STAMP):
	test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip --quiet --disable-pip-version-check install '$(AIRFLOW_PIN)'
	touch $@

$(KFP_STAMP):
	test -x $(KFP_VENV)/bin/python || $(PYTHON) -m venv $(KFP_VENV)
	$(KFP_VENV)/bin/python -m pip --quiet --disable-pip-version-check install '$(KFP_PIN)'
	touch $@

# Pusher's MLflow registry destination is tested with MLflow in its own venv (it pins many packages);
# tests/components/test_pusher_mlflow.py runs its checks there.
MLFLOW_VENV := .bench/mlflow-venv
$(MLFLOW_VENV)/.sluiceway-mlflow: pyproject.toml
	test -x $(MLFLOW_VENV)/bin/python || $(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip --quiet --disable-pip-version-check install '.[mlflow,sklearn]' pandas
	touch $@

mlflow-venv: $(MLFLOW_VENV)/.sluiceway-mlflow

# What only `make bench` needs: Debian's wrk, the HTTP load generator of benchmarks/serve.py.
bench-services:
	@command -v wrk >/dev/null 2>&1 || { echo "Installing wrk (Debian package) for benchmarks/serve.py"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

# Everything the suite needs is installed above, so a skipped test here is a setup bug: it fails the run.
test: venv services lint orchestrators mlflow-venv
	SLUICEWAY_TEST_NO_SKIPS=1 $(BIN)/python -m pytest
	$(MAKE) --no-print-directory test-min

# pip constraints pin every core dependency to its declared minimum (.ci/lowest_requirements.py); the
# test extras resolve around them. A failure here means a minimum in pyproject.toml is too low: raise it.
$(MIN_STAMP): pyproject.toml .ci/lowest_requirements.py
	test -x $(MIN_VENV)/bin/python || $(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip --quiet --disable-pip-version-check install --upgrade pip
	$(PYTHON) .ci/lowest_requirements.py > $(MIN_VENV)/constraints.txt
	$(MIN_VENV)/bin/python -m pip --quiet --disable-pip-version-check install -c $(MIN_VENV)/constraints.txt -e '.[test]'
	touch $@

test-min: $(MIN_STAMP) services
	@echo "== core suite on the declared minimum versions:" $$(tr '\n' ' ' < $(MIN_VENV)/constraints.txt)
	$(MIN_VENV)/bin/python -m pytest -q -p no:cacheprovider $(CORE_SUITE)

# The fault probes at their full counts (random kills, damaged stores, hostile inputs, the fuzzer budget),
# then the table of outcomes that RELIABILITY.md records. `make test` runs a fast subset of each.
test-faults: venv services
	rm -f .faults.jsonl
	SLUICEWAY_FAULTS_FULL=1 SLUICEWAY_FAULTS_REPORT=$(CURDIR)/.faults.jsonl $(BIN)/python -m pytest -q tests/faults; \
	status=$$?; cd tests/faults && $(CURDIR)/$(BIN)/python report.py $(CURDIR)/.faults.jsonl && exit $$status

# The linter and the type checker; `make test` runs them first.
lint: venv
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/mypy

# The package supports CPython 3.10-3.13: run the core suite on each interpreter found (pyenv or PATH).
test-pythons:
	@set -e; for v in 3.10 3.12 3.13; do \
		py=$$(command -v python$$v || ls -d $$HOME/.pyenv/versions/$$v.*/bin/python 2>/dev/null | tail -n 1); \
		if [ -z "$$py" ]; then echo "python$$v not found: skipped"; continue; fi; \
		echo "== $$py"; $$py -m venv .venv-$$v; .venv-$$v/bin/pip install --quiet -e '.[test]'; \
		.venv-$$v/bin/python -m pytest -q -p no:cacheprovider tests/dsl tests/runners/test_local.py tests/components tests/test_testing.py; \
	done

# Each benchmark generates its data under .bench/ and installs its peers (TFDV, Evidently, Kedro, Dagster) in their
# own virtual environments there on first use; results go to benchmarks/RESULTS.md.
bench: venv bench-services
	$(BIN)/python benchmarks/orchestration.py
	$(BIN)/python benchmarks/stats_vs_tfdv.py --write-results
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/transform.py
	$(BIN)/python benchmarks/transform_rows.py
	$(BIN)/python benchmarks/predict.py
	$(BIN)/python benchmarks/evaluate.py
	$(BIN)/python benchmarks/serve.py
	$(BIN)/python benchmarks/drift.py --write-results
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/ingest_scale.py

clean:
	rm -rf .sluiceway .pytest_cache build dist $(EXAMPLES_STAMP) $(DEV_STAMP) $(MIN_STAMP) $(AIRFLOW_STAMP) $(KFP_STAMP)
	find . -path ./$(VENV) -prune -o -path ./$(MIN_VENV) -prune -o -path ./$(AIRFLOW_VENV) -prune -o -path ./$(KFP_VENV) -prune -o -path ./.bench -prune -o -name __pycache__ -type d -exec rm -rf {} +

# Also the virtual environments and the benchmarks' data and peer environments (.bench/, gigabytes).
distclean: clean
	rm -rf $(VENV) $(MIN_VENV) $(AIRFLOW_VENV) $(KFP_VENV) .bench

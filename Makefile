# Task runner. `make test` works on a fresh machine with only Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed
# The interpreter may run with PYTHONDONTWRITEBYTECODE=1 (this machine does), and
# then every start would recompile every module: compile once, as pip would.
COMPILE := $(PY) -m compileall -q -j0 flext_infra tap_flext_api target_flext_oracle >/dev/null

.PHONY: setup demo test lint typecheck pytest clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check uv
	$(UV) pip install --quiet --compile-bytecode --python $(PY) -e . --group dev
	@$(COMPILE)
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv and install the project with its dev group

demo: setup  ## sample API -> tap-flext-api -> target-flext-oracle -> SQLite; logs to output/demo.log, then the run summary
	$(PY) scripts/demo.py

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

pytest: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck pytest  ## lint, type-check and run the whole test suite

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

.PHONY: bench
bench: setup  ## tap, target and end-to-end benchmarks vs the peers (BENCH_ARGS=--quick for a smoke run)
	@$(COMPILE)
	$(PY) -m benchmarks $(BENCH_ARGS)

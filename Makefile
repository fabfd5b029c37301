# paindiary — `make run` serves the API on http://127.0.0.1:8000 (docs at /docs);
# `make test` runs lint, types and the whole suite (on PostgreSQL too when
# PAINDIARY_TEST_POSTGRES_URL is set).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install tools run migrate demo test lint format lock audit bench clean

$(BIN)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "paindiary needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,bench]"
	@touch $@

install: $(BIN)/.installed

# The Node.js tools of the OpenAPI client checks (tests/openapi), as tools/package-lock.json
# pins them. (openapi-generator comes with the Python dev dependencies and runs on Java.)
TOOLS := tools/node_modules/.installed

$(TOOLS): tools/package.json tools/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make: npm is missing: install Node.js >= 20.19 with npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	npm ci --prefix tools --no-audit --no-fund
	@touch $@

tools: $(TOOLS)

run: install
	PAINDIARY_DEV_MODE=$${PAINDIARY_DEV_MODE:-true} $(BIN)/paindiary serve --host $(HOST) --port $(PORT)

migrate: install
	PAINDIARY_DEV_MODE=$${PAINDIARY_DEV_MODE:-true} $(BIN)/paindiary migrate

demo: install
	PAINDIARY_DEV_MODE=$${PAINDIARY_DEV_MODE:-true} $(BIN)/paindiary demo

lint: install
	$(BIN)/ruff check app tests migrations bench
	$(BIN)/ruff format --check app tests migrations bench
	$(BIN)/lint-imports
	$(BIN)/mypy app bench tests

# Two workers (one database of each kind per worker): the suite is mostly waiting on I/O.
test: lint $(TOOLS)
	$(BIN)/pytest -q -n 2

format: install
	$(BIN)/ruff check --fix app tests migrations bench
	$(BIN)/ruff format app tests migrations bench

# Re-pin every dependency after changing pyproject.toml.
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --upgrade pip
	.lockenv/bin/python -m pip install --quiet ".[dev,bench]"
	.lockenv/bin/python -m pip freeze --exclude paindiary > constraints.txt
	rm -rf .lockenv

# Known vulnerabilities in the pinned versions of constraints.txt, read from the file alone
# (no install). Needs network access to PyPI's JSON API; --strict fails when a package could
# not be checked, instead of reporting "No known vulnerabilities found" for it.
audit: install
	$(BIN)/pip-audit --strict --no-deps --disable-pip --progress-spinner off -r constraints.txt

# Throughput and latency ratios against the bare framework, the framework-free ceiling and a
# tutorial-style endpoint
# (needs wrk: apt-get install wrk; PostgreSQL at PAINDIARY_BENCH_POSTGRES_URL or 127.0.0.1).
bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info tools/node_modules

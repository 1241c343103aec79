# Stepline — one entry point for people and CI.
#   make dev     run the whole stack on this machine (PORT=8080, AWS_PORT=4566)
#   make test    lint, type-check, unit + integration + end-to-end tests, SAM validate and build
#   make bench   print the benchmark figures

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8080
AWS_PORT ?= 4566
SOURCES := src functions tests bench

export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: install dev test lint typecheck pytest sam bench clean console

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

dev: install
	$(BIN)/stepline dev --port $(PORT) --aws-port $(AWS_PORT)

lint: install
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest -n 2 --dist loadfile -q

sam: install
	$(BIN)/sam validate --lint
	$(BIN)/sam build --build-dir .aws-sam/build

test: lint typecheck pytest sam

bench: install
	$(BIN)/python -m stepline.bench list
	$(BIN)/python -m stepline.bench imports
	$(BIN)/python -m stepline.bench yawl
	$(BIN)/python -m stepline.bench speed

console:  # rebuild the web console's committed assets from web/ (needs Node.js and npm)
	cd web && npm ci && npm run build

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache

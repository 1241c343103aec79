# Stepline — one entry point for people and CI.
#   make dev      run the whole stack on this machine (PORT=8080, AWS_PORT=4566)
#   make test     lint, type-check, unit + integration + end-to-end tests, SAM validate and build
#   make openapi  write the API's OpenAPI document to docs/openapi.json
#   make bench    print the benchmark figures
#
# Each target installs what it needs into $(VENV): `make dev` the package with its `local`
# extra (dev stack, CLI, console), `make test` the `dev` extra (which includes `local`), and
# Debian's Chromium for the browser tests when it is missing and this user may install it.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8080
AWS_PORT ?= 4566
SOURCES := src functions tests bench
# The browser tests drive this Chromium (tests/browser/conftest.py reads STEPLINE_CHROMIUM too).
CHROMIUM ?= $(or $(STEPLINE_CHROMIUM),/usr/bin/chromium)

# One stamp per extra, each older than pyproject.toml means "install again"; installing `dev`
# installs `local` too, so it refreshes both stamps.
LOCAL_STAMP := $(VENV)/.installed-local
DEV_STAMP := $(VENV)/.installed-dev

export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: install install-local dev test lint typecheck pytest sam bench clean console openapi protos \
	chromium

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "$(PYTHON) is required (the Lambda runtime in template.yaml): install it first" >&2; \
	  exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(LOCAL_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[local]'
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(LOCAL_STAMP)

install-local: $(LOCAL_STAMP)

install: $(DEV_STAMP)

dev: install-local
	$(BIN)/stepline dev --port $(PORT) --aws-port $(AWS_PORT)

lint: install
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

# Debian's chromium package, installed as root or with passwordless sudo; anyone else is told
# how in one line.
chromium:
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else echo "make test: the browser tests need Chromium at $(CHROMIUM); install it (Debian: sudo apt-get install chromium) or set STEPLINE_CHROMIUM to one, then run make test again" >&2; exit 1; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then echo "make test: the browser tests need Chromium at $(CHROMIUM) and there is no apt-get here to install it; install Chromium or set STEPLINE_CHROMIUM to one" >&2; exit 1; fi; \
	echo "Installing Debian's chromium for the browser tests"; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium >/dev/null

pytest: install chromium
	$(BIN)/pytest -n 2 --dist loadfile -q

sam: install
	$(BIN)/sam validate --lint
	$(BIN)/sam build --build-dir .aws-sam/build

test: lint typecheck pytest sam

openapi: install-local
	$(BIN)/python -m stepline.api.openapi docs/openapi.json

bench: install-local
	$(BIN)/python -m stepline.bench list
	$(BIN)/python -m stepline.bench imports
	$(BIN)/python -m stepline.bench yawl
	$(BIN)/python -m stepline.bench speed

protos: install  # regenerate the committed Python of the gRPC extensions from their .proto
	$(BIN)/python -m stepline.gateway.protos

console:  # rebuild the web console's committed assets from web/ (needs Node.js and npm)
	cd web && npm ci && npm run build

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache

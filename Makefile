# regionlab: the two commands are `make demo` and `make test`.
# Every target bootstraps uv and syncs the locked environment first, so a fresh
# clone needs nothing but Python 3.11 and this Makefile.

SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
RUN := $(UV) run --frozen
PERSONS ?= 5000
SEED ?= 42
export REGIONLAB_VAR ?= $(CURDIR)/var
export DAGSTER_HOME ?= $(REGIONLAB_VAR)/dagster

.PHONY: help uv sync system-deps demo test test-fast ui labeling catalog notebook bench check lint clean

help:
	@echo "make demo      generate a small synthetic region, run every pipeline, build the catalogue"
	@echo "make test      install everything and run the whole test suite"
	@echo "make ui        Dagster UI on http://127.0.0.1:3000"
	@echo "make check     validate domains/"

uv:
	@command -v uv >/dev/null 2>&1 || [ -x "$(UV)" ] || $(PYTHON) -m pip install --quiet uv

sync: uv
	@$(UV) sync --frozen --quiet

# Debian packages the tests need (a real browser for the catalogue site).
system-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "installing chromium from Debian"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "warning: could not install chromium; browser tests will fail"; \
	fi

check: sync
	$(RUN) regionlab check

demo: sync
	$(RUN) regionlab demo --persons $(PERSONS) --seed $(SEED)

test: sync system-deps
	$(RUN) pytest -q

test-fast: sync
	$(RUN) pytest -q -m "not slow"

ui: sync
	@mkdir -p "$(DAGSTER_HOME)"
	$(RUN) dagster dev -h 127.0.0.1 -p 3000 -m pipelines.definitions

lint: sync
	$(RUN) ruff check .
	$(RUN) ruff format --check .

clean:
	rm -rf var/

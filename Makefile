# regionlab: the two commands are `make demo` and `make test`.
# Every target bootstraps uv and syncs the locked environment first, so a fresh
# clone needs nothing but Python 3.11 and this Makefile.

SHELL := /bin/bash
PYTHON ?= python3
# uv lives in a project-local tool environment whose path is known before it is
# installed (pip's own target depends on root/user/pyenv/venv, so it cannot be guessed).
UV_VERSION := 0.13.9
TOOLS := $(CURDIR)/.tools
UV := $(TOOLS)/bin/uv
RUN := $(UV) run --frozen
# uv trusts the platform's certificate store, as pip and curl do: a network whose TLS goes
# through a company or region CA (added to the system store) then works without extra setup.
export UV_SYSTEM_CERTS ?= 1
# npm (Node) does not read the system store by itself; add it where the platform has one.
SYSTEM_CA := /etc/ssl/certs/ca-certificates.crt
ifneq ($(wildcard $(SYSTEM_CA)),)
export NODE_EXTRA_CA_CERTS ?= $(SYSTEM_CA)
endif
PERSONS ?= 5000
SEED ?= 42
export REGIONLAB_VAR ?= $(CURDIR)/var
export DAGSTER_HOME ?= $(REGIONLAB_VAR)/dagster

.PHONY: help uv sync system-deps site-deps demo test test-fast ui labeling catalog notebook bench check lint clean

help:
	@echo "make demo      generate a small synthetic region, run every pipeline, build the catalogue"
	@echo "make test      install everything and run the whole test suite"
	@echo "make ui        Dagster UI on http://127.0.0.1:3000"
	@echo "make labeling  Label Studio with the demo labelling task"
	@echo "make catalog   build and serve the catalogue site"
	@echo "make notebook  JupyterLab with the researcher notebooks"
	@echo "make bench     benchmarks against their baselines (bench/RESULTS.md)"
	@echo "make check     validate domains/"

uv: $(UV)

$(UV):
	@echo "installing uv $(UV_VERSION) into .tools/"
	@$(PYTHON) -m venv "$(TOOLS)"
	@"$(TOOLS)/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# --compile-bytecode: the installed packages come with their .pyc files. Without them every
# fresh process compiles what it imports (Dagster + Great Expectations ≈ 6 s here) whenever
# the environment sets PYTHONDONTWRITEBYTECODE, as containers and CI machines often do.
sync: uv
	@$(UV) sync --frozen --quiet --compile-bytecode

# Debian packages the tests need (a real browser for the catalogue site).
system-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "installing chromium from Debian"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "warning: could not install chromium; browser tests will fail"; \
	fi

check: sync
	$(RUN) regionlab check

# The catalogue site's search library (MiniSearch), from the committed npm lock file.
site-deps:
	@[ -d catalog/site/node_modules/minisearch ] || npm ci --no-audit --no-fund --silent --prefix catalog/site

demo: sync site-deps
	$(RUN) regionlab demo --persons $(PERSONS) --seed $(SEED)

test: sync system-deps site-deps
	$(RUN) lint-imports
	$(RUN) pytest -q

test-fast: sync
	$(RUN) pytest -q -m "not slow"

ui: sync
	@mkdir -p "$(DAGSTER_HOME)"
	@[ -f "$(DAGSTER_HOME)/dagster.yaml" ] || printf 'telemetry:\n  enabled: false\n' > "$(DAGSTER_HOME)/dagster.yaml"
	$(RUN) dagster dev -h 127.0.0.1 -p 3000 -m pipelines.definitions

# Label Studio with the demo labelling task pushed (needs the demo lake).
labeling: sync
	@[ -f "$(REGIONLAB_VAR)/lake/catalog.sqlite" ] || $(RUN) regionlab demo --persons $(PERSONS) --seed $(SEED)
	$(RUN) regionlab labeling server start --from-template "$(REGIONLAB_VAR)/labelstudio/template"
	$(RUN) regionlab labeling push clinical_notes/notes entities
	$(RUN) regionlab labeling server status

# The catalogue site, built from the catalogue metadata and served on 127.0.0.1.
catalog: sync site-deps
	@[ -f "$(REGIONLAB_VAR)/catalog/metadata.json" ] || $(RUN) regionlab demo --persons $(PERSONS) --seed $(SEED)
	$(RUN) regionlab catalog site --serve --port 8080

# JupyterLab on 127.0.0.1 with the project's environment as the kernel.
notebook: sync
	$(RUN) jupyter lab --ServerApp.ip=127.0.0.1 --no-browser --ServerApp.root_dir=notebooks

bench: sync
	$(RUN) python -m bench.run

lint: sync
	$(RUN) ruff check .
	$(RUN) ruff format --check .

clean:
	rm -rf var/

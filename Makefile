# PRISME task runner: `make help` lists what a developer (and CI) can do.
# Everything installs into ./.venv with uv; `make up` and `make test` install first when needed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV       := .venv
BIN        := $(VENV)/bin
PYTHON     ?= python3
DATA_DIR   ?= ./.prisme
# extra `prisme up` options, e.g. make up UP_ARGS="--only contracts,billing --free-ports"
UP_ARGS    ?=
# pytest-xdist workers: the suite is sized for 2 cores (DESIGN.md §9)
JOBS       ?= 2
PYTEST_ARGS ?=
# a failed test runs once more; every rerun is listed at the end (RERUN …) as a flaky test to
# fix: on a shared 2-core machine a few of the 880 tests that start whole platforms time out
RERUNS     ?= --reruns 1 --reruns-delay 2 -rR
# extra options for every bench script, e.g. make bench BENCH_ARGS="--runs 1"
BENCH_ARGS ?=
# Debian packages the tests need, as <command>:<package>; installed only when the command is
# missing, and only with apt-get as root (otherwise a warning names what to install).
# command:package, or /absolute/path:package for a package that installs no command (fonts,
# colour profiles): billing's Factur-X embeds DejaVu Sans and an sRGB output intent (PDF/A);
# Chromium draws date fields in French (jj/mm/aaaa) only with its French resources (chromium-l10n).
APT_NEEDS  := restic:restic rclone:rclone nginx:nginx wrk:wrk hey:hey chromium:chromium \
              /usr/lib/chromium/locales/fr.pak:chromium-l10n \
              /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:fonts-dejavu-core \
              /usr/share/color/icc/sRGB.icc:icc-profiles-free

STAMP      := $(VENV)/.installed
LOCK_INPUTS := pyproject.toml $(wildcard uv.lock */pyproject.toml libs/*/pyproject.toml services/*/pyproject.toml)
# mypy --strict over every package of the workspace (libs, services, *-svc)
MYPY_ROOTS := $(wildcard libs/*/prisme_* services/*/prisme_* *-svc/prisme_*)
empty      :=
space      := $(empty) $(empty)
MYPY_PATH  := $(subst $(space),:,$(patsubst %/,%,$(sort $(dir $(MYPY_ROOTS)))))

.PHONY: help install up down status test lint format asyncapi bench clean distclean apt-packages

help: ## list the targets
	@echo "PRISME — make <target>"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(STAMP) apt-packages ## install everything into .venv (uv) plus the Debian packages tests use

$(STAMP): $(LOCK_INPUTS)
	@if ! command -v uv >/dev/null 2>&1 && ! $(PYTHON) -m uv --version >/dev/null 2>&1; then \
	  echo "installing uv with pip"; \
	  $(PYTHON) -m pip install --quiet uv || $(PYTHON) -m pip install --quiet --break-system-packages uv; \
	fi
	@UV="$$(command -v uv || echo "$(PYTHON) -m uv")"; \
	  $$UV sync --all-packages --inexact --compile-bytecode
	@touch $@

apt-packages:
	@missing=""; \
	for need in $(APT_NEEDS); do \
	  cmd="$${need%%:*}"; pkg="$${need##*:}"; \
	  case "$$cmd" in /*) found=$$([ -e "$$cmd" ] && echo y);; \
	    *) found=$$(command -v "$$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$$cmd" ] || [ -x "/usr/bin/$$cmd" ] && echo y);; esac; \
	  if [ -z "$$found" ]; then \
	    missing="$$missing $$pkg"; \
	  fi; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "apt-get install:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "warning: missing Debian packages:$$missing (install them as root; some tests need them)" >&2; \
	  fi; \
	fi

up: install ## run the whole platform locally (Ctrl-C stops it)
	$(BIN)/prisme up --data-dir $(DATA_DIR) $(UP_ARGS)

down: ## stop a `make up` that is still running or was killed
	$(BIN)/prisme down --data-dir $(DATA_DIR)

status: ## show what runs and whether it is ready
	$(BIN)/prisme status --data-dir $(DATA_DIR)

test: install ## run every test (unit, service, end-to-end, browser; the AsyncAPI document is current)
	@rc=0; $(BIN)/pytest -n $(JOBS) -q $(RERUNS) $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; \
	exit $$rc

lint: install ## ruff check, ruff format --check, mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	MYPYPATH=$(MYPY_PATH) $(BIN)/mypy $(MYPY_ROOTS)

format: install ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

asyncapi: install ## regenerate libs/events/asyncapi.json after changing an event model
	$(BIN)/python -m prisme_events.asyncapi

bench: install ## run every benchmark in bench/ five times (BENCH_ARGS="--runs 1" for one); ends with one table
	@summary="$$(mktemp)"; rc=0; \
	for script in bench/[!_]*.py; do \
	  [ -e "$$script" ] || { echo "no benchmark in bench/"; break; }; \
	  echo "== $$script"; \
	  PRISME_BENCH_SUMMARY="$$summary" $(BIN)/python "$$script" $(BENCH_ARGS) || { \
	    status=$$?; [ $$status -eq 3 ] || $(BIN)/python bench/_runs.py "$$summary" --failed "$$script" $$status; }; \
	done; \
	echo "== make bench: worst of each target's runs (DESIGN.md §8)"; \
	$(BIN)/python bench/_runs.py "$$summary" || rc=$$?; rm -f "$$summary"; exit $$rc

clean: ## remove caches and build leftovers (keeps .venv and the .prisme data dir)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis bench/out
	find . -path ./.venv -prune -o -type d -name __pycache__ -print0 | xargs -0 rm -rf

distclean: clean ## also remove .venv and the local data dir (stop `make up` first)
	@if [ -f $(DATA_DIR)/state.json ]; then $(BIN)/prisme down --data-dir $(DATA_DIR) || true; fi
	rm -rf $(VENV) $(DATA_DIR)

# tinyvdm: two commands on a fresh machine with Python 3.11 and make.
#   make lab    set up .venv (first time only) and open the course in JupyterLab
#   make test   set up .venv, then unit tests, every chapter and every exercise (smoke profile)
# Both are idempotent: with nothing changed, the set-up step takes a second.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.tinyvdm-installed
TEST_STAMP := $(VENV)/.tinyvdm-test-installed
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
LAB_ARGS ?=
PYTEST_ARGS ?=
# Lab as root (containers, CI machines) needs --allow-root; harmless to compute here.
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: lab test setup unit notebooks blank-exercises bench bench-peer clean help
.DEFAULT_GOAL := help

help:
	@echo "make lab    open the course in JupyterLab (LAB_ARGS='--no-browser --port 8888' passes flags)"
	@echo "make test   unit tests, then every chapter and exercise under nbval (smoke profile)"
	@echo "make blank-exercises   write your own blank exercise notebooks to my_exercises/"
	@echo "make bench  training and sampling speed of the denoisers (BENCH_ARGS='--peer --json bench.json')"

setup: $(STAMP) $(LAB_SETTINGS)

# The venv is rebuilt when absent or stale: no working interpreter, or one whose minor version
# differs from the Python that make found (a venv cannot survive a Python upgrade).
$(STAMP): requirements.txt constraints.txt pyproject.toml
	@want=$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])') || { echo "error: Python 3.11+ not found (set PYTHON=...)"; exit 1; }; \
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: tinyvdm needs Python >= 3.11, found $$want at $(PYTHON)"; exit 1; }; \
	have=$$($(VPY) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo none); \
	if [ "$$have" != "$$want" ]; then \
	  echo "creating $(VENV) with Python $$want (found: $$have)"; rm -rf $(VENV); $(PYTHON) -m venv $(VENV); \
	fi
	$(VPY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(VPY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

# Test-only packages (reference implementations the tests compare against): make test only.
$(TEST_STAMP): requirements-test.txt constraints.txt $(STAMP)
	$(VPY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt -c constraints.txt
	@touch $@

$(LAB_SETTINGS): tools/jupyterlab-overrides.json $(STAMP)
	@mkdir -p $(dir $@)
	@cp $< $@

lab: setup
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) --ServerApp.root_dir="$(CURDIR)" \
	  --LabApp.default_url=/lab/tree/notebooks/00_video_as_data.py $(LAB_ARGS)

UNIT_TESTS = $(VPY) -m pytest tests $(PYTEST_ARGS)
# Chapters and exercises run in the smoke profile: every training cell runs, only smaller. Their
# figures go to build/, so a test run never overwrites the outputs/ of a real (cpu/gpu) run.
NOTEBOOK_TESTS = TINYVDM_PROFILE=smoke TINYVDM_OUTPUT=build/smoke-outputs $(VPY) -m pytest --nbval-lax --nbval-current-env notebooks exercises $(PYTEST_ARGS)

unit: setup $(TEST_STAMP)
	$(UNIT_TESTS)

notebooks: setup
	$(NOTEBOOK_TESTS)

# Unit tests first: a broken library fails in seconds, before any notebook starts a kernel.
test: setup $(TEST_STAMP)
	$(UNIT_TESTS)
	$(NOTEBOOK_TESTS)

blank-exercises: setup
	$(VPY) -m tinyvdm.exercises blank

# The optional peer for the benchmark, without its declared dependencies (see requirements-bench.txt).
BENCH_STAMP := $(VENV)/.tinyvdm-bench-installed
$(BENCH_STAMP): requirements-bench.txt $(STAMP)
	$(VPY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-bench.txt
	@touch $@

bench-peer: setup $(BENCH_STAMP)

BENCH_ARGS ?=
bench: setup
	$(VPY) -m tinyvdm.bench $(BENCH_ARGS)

clean:
	rm -rf build outputs

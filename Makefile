# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SEEDS ?= ../shared/seeds

.PHONY: run test setup model clean

setup: $(STAMP)

# pip, not uv: torch==2.13.0 resolves to the CPU build that lies on these machines.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	mkdir -p corpus
	$(BIN)/vipie extract $(SEEDS) --out corpus/seeds.jsonl --out corpus/seeds.duckdb
	$(BIN)/vipie stats corpus/seeds.duckdb

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Rewrite models/default from the current components (after changing the pipeline's layout).
model: $(STAMP)
	$(BIN)/python scripts/build_default_model.py models/default

clean:
	rm -rf $(VENV) corpus

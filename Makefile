# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LS_VENV := .venv-ls
LS_STAMP := $(LS_VENV)/.installed
RAY_STAMP := $(VENV)/.installed-ray
SEEDS ?= ../shared/seeds

.PHONY: run test setup repro label-studio ray browser bench clean

setup: $(STAMP)

# pip, not uv: torch==2.13.0 resolves to the CPU build that lies on these machines.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Label Studio for the annotators' loop (`vipie annotate`, scripts/label_studio.py) lives in its own
# venv: its pins (Django, label-studio-sdk) clash with ours. It is run as a server, never imported.
label-studio: $(LS_STAMP)

$(LS_STAMP): requirements-ls.lock
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LS_VENV)/bin/python -m pip install --quiet -r requirements-ls.lock
	touch $(LS_STAMP)

# The Ray Data engine (`vipie extract --engine ray`) is an optional extra: `make run` does not need it, `make test` runs it.
ray: $(RAY_STAMP)

$(RAY_STAMP): $(STAMP) requirements-ray.lock
	$(BIN)/python -m pip install --quiet -r requirements-ray.lock
	touch $(RAY_STAMP)

# Browser tests drive Debian's Chromium (never `playwright install`, which downloads its own).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

run: $(STAMP)
	mkdir -p corpus
	$(BIN)/vipie extract $(SEEDS) --out corpus/seeds.jsonl --out corpus/seeds.duckdb --overwrite
	$(BIN)/vipie stats corpus/seeds.duckdb

# Label Studio, Chromium and Ray tests must run here, not be skipped: the VIPIE_* variables make a missing one fail.
test: $(STAMP) $(LS_STAMP) $(RAY_STAMP) browser
	VIPIE_CHROMIUM=$$(command -v chromium) VIPIE_RAY=1 VIPIE_LABEL_STUDIO=$(LS_VENV)/bin/label-studio $(BIN)/python -m pytest -q

# Speed against underthesea, in process and as whole processes, and --workers 1 vs 2 on the seeds x40 and on the
# composed documents (a benchmark, never a test):
# best of 3, written to metrics/bench.json. Long: underthesea's ner() on whole documents took 171 s a repeat on the busy 2 cores.
bench: $(STAMP)
	$(BIN)/python scripts/bench_extract.py $(SEEDS) --workers-docs 200 --workers-input annotations/composed --fresh annotations/composed/writer_g.jsonl --json metrics/bench.json

# Rebuild dataset, model, metrics and corpus through DVC (dvc.yaml); stages call `vipie`, so the venv goes on PATH.
repro: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/dvc repro

clean:
	rm -rf $(VENV) $(LS_VENV) corpus

# One place for every routine task. `make chat` and `make test` work on a fresh machine: they create
# .venv when missing (torch CPU wheel first, so pip never pulls the CUDA build) and install the project.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup chat index test test-all lint eval bench bench-scale browser clean help

help:
	@echo "make chat      serve the chat on http://127.0.0.1:7860 (sets up and indexes if needed)"
	@echo "make test      lint + the whole test suite"
	@echo "make test-all  also the slow tests"
	@echo "make eval      run the question set, refresh eval/reports/latest/"
	@echo "make bench     performance benchmarks → eval/reports/bench/ (ingest fp32/int8 vs naive and their quality:"
	@echo "               ~30 min with ../shared/benchmarks/scifact)"
	@echo "make bench-scale  10k and 100k synthetic papers on a chroma server (~20 min)"

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

# Debian chromium for the real-browser UI test (Playwright cannot download browsers here).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will be skipped"; \
	  else echo "warning: chromium missing and apt-get unavailable; browser tests will be skipped"; fi; \
	fi

index: $(STAMP)
	@test -f data/index/chroma.sqlite3 || $(VENV)/bin/rag ingest

chat: index
	$(VENV)/bin/rag chat

lint: $(STAMP)
	$(VENV)/bin/ruff check rag ui eval tests

test: $(STAMP) browser lint
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

test-all: $(STAMP) browser lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

eval: index
	$(VENV)/bin/rag eval --out eval/reports/latest

bench: index
	$(PY) -m eval.bench --out eval/reports/bench
	$(PY) -m eval.bench_retrieval --out eval/reports/bench
	$(PY) -m eval.bench_ingest --out eval/reports/bench

bench-scale: $(STAMP)
	$(PY) -m eval.bench_scale --sizes 10000,100000 --out eval/reports/bench

clean:
	rm -rf data/index .pytest_cache

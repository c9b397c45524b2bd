# Two fresh-machine commands: `make demo` and `make test`. Both create .venv when missing.
# torch is pinned to the local CPU wheel first, so nothing ever pulls a CUDA build.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
EPOCHS ?= 30
SHARED_DATA := $(abspath ../shared/data)
export PLASTICITY_DATA ?= $(if $(wildcard $(SHARED_DATA)/mnist),$(SHARED_DATA),)

.PHONY: demo test lint venv dev clean bench docs

$(VENV)/.base:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e .
	touch $@

# dev includes the ray extra, so CI (make test) runs the Ray sweep test instead of skipping it (~80 s to install).
$(VENV)/.dev: $(VENV)/.base pyproject.toml
	$(PY) -m pip install -q -e ".[dev,ray]"
	touch $@

$(VENV)/.docs: $(VENV)/.base pyproject.toml
	$(PY) -m pip install -q -e ".[docs]"
	touch $@

venv: $(VENV)/.base
dev: $(VENV)/.dev

demo: $(VENV)/.base
	$(VENV)/bin/plasticity compare --dataset digits --rules bp,fa,sign,dfa,dfa-optical --epochs $(EPOCHS) --out reports/demo

test: $(VENV)/.dev
	$(PY) -m pytest -q

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check src tests benchmarks

# API reference, examples index and the study gallery (from the results ledger) are generated, then built strictly.
docs: $(VENV)/.docs
	$(PY) docs/gen.py
	$(VENV)/bin/mkdocs build --strict --site-dir site

bench: $(VENV)/.base
	$(PY) benchmarks/step_time.py

clean:
	rm -rf $(VENV) reports runs .pytest_cache site docs/gallery docs/api.md docs/examples.md

# spasmwatch — everything starts from a fresh clone with these targets.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test bench lint install clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test,train,report]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/spasmwatch demo

test: install
	bash scripts/install-system-deps.sh chromium poppler-utils
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: install
	$(PIP) install -q -e '.[test,train,report,bench]'
	$(PY) -m benchmarks.run

lint: install
	$(VENV)/bin/ruff check spasmwatch tests benchmarks
	$(VENV)/bin/ruff format --check spasmwatch tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache

# Two commands for readers:  `make book`  and  `make test`.
# Both create (or reuse) the project virtual environment in .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: book test test-fast venv clean clean-store bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $(STAMP)

## Build the book into _build/html (open _build/html/index.html); fails on any cell error.
book: $(STAMP)
	@status=0; $(BIN)/jupyter-book build book -W --keep-going || status=$$?; \
	$(BIN)/python -m langlab.buildcheck _build || status=1; exit $$status

## Run the test suite (unit tests, every chapter in a fresh kernel, the site in a browser).
test: $(STAMP)
	$(BIN)/python -m pytest

## The quick part of the tests only.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not browser"

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf _build book/_build

## Remove stored corpora, features and models (they are recomputed on demand).
clean-store:
	rm -rf .langlab

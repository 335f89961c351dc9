# Two commands for readers:  `make book`  and  `make test`  (and `make pdf` for the PDF).
# Both create (or reuse) the project virtual environment in .venv first, installed from the
# exact, hashed lock of the whole dependency tree (requirements.lock; refresh it with `make lock`).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock
# The lock tool (uv) lives in a venv of its own, so that it is not part of the locked tree.
LOCK_VENV := .venv-lock
UV        := $(LOCK_VENV)/bin/uv
LOCK_ARGS := --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: book pdf test test-fast venv clean clean-store bench lock lock-upgrade

venv: $(STAMP)

$(STAMP): $(LOCK) pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

$(UV):
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet uv

## Re-resolve requirements.lock after editing pyproject.toml's dependencies (keeps the other pins).
lock: $(UV)
	$(UV) pip compile pyproject.toml $(LOCK_ARGS) --output-file $(LOCK) --quiet

## Move every pin of requirements.lock to the newest version pyproject.toml allows.
lock-upgrade: $(UV)
	$(UV) pip compile pyproject.toml $(LOCK_ARGS) --upgrade --output-file $(LOCK) --quiet

## Build the book into _build/html (open _build/html/index.html); fails on any cell error.
book: $(STAMP)
	@status=0; $(BIN)/jupyter-book build book -W --keep-going || status=$$?; \
	$(BIN)/python -m langlab.buildcheck _build || status=1; exit $$status

## The whole book as one PDF, _build/pdf/langlab.pdf: the single-page build (it reuses the
## execution cache of `make book`: nothing runs again) printed by the system Chromium (Debian's
## `chromium`; nothing is downloaded). The site then offers it in every page's download menu.
pdf: $(STAMP)
	$(BIN)/jupyter-book build book --builder singlehtml -W --keep-going
	$(BIN)/python book/_ext/printbook.py _build/singlehtml _build/pdf/langlab.pdf
	@mkdir -p _build/html && cp _build/pdf/langlab.pdf _build/html/langlab.pdf
	@$(MAKE) --no-print-directory book

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

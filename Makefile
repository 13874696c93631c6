# srlab: the two commands of the README do all the set-up on a fresh clone.
#   make demo   - create .venv if missing, install, train ESPCN x3 on the bundled photos, evaluate
#   make test   - same set-up, then the test suite
#   make test-fast - the suite without the tests marked slow (`pytest -m "not slow"`)
#   make lint   - formatter check, ruff (style, docstrings), import layering, mypy, doctests
# Reuse a venv elsewhere with VENV=/path/to/venv (it is created there if missing).

VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# one stamp per checkout, so a shared VENV is re-pointed at whichever clone runs make; `make demo`
# installs the runtime dependencies only (saves ~40 s on a fresh clone), `make test` adds the dev extra
CKSUM := $(shell printf '%s' "$(CURDIR)" | cksum | cut -d' ' -f1)
STAMP_BASE := $(VENV)/.srlab-installed-$(CKSUM)
STAMP := $(VENV)/.srlab-installed-dev-$(CKSUM)
DEMO_DIR ?= outputs/demo

.PHONY: install demo test test-fast bench lint doctest format clean

$(STAMP_BASE): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	@rm -f $(VENV)/.srlab-installed-*
	@touch $@

$(STAMP): $(STAMP_BASE)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(STAMP)

demo: $(STAMP_BASE)
	@test -n "$(DEMO_DIR)" || { echo "DEMO_DIR is empty" >&2; exit 2; }
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/srlab-train experiment=demo hydra.run.dir=$(DEMO_DIR)
	$(VENV)/bin/srlab-eval ckpt_path=$(DEMO_DIR)/checkpoints/best.ckpt hydra.run.dir=$(DEMO_DIR)/eval
	@echo
	@echo "checkpoint:       $(DEMO_DIR)/checkpoints/best.ckpt (and last.ckpt)"
	@echo "metrics table:    $(DEMO_DIR)/eval/metrics.md (json: $(DEMO_DIR)/eval/metrics.json)"
	@echo "comparison PNGs:  $(DEMO_DIR)/eval/compare/photos/ (LR-bicubic | SR | HR)"
	@echo "training curves:  $(DEMO_DIR)/wandb (offline W&B run; 'wandb sync' to upload)"

test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

bench: install
	$(PY) bench/bench_train_step.py
	$(PY) bench/bench_imresize.py
	$(PY) bench/bench_loader.py

# every Python file is formatted and linted (rules in pyproject's [tool.ruff]); the import
# layering of design.md is checked by import-linter; mypy checks src/srlab ([tool.mypy]); the
# `>>>` examples of src/srlab run as doctests, their printed output compared (options in
# [tool.pytest.ini_options]). The doctests are not part of `make test`: CI runs both targets.
LINT_PATHS := src tests bench experiments
DOCTEST := $(PY) -m pytest -q --doctest-modules src/srlab
lint: install
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(DOCTEST)

doctest: install
	$(DOCTEST)

# apply the formatter and ruff's safe fixes; what remains for `make lint` is for a person
format: install
	$(VENV)/bin/ruff check --fix $(LINT_PATHS)
	$(VENV)/bin/ruff format $(LINT_PATHS)

clean:
	rm -rf outputs multirun .pytest_cache

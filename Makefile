# Every target installs what it needs first, so on a fresh clone `make train` or `make test` is enough.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# Extra pip arguments, e.g. PIP_ARGS="--index-url <PyTorch CPU wheel index>" (see README, "Installing torch").
PIP_ARGS ?=

.PHONY: help install test lint format train clean

help:
	@echo "make train    fine-tune the offline smoke recipe (MiniLM on the bundled IMDb reviews)"
	@echo "make test     lint and run the whole test suite"
	@echo "make install  create .venv with the pinned dependencies"

$(INSTALLED): requirements.txt requirements-dev.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(PIP_ARGS) -r requirements-dev.txt -c constraints.txt
	touch $@

install: $(INSTALLED)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(INSTALLED)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# pytest exits 5 when it collects no test; make treats that as a failure, as it should.
test: lint
	$(PY) -m pytest

train: $(INSTALLED)
	$(PY) manage.py train --preset smoke

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

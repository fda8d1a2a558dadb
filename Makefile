# Every target installs what it needs first, so on a fresh clone `make train` or `make test` is enough.
# tests/services.sh, sourced by the test recipe, is bash
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# Extra pip arguments, e.g. PIP_ARGS="--index-url <PyTorch CPU wheel index>" (see README, "Installing torch").
PIP_ARGS ?=

.PHONY: help install test test-fast lint format train demo compose-check scale-check clean

help:
	@echo "make demo     the whole product locally: site, Redis, workers, a first model (Ctrl-C stops)"
	@echo "make train    fine-tune the offline smoke recipe (MiniLM on the bundled IMDb reviews)"
	@echo "make test     lint and run the whole test suite"
	@echo "make test-fast  lint and the fast tier: the tests not marked slow (no browser, faults, real workers, GPU)"
	@echo "make install  create .venv with the pinned dependencies"
	@echo "make compose-check  the docker compose stack end to end (needs Docker; about 15 minutes)"
	@echo "make scale-check  two web replicas and two training workers in compose: a worker killed mid-run, a web replica restarted under load (needs Docker; 10-20 minutes)"

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

# Sets up what the suite needs (tests/services.sh: system packages, Redis, PostgreSQL), runs the whole
# suite on SQLite, then the database-backed tests again on PostgreSQL (POSTGRES_TEST_URL, found or given).
# pytest exits 5 when it collects no test: make fails then.
test: lint
	@. tests/services.sh && $(PY) -m pytest \
		&& if [ -n "$${POSTGRES_TEST_URL:-}" ]; then \
			echo "== again on PostgreSQL ($${POSTGRES_TEST_URL}) =="; \
			DATABASE_URL=$${POSTGRES_TEST_URL} $(PY) -m pytest tests/sentiment tests/api_v1 tests/integration tests/webapp tests/faults; \
		fi

# The fast tier: the tests not marked slow (browser, faults, integration with real workers, gpu and the few
# slow ones elsewhere carry `slow`; pyproject.toml, tests/conftest.py), on SQLite, with Redis. Minutes.
test-fast: lint
	@SKIP_POSTGRES=1 . tests/services.sh && $(PY) -m pytest -m "not slow"

train: $(INSTALLED)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py train --preset smoke

# Development on this machine, said explicitly: the settings' defaults are closed (no debug pages, no key).
demo: $(INSTALLED)
	DEBUG=true $(PY) manage.py demo

# The compose stack for real: build, up --wait, HTTPS, first model, worker recreated mid-run, restarts
# (tests/deploy/compose_smoke.py). Needs a Docker engine with Compose >= 2.24; installs Chromium when missing.
compose-check: $(INSTALLED)
	@TEST_SERVICES=packages . tests/services.sh && $(PY) -m tests.deploy.compose_smoke

# The stack scaled out: two web replicas behind the proxy, two training workers, two default workers; a
# training worker killed mid-run, a web replica restarted under 1,000 requests (tests/deploy/scale_check.py).
scale-check: $(INSTALLED)
	@TEST_SERVICES=packages . tests/services.sh && $(PY) -m tests.deploy.scale_check

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Two ways in: `make run` (a demo on SQLite with a real Celery worker and beat)
# and `make test` (the whole test suite). Set DATABASE_URL and REDIS_URL to use
# PostgreSQL and Redis instead.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PYTEST_ARGS ?=

# Installs are recorded in stamp files named after the requirements' content,
# so a changed requirements file reinstalls and an unchanged one does not.
RUN_HASH := $(shell cat requirements.txt | sha256sum | cut -c1-16)
DEV_HASH := $(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)
RUN_STAMP := $(VENV)/.installed-run-$(RUN_HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(DEV_HASH)

.PHONY: help run test lint e2e bench translations messages install install-dev

help:
	@echo "make run    start the web server (http://127.0.0.1:8000), a Celery worker and beat on demo data"
	@echo "make test   run the whole test suite"
	@echo "make lint   ruff check and ruff format --check"
	@echo "make e2e    run the browser tests only (tests/e2e)"
	@echo "make messages  refresh the English catalogue in locale/en"
	@echo "make bench  run the benchmarks in bench/ against PostgreSQL (BENCH_DATABASE_URL)"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	rm -f $(VENV)/.installed-run-*
	touch $@

$(DEV_STAMP): | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-dev-* $(VENV)/.installed-run-*
	touch $@ $(RUN_STAMP)

install: $(RUN_STAMP)

install-dev: $(DEV_STAMP)

translations: $(RUN_STAMP)
	$(PY) manage.py compile_translations

# Refresh the English catalogue from the code (needs gettext); then translate
# the new entries in locale/en/LC_MESSAGES/django.po.
messages: $(RUN_STAMP)
	$(PY) manage.py makemessages -l en --no-location -i "tests/*" -i ".venv/*" -i "var/*" -i "staticfiles/*"

run: $(RUN_STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty
	$(PY) manage.py seed_activity --if-empty
	$(PY) manage.py compile_translations
	PYTHON=$(PY) CELERY=$(BIN)/celery bash scripts/run.sh

test: $(DEV_STAMP)
	$(PY) manage.py compile_translations
	$(PY) -m pytest $(PYTEST_ARGS)

e2e: $(DEV_STAMP)
	$(PY) manage.py compile_translations
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Benchmarks print ratios against a baseline measured in the same run and
# write bench/results/latest.json. They need PostgreSQL (a database of their own).
bench: $(DEV_STAMP)
	$(PY) bench/sla_scan.py
	$(PY) bench/sync.py
	$(PY) bench/archive_import.py
	$(PY) bench/dashboard.py

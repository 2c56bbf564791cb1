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
# make test spreads the suite over this many processes (pytest-xdist), each with
# a test database of its own; TEST_WORKERS=0 runs it in this one process.
TEST_WORKERS ?= 2

# Installs are recorded in stamp files named after the requirements' content,
# so a changed requirements file reinstalls and an unchanged one does not.
RUN_HASH := $(shell cat requirements.txt requirements-build.txt | sha256sum | cut -c1-16)
DEV_HASH := $(shell cat requirements.txt requirements-build.txt requirements-dev.txt | sha256sum | cut -c1-16)
RUN_STAMP := $(VENV)/.installed-run-$(RUN_HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(DEV_HASH)

.PHONY: help run test drills lint e2e bench load translations messages install install-dev

help:
	@echo "make run    start the web server (http://127.0.0.1:8000; ADDRESS=host:port to change), two Celery workers"
	@echo "           (realtime and bulk queues) and beat on demo data"
	@echo "make test   run the test suite (the fault drills apart: make drills)"
	@echo "make drills run the fault drills (tests/drills, slow ones included) against PostgreSQL and Redis"
	@echo "make lint   ruff check, ruff format --check and the layers contract (lint-imports)"
	@echo "make e2e    run the browser tests only (tests/e2e)"
	@echo "make messages  refresh the English catalogue in locale/en"
	@echo "make bench  run the benchmarks in bench/ against PostgreSQL (BENCH_DATABASE_URL), within 10 minutes;"
	@echo "            SCALE=prefecture for the full sizes (1,000,000 customers ...); README's table is regenerated"
	@echo "make fuzz   fuzz the REST API with schemathesis (every phase and check but ST202) against gunicorn"
	@echo "            on a rebuilt database of its own (crm_fuzz); FUZZ_TIME seconds (360, about 10 min in all), report in bench/results/fuzz"
	@echo "make load   seed the bench database, start gunicorn (2 workers) and run locust headless"
	@echo "            for LOAD_TIME (5m; LOAD_TIME=1m for a quick run), LOAD_USERS users; LOAD_SCALE=small|county|prefecture"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-build.txt
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
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# Fault drills (docs/RELIABILITY.md), which `make test` leaves out; the slow ones too
# unless DRILLS_MARK says otherwise (CI: "drill and not slow_drill"). They need
# PostgreSQL and Redis; the defaults are those of .ci/run.
DRILLS_MARK ?= drill
drills: $(DEV_STAMP)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/crm} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} \
	$(PY) -m pytest tests/drills -m "$(DRILLS_MARK)" $(PYTEST_ARGS)

e2e: $(DEV_STAMP)
	$(PY) manage.py compile_translations
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Benchmarks print ratios against a baseline measured in the same run and
# write bench/results/latest.json, from which bench/report.py regenerates
# README's performance table. They need PostgreSQL (a database of their own).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/crm_bench
SCALE ?= default
ifeq ($(SCALE),prefecture)
SLA_ARGS := --orders 100000 --naive-sample 2000
SYNC_ARGS := --customers 1000000 --baseline-pages 100
IMPORT_ARGS := --rows 100000
DASHBOARD_ARGS := --orders 1000000
FANOUT_ARGS := --customers 100000 --naive-sample 5000
WORKBENCH_ARGS := --customers 1000000 --outages 300
SEED_SCALE := prefecture
else
# Sizes that finish within 10 minutes on 2 cores, even shared with other work.
SLA_ARGS := --orders 30000 --naive-sample 1000
SYNC_ARGS := --customers 30000
IMPORT_ARGS := --rows 5000
DASHBOARD_ARGS := --orders 100000 --repeat 3
FANOUT_ARGS := --customers 30000 --naive-sample 1000
WORKBENCH_ARGS := --customers 100000
SEED_SCALE := small
endif
# manage.py against the benchmark database, as production runs (DEBUG off).
BENCH_ENV := DATABASE_URL=$(BENCH_DATABASE_URL) DEBUG=0 SECRET_KEY=bench-only-not-secret-x9Q2x9Q2x9Q2x9Q2x9Q2x9Q2 \
	ALLOWED_HOSTS=127.0.0.1,localhost CELERY_BROKER_URL=memory://localhost/
export BENCH_DATABASE_URL

bench: $(DEV_STAMP)
	@echo "make bench started $$(date -u +%H:%M:%S), load average $$(cut -d' ' -f1-3 /proc/loadavg)"
	$(PY) bench/sla_scan.py $(SLA_ARGS)
	$(PY) bench/sync.py $(SYNC_ARGS)
	$(PY) bench/archive_import.py $(IMPORT_ARGS)
	$(PY) bench/bulk.py
	$(PY) bench/dashboard.py $(DASHBOARD_ARGS)
	$(PY) bench/outage_fanout.py $(FANOUT_ARGS)
	$(PY) bench/wecom_posts.py
	$(PY) bench/sms_receipts.py
	$(PY) bench/workbench_outages.py $(WORKBENCH_ARGS)
	$(BENCH_ENV) $(PY) manage.py seed_scale --scale $(SEED_SCALE) --wipe
	$(PY) bench/report.py
	@echo "make bench ended $$(date -u +%H:%M:%S), load average $$(cut -d' ' -f1-3 /proc/loadavg)"

# The load test: gunicorn with 2 workers on LOAD_PORT against the bench
# database, seeded at LOAD_SCALE (LOAD_SEED=0 keeps what is there), locust
# headless for LOAD_TIME; CSV statistics in bench/results/, the summary in latest.json.
LOAD_SCALE ?= small
LOAD_TIME ?= 5m
LOAD_USERS ?= 30
# One new user a second: logins (PBKDF2, on purpose slow) spread over the ramp.
LOAD_SPAWN_RATE ?= 1
LOAD_PORT ?= 8055
LOAD_SEED ?= 1

load: $(DEV_STAMP)
	$(BENCH_ENV) $(PY) manage.py migrate --noinput
	if [ "$(LOAD_SEED)" != 0 ]; then $(BENCH_ENV) $(PY) manage.py seed_scale --scale $(LOAD_SCALE) --wipe; fi
	$(BENCH_ENV) $(PY) bench/load/run.py --time $(LOAD_TIME) --users $(LOAD_USERS) --port $(LOAD_PORT) \
		--spawn-rate $(LOAD_SPAWN_RATE) --workers 2 --scale $(LOAD_SCALE)
	$(PY) bench/report.py

# API fuzzing (scripts/fuzz.sh): schemathesis against a gunicorn on FUZZ_PORT
# (8765) and a database rebuilt and seeded for it (FUZZ_DB_NAME, crm_fuzz).
.PHONY: fuzz
fuzz: $(DEV_STAMP)
	FUZZ_TIME=$${FUZZ_TIME:-360} bash scripts/fuzz.sh

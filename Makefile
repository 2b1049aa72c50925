# Two commands matter (see README): `make serve` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi

.PHONY: serve test lint types audit setup setup-dev services bench clean messages

# The app imports the offline verifier (./verifier) as the one implementation of the log's
# formats, and the command-line client (./client) ships beside it; both are local packages, not
# PyPI ones, so they are installed here (their PyPI dependencies are pinned in requirements.txt).
$(BIN)/.runtime: requirements.txt verifier/pyproject.toml client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet -e ./verifier
	$(BIN)/pip install --quiet -e ./client
	touch $@

$(BIN)/.dev: $(BIN)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

# The workbench's browser files: npm packages pinned by package-lock.json (`npm ci`), copied into
# casework/static/vendor/ (never a CDN). axe-core (a dev dependency) stays in node_modules for the tests.
ASSETS := casework/static/vendor/.built
$(ASSETS): package.json package-lock.json scripts/build-assets
	npm ci --no-audit --no-fund --loglevel=error
	bash scripts/build-assets
	touch $@

# The workbench's translations (casework/translations/<lang>/LC_MESSAGES/messages.po), compiled.
TRANSLATIONS := casework/translations/.compiled
$(TRANSLATIONS): $(BIN)/.runtime $(wildcard casework/translations/*/LC_MESSAGES/messages.po)
	$(BIN)/pybabel -q compile -d casework/translations
	touch $@

setup: $(BIN)/.runtime $(ASSETS) $(TRANSLATIONS)
setup-dev: $(BIN)/.dev $(ASSETS) $(TRANSLATIONS)

## Extract the workbench's strings and merge them into each language's catalogue, for translators.
messages: setup
	$(BIN)/pybabel -q extract -F casework/translations/babel.cfg -k lazy_gettext -o casework/translations/messages.pot .
	$(BIN)/pybabel -q update -i casework/translations/messages.pot -d casework/translations --no-fuzzy-matching

## Set up and serve on the embedded SQLite default (http://127.0.0.1:$(PORT)), with the publisher
## service beside it (a checkpoint within a minute; integration within the merge delay on PostgreSQL).
PORT ?= 5000
PUBLISH_EVERY ?= 30
serve: setup
	$(BIN)/flask --app wsgi db upgrade
	bash -c 'trap "kill 0" EXIT INT TERM; \
		$(BIN)/flask --app wsgi custody serve --publish-every $(PUBLISH_EVERY) & \
		$(BIN)/gunicorn -c config/gunicorn.conf.py --bind 127.0.0.1:$(PORT) --workers 2 --access-logfile - wsgi:app'

lint: setup-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

types: setup-dev
	$(BIN)/mypy

## Known vulnerabilities in the pinned requirements (pip-audit, strict; skipped, loudly, where PyPI's advisory API is unreachable).
audit: setup-dev
	bash scripts/audit-requirements

## Format, lint, types and the requirements' advisories, then the whole test suite on SQLite and on
## PostgreSQL with the app's line coverage, which may not fall below COVERAGE_FLOOR (percent).
COVERAGE_FLOOR ?= 90
test: setup-dev services lint types audit
	$(BIN)/pytest -n 2 -q --cov=casework --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_FLOOR)

## The services and system packages the tests use: PostgreSQL and Redis up, SoftHSM2 (PKCS#11 tests) and
## Debian's chromium (the docs page in a real browser; Playwright drives it, it downloads no browser).
services:
	bash scripts/ensure-services
	bash scripts/install-softhsm
	bash scripts/install-chromium

## Benchmarks against the SPEC targets; BENCH_EVENTS=1000000 for a quicker run (the growth databases are kept).
BENCH_EVENTS ?= 10000000
BENCH_ARGS ?=
bench: setup-dev services
	$(BIN)/python -m bench.run_all --events $(BENCH_EVENTS) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache node_modules casework/static/vendor

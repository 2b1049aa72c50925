# Two commands matter (see README): `make serve` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi

.PHONY: serve test setup services bench clean

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

setup: $(BIN)/.installed

## Set up and serve on the embedded SQLite default (http://127.0.0.1:5000).
serve: setup
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/gunicorn --bind 127.0.0.1:5000 --workers 2 --access-logfile - wsgi:app

## Run the whole test suite, on SQLite and on PostgreSQL.
test: setup services
	$(BIN)/pytest -n 2 -q

services:
	bash scripts/ensure-services

bench: setup services
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) instance .pytest_cache

# The two commands: `make run` serves the platform, `make test` runs every test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501
API_PORT ?= 8311
SPEED ?= 60

.PHONY: run test setup setup-test lint stop boundaries messages

run: setup
	$(PY) -m geo db start
	$(PY) -m geo boundaries load-shipped
	$(PY) -m geo demo --only-if-empty
	$(PY) -m geo detect --only-if-empty
	$(PY) -m geo governance run
	$(PY) -m geo users demo
	$(PY) -m geo project demo
	WHISTLE_CLOCK=data $(PY) -m geo serve --app-port $(PORT) --api-port $(API_PORT) --replay $(SPEED)

test: setup-test
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n 2 --dist loadgroup

setup:
	bash scripts/bootstrap.sh run

setup-test:
	bash scripts/bootstrap.sh test

lint: setup
	$(VENV)/bin/ruff check .

stop:
	$(PY) -m geo db stop

boundaries: setup
	$(PY) -m geo boundaries build

# The strings people read, extracted into geo/locale/whistle.pot and merged into each catalogue
# (then translate the new entries in geo/locale/<language>/LC_MESSAGES/whistle.po; tests/test_i18n.py
# fails on any left untranslated).
messages: setup
	$(VENV)/bin/pybabel extract -F babel.cfg -k N_ -k _ -k ngettext:1,2 --no-location --sort-output \
		--omit-header -o geo/locale/whistle.pot app.py views layers geo
	$(VENV)/bin/pybabel update -i geo/locale/whistle.pot -d geo/locale -D whistle --no-fuzzy-matching \
		--ignore-obsolete --width 120

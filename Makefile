# Herald: `make run` starts it on SQLite; `make test` runs the whole suite on
# SQLite, PostgreSQL and MariaDB; `make screenshots` refreshes docs/screenshots/ from the
# browser tests. Each sets up what it needs on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install run test screenshots services lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/herald run

services:
	bash scripts/services.sh

test: install services
	$(PY) -m pytest $(PYTEST_ARGS)

# The browser tests on SQLite, saving into docs/; CI=true so a missing Chromium fails
# instead of skipping (the tests install Debian's chromium when run as root).
screenshots: install
	CI=true HERALD_TEST_ENGINES=sqlite HERALD_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots \
		$(PY) -m pytest -q -p no:cacheprovider tests/process/browser

bench: install services
	$(PY) -m bench.run_all

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy herald

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# SpatialForge: `make demo` runs the main job on the default config; `make test` runs the tests.
# Both set up everything on a fresh machine (Debian packages, .venv, the project).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
OUT    ?= outputs/demo

.PHONY: demo test setup setup-dev system bench clean

system:
	@bash tools/setup_system.sh

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Re-install when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e '.[dev]'
	@touch $@

setup: system $(VENV)/.installed
setup-dev: system $(VENV)/.installed-dev

demo: setup
	$(PY) -m engine.cli demo out=$(OUT)

test: setup-dev
	$(PY) -m pytest

clean:
	rm -rf outputs .pytest_cache .hypothesis

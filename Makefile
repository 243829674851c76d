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

# pyrender pins PyOpenGL 3.1.0, whose OSMesa support is broken; 3.1.10 works for EGL and OSMesa
# (tests/test_render_osmesa.py). pip re-applies the pin on every install, so the override runs
# after each one (pip prints a dependency-conflict notice; it is expected).
PYOPENGL := PyOpenGL==3.1.10

# Re-install when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e .
	$(PIP) install -q "$(PYOPENGL)"
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e '.[dev]'
	$(PIP) install -q "$(PYOPENGL)"
	@touch $@

setup: system $(VENV)/.installed
setup-dev: system $(VENV)/.installed-dev

demo: setup
	$(PY) -m engine.cli demo out=$(OUT)

test: setup-dev
	$(PY) -m pytest

clean:
	rm -rf outputs .pytest_cache .hypothesis

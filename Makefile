# SpatialForge: `make demo` runs the main job on the default config; `make test` runs the tests.
# Both set up everything on a fresh machine (Debian packages, .venv, the project).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
OUT    ?= outputs/demo

.PHONY: demo test setup setup-dev setup-lmms setup-cycles system system-dev bench clean

system:
	@bash tools/setup_system.sh

# make test also needs Debian's chromium (tests/test_viewer.py drives it headless through Playwright)
system-dev:
	@bash tools/setup_system.sh --browser

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

# torch (the extra `stream`, tests/test_stream.py) is pinned and installed first and alone: on this
# machine pip takes torch==2.13.0 from a CPU build on disk instead of downloading a CUDA build.
$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev,stream]'
	$(PIP) install -q "$(PYOPENGL)"
	@touch $@

# lmms-eval in a venv of its own, for tests/test_score.py::test_lmms_eval_loads_the_task, which runs
# tools/lmms_eval_probe.py with it. torch 2.13.0 is installed first and alone: on this machine pip
# takes that version from a CPU build on disk (~1.6 GB venv, ~90 s) instead of a CUDA build.
LMMS_VENV ?= .venv-lmms
LMMS_EVAL := lmms-eval==0.7.3
$(LMMS_VENV)/.installed: tools/lmms-eval-requirements.txt
	$(PYTHON) -m venv $(LMMS_VENV)
	$(LMMS_VENV)/bin/python -m pip install -q torch==2.13.0
	$(LMMS_VENV)/bin/python -m pip install -q --no-deps "$(LMMS_EVAL)"
	$(LMMS_VENV)/bin/python -m pip install -q -r tools/lmms-eval-requirements.txt
	@touch $@

# Blender (bpy, the Cycles backend: render.backend=cycles) in a venv of its own: bpy 4.5 needs Python 3.11
# and pins numpy 1.26. tests/test_render_cycles.py runs with it (and skips, saying so, without it).
CYCLES_VENV   ?= .venv-cycles
CYCLES_PYTHON ?= python3.11
$(CYCLES_VENV)/.installed: tools/cycles-requirements.txt
	$(CYCLES_PYTHON) -m venv $(CYCLES_VENV)
	$(CYCLES_VENV)/bin/python -m pip install -q --upgrade pip
	$(CYCLES_VENV)/bin/python -m pip install -q -r tools/cycles-requirements.txt
	@touch $@

setup: system $(VENV)/.installed
setup-dev: system-dev $(VENV)/.installed-dev $(LMMS_VENV)/.installed $(CYCLES_VENV)/.installed
setup-lmms: $(LMMS_VENV)/.installed
setup-cycles: $(CYCLES_VENV)/.installed

# overwrite=true: a demo made by an earlier version (another config hash) is replaced, not refused
demo: setup
	$(PY) -m engine.cli demo out=$(OUT) overwrite=true

test: setup-dev
	$(PY) -m pytest

clean:
	rm -rf outputs .pytest_cache .hypothesis

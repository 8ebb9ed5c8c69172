# Two commands for a fresh machine (Python 3.11+, git and make):
#   make demo   create the environment from the runtime lock and run `tessera demo`
#   make test   add the development tools (the dev lock) and run every test
# requirements.lock is the runtime lock: the project's dependencies only, what the demo, the
# container image and production installs use. requirements-dev.lock is the runtime set plus the
# `dev` extra (pytest, moto, Playwright, ...), at the same versions. Each has its own stamp, so a
# venv made for the demo is topped up with the development tools the first time `make test` runs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP     := $(VENV)/.installed-dev
UV     ?= $(if $(wildcard $(BIN)/uv),$(BIN)/uv,uv)
# The build backend (pyproject.toml's [build-system]) is locked too: the project is installed
# editable without build isolation, so no unpinned download happens at install time.
BUILD_REQUIRES := $(PYTHON) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')"
COMPILE := pip compile pyproject.toml - --generate-hashes --python-version 3.11

.PHONY: demo test env env-runtime lock clean

demo: $(RUNTIME_STAMP)
	$(BIN)/tessera demo

test: $(DEV_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The development environment (what `make test` uses); env-runtime is the demo's and production's.
env: $(DEV_STAMP)
env-runtime: $(RUNTIME_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(DEV_STAMP): requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Regenerate both lock files after changing dependencies in pyproject.toml (`pip install uv`
# first if uv is not on PATH). The dev lock is resolved first; the runtime lock is held to its
# versions, so the tests run exactly what production installs.
lock:
	$(BUILD_REQUIRES) | $(UV) $(COMPILE) --extra dev -o requirements-dev.lock
	$(BUILD_REQUIRES) | $(UV) $(COMPILE) -c requirements-dev.lock -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

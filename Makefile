# The front door: `make reuters` (the main job) and `make test` (the whole suite).
# Both create .venv on first use and install what they need into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Tests and the main job read Reuters-21578 and tiny Shakespeare from here when it
# exists (the project's data folder for CI); otherwise the loaders use their cache.
SHARED_DATA := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)),)
export RNNKIT_DATA_DIR ?= $(SHARED_DATA)
endif

.PHONY: setup test lint typecheck docs reuters bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[test,plot]'
	touch $@

setup: $(VENV)/.installed

# The main job installs only what it uses: rnnkit itself and matplotlib for its
# pictures (not the test extras, PyTorch among them).
$(VENV)/.installed-main: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[plot]'
	touch $@

lint: setup
	$(PY) -m ruff check src tests $(wildcard bench) scripts

# the public API's annotations against its documented uses (tests/typecheck/)
typecheck: setup
	$(PY) -m mypy tests/typecheck

# the documentation site, built strictly: a broken link or reference fails it
docs: setup
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict  # (not -q: it hides the warnings strict counts)

# Two test workers on two cores: one BLAS/OpenMP thread each. (Spinning BLAS threads
# competing for the same cores slowed training steps 40x here; see bench/NOTES.md.)
test: setup lint typecheck docs
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg \
		RNNKIT_NUM_THREADS=1 KERAS_BACKEND=jax JAX_PLATFORMS=cpu PATH="$(abspath $(VENV))/bin:$$PATH" \
		$(PY) -m pytest -q -n 2

reuters: $(VENV)/.installed-main
	$(VENV)/bin/rnnkit reuters

bench: setup
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/run.py --threads 1

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache

"""Shared test settings: the shared data folder, and a fresh global seed per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import rnnkit


def data_dir() -> Path | None:
    """The folder of real data sets (RNNKIT_DATA_DIR), or None when absent."""
    value = os.environ.get("RNNKIT_DATA_DIR")
    if value and Path(value).is_dir():
        return Path(value)
    return None


def require_data(relative: str) -> Path:
    """Path of a data file under RNNKIT_DATA_DIR; skip (or fail in CI) when missing."""
    base = data_dir()
    path = None if base is None else base / relative
    if path is None or not path.exists():
        where = os.environ.get("RNNKIT_DATA_DIR")
        message = f"data file {relative!r} not found under RNNKIT_DATA_DIR={where!r}"
        if os.environ.get("RNNKIT_REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(autouse=True)
def _seed():
    rnnkit.set_random_seed(1234)
    yield


@pytest.fixture(params=["numpy", "numba", "numba-rows"])
def accelerator(request, monkeypatch):
    """Runs a test through the NumPy reference (each cell's step in the layer's Python
    loop) and through the compiled loops of ``rnnkit.kernels``, twice: with a pass's
    per-step product as the register tile over packed panels (the default) and as row
    updates on W (the streaming step's form, ``kernels.PRODUCT = "rows"``). The numba
    runs are skipped when numba is missing; both yield ``"numba"``."""
    from rnnkit import backend, kernels

    name = request.param.split("-")[0]
    if name == "numba" and not kernels.available():
        pytest.skip(f"numba is not usable here ({kernels.unavailable_reason()})")
    if request.param == "numba-rows":
        monkeypatch.setattr(kernels, "PRODUCT", "rows")
    previous = backend._accelerator
    backend.set_accelerator(name)
    yield name
    backend._accelerator = previous

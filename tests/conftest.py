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


@pytest.fixture(params=["numpy", "numba"])
def accelerator(request, monkeypatch):
    """Runs a test once with the reference NumPy cells and once with the fused numba
    kernels (rnnkit.cells.fused), the latter with every float32 per-step recurrent
    product through the compiled one (``fused.packed_matmul``, which a layer otherwise
    uses only at the shapes where it measured faster than BLAS): the numba run is
    skipped when numba is missing."""
    from rnnkit import backend
    from rnnkit.cells import fused

    if request.param == "numba" and fused.kernels() is None:
        pytest.skip("numba is not installed (pip install rnnkit[fast])")
    previous = backend._accelerator
    backend.set_accelerator(request.param)
    if request.param == "numba":
        monkeypatch.setattr(fused, "packed_worthwhile", lambda rows, inner, cols: True)
    yield request.param
    backend._accelerator = previous

"""The optional numba accelerator (rnnkit.cells.fused): its tanh, its agreement with
the reference NumPy cells, and the switch. (The gradient checks and PyTorch
cross-checks run through both paths via the ``accelerator`` fixture.)"""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import backend
from rnnkit.cells import fused
from rnnkit.layers import GRU, LSTM, SimpleRNN

needs_numba = pytest.mark.skipif(fused.kernels() is None, reason="numba is not installed")


def test_float32_tanh_approximation_error_is_bounded():
    x = np.linspace(-12, 12, 1_200_001, dtype=np.float32)
    y = fused.tanh_f32_reference(x)
    ref = np.tanh(x.astype(np.float64))
    err = np.abs(y.astype(np.float64) - ref)
    ulps = err / np.spacing(np.abs(ref).astype(np.float32))
    assert err.max() < 3.5e-7
    assert ulps.max() < 6.0
    assert np.abs(y).max() <= 1.0
    np.testing.assert_array_equal(fused.tanh_f32_reference(-x), -y)  # odd
    assert np.diff(y).min() > -7e-7  # monotone up to twice the error bound
    assert fused.tanh_f32_reference(np.float32(0.0)) == 0.0


def _train_step(cls, dtype, accelerator, mask=None, **kwargs):
    backend.set_accelerator(accelerator)
    rng = np.random.default_rng(0)
    layer = cls(6, return_sequences=True, dtype=dtype, **kwargs)
    layer.ensure_built((None, 4))
    weights = [w.astype(dtype) for w in _weights(layer, rng)]
    layer.set_weights(weights)
    x = rng.standard_normal((5, 9, 4)).astype(dtype)
    dy = rng.standard_normal((5, 9, 6)).astype(dtype)
    y = layer.forward(x, training=True, mask=mask)
    dx = layer.backward(dy)
    return y, dx, {k: v.copy() for k, v in layer.grads.items()}


def _weights(layer, rng):
    return [rng.uniform(-0.6, 0.6, w.shape) for w in layer.get_weights()]


@needs_numba
@pytest.mark.parametrize("cls", [LSTM, GRU], ids=["LSTM", "GRU"])
@pytest.mark.parametrize("dtype,tol", [("float32", 2e-6), ("float64", 1e-13)])
@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
def test_fused_kernels_match_numpy_cells(cls, dtype, tol, masked):
    mask = None
    if masked:
        mask = np.ones((5, 9), bool)
        mask[1, 6:] = mask[3, 2:] = False
    previous = backend._accelerator
    try:
        ref = _train_step(cls, dtype, "numpy", mask)
        got = _train_step(cls, dtype, "numba", mask)
    finally:
        backend._accelerator = previous
    for a, b in zip(ref[:2], got[:2]):
        assert a.dtype == b.dtype == np.dtype(dtype)
        np.testing.assert_allclose(b, a, rtol=tol, atol=tol)
    for k in ref[2]:
        np.testing.assert_allclose(got[2][k], ref[2][k], rtol=tol, atol=10 * tol)


@needs_numba
@pytest.mark.parametrize("cls", [LSTM, GRU, SimpleRNN], ids=["LSTM", "GRU", "SimpleRNN"])
def test_streaming_steps_match_the_whole_sequence_with_numba(cls):
    previous = backend._accelerator
    try:
        backend.set_accelerator("numba")
        layer = cls(5, return_sequences=True)
        layer.ensure_built((None, 3))
        x = np.random.default_rng(1).standard_normal((2, 7, 3)).astype("float32")
        whole = layer.forward(x)
        states = [np.zeros((2, 5), "float32") for _ in layer.cell.state_names]
        for t in range(7):
            y, states = layer.step(x[:, t], states)
            np.testing.assert_allclose(y, whole[:, t], rtol=1e-5, atol=1e-6)
    finally:
        backend._accelerator = previous


def test_non_default_activations_and_float16_use_numpy():
    assert fused.for_dtype(np.dtype("float16")) is None
    cell = LSTM(3, recurrent_activation="hard_sigmoid").cell
    assert cell.fused_kernels(np.dtype("float32")) is None
    cell = GRU(3, activation="relu").cell
    assert cell.fused_kernels(np.dtype("float32")) is None


def test_set_accelerator_validates_and_round_trips():
    previous = backend._accelerator
    try:
        with pytest.raises(ValueError, match="argument name.*'auto', 'numba', 'numpy'.*'cuda'"):
            backend.set_accelerator("cuda")
        backend.set_accelerator("numpy")
        assert backend.accelerator() == "numpy"
        assert fused.for_dtype(np.dtype("float32")) is None
        backend.set_accelerator("auto")
        expected = "numba" if fused.kernels() is not None else "numpy"
        assert backend.accelerator() == expected
    finally:
        backend._accelerator = previous


def test_without_numba_auto_falls_back_and_numba_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(fused, "_kernels", False)  # as if the import had failed
    monkeypatch.setattr(fused, "_resolved", {})
    monkeypatch.setattr(backend, "_accelerator", "auto")
    assert backend.accelerator() == "numpy"
    assert fused.for_dtype(np.dtype("float32")) is None
    with pytest.raises(ImportError, match=r"pip install rnnkit\[fast\]"):
        backend.set_accelerator("numba")
    monkeypatch.setattr(backend, "_accelerator", "numba")  # e.g. from the environment
    with pytest.raises(ImportError, match="RNNKIT_ACCELERATOR=numba needs numba"):
        backend.accelerator()


def test_bad_environment_value_is_named(monkeypatch):
    monkeypatch.setattr(backend, "_accelerator", "gpu")
    with pytest.raises(ValueError, match="environment variable RNNKIT_ACCELERATOR.*'gpu'"):
        backend.accelerator()

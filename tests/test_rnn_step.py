"""RNN.step: one step at a time with carried states equals the full forward pass."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.layers import GRU, LSTM, SimpleRNN

# every test here runs with the NumPy cells and with the fused numba kernels
pytestmark = pytest.mark.usefixtures("accelerator")

KINDS = {"SimpleRNN": (SimpleRNN, 1), "LSTM": (LSTM, 2), "GRU": (GRU, 1)}


def make(kind, units=5, features=3, dtype="float64", **kwargs):
    cls, n_states = KINDS[kind]
    layer = cls(units, return_sequences=True, return_state=True, dtype=dtype, **kwargs)
    layer.ensure_built((None, features))
    rng = np.random.default_rng(0)
    # biases away from zero so that every term of the step is exercised
    layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.get_weights()])
    return layer, n_states


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_step_matches_forward(kind, dtype):
    layer, n_states = make(kind, dtype=dtype)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 7, 3)).astype(dtype)
    init = [rng.normal(size=(2, 5)).astype(dtype) for _ in range(n_states)]
    _assert_steps_match_forward(layer, x, init, 1e-12 if dtype == "float64" else 1e-5)


def _assert_steps_match_forward(layer, x, init, tol):
    """Stepping through x with layer.step from ``init`` gives forward's outputs and
    final states."""
    seq, *final = layer.forward(x, initial_state=init)
    states = [s.copy() for s in init]
    outs = []
    for t in range(x.shape[1]):
        y, states = layer.step(x[:, t], states)
        outs.append(y)
    np.testing.assert_allclose(np.stack(outs, axis=1), seq, rtol=tol, atol=tol)
    for got, want in zip(states, final):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_step_leaves_inputs_and_training_alone(kind):
    layer, n_states = make(kind)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 4, 3))
    dy = [rng.normal(size=(2, 4, 5))] + [None] * n_states
    layer.forward(x, training=True)
    expected = layer.backward(dy)
    grads = [g.copy() for g in layer.gradients()]

    layer.forward(x, training=True)
    states = [rng.normal(size=(2, 5)) for _ in range(n_states)]
    before = [s.copy() for s in states]
    y1, new1 = layer.step(x[:, 0], states)
    y2, _ = layer.step(x[:, 1], new1)
    for s, b in zip(states, before):
        np.testing.assert_array_equal(s, b)  # the caller's states are not modified
    assert y1 is new1[0] and not np.shares_memory(y1, y2)  # outputs are new arrays
    np.testing.assert_allclose(layer.backward(dy), expected)  # BPTT buffers untouched
    for g, want in zip(layer.gradients(), grads):
        np.testing.assert_allclose(g, want)


def test_step_checks_its_states():
    layer, _ = make("LSTM")
    with pytest.raises(ValueError, match="expects 2 state"):
        layer.step(np.zeros((1, 3)), [np.zeros((1, 5))])
    with pytest.raises(RuntimeError, match="build it"):
        LSTM(3).step(np.zeros((1, 3)), [np.zeros((1, 3))] * 2)
    with pytest.raises(ValueError, match=r"x_t of shape \(batch, 3\), got \(1, 4\)"):
        layer.step(np.zeros((1, 4)), [np.zeros((1, 5))] * 2)
    with pytest.raises(ValueError, match=r"x_t of shape \(batch, 3\), got \(3,\)"):
        layer.step(np.zeros(3), [np.zeros((1, 5))] * 2)
    with pytest.raises(ValueError, match=r"state 'c' must have shape \(1, 5\), got \(1, 4\)"):
        layer.step(np.zeros((1, 3)), [np.zeros((1, 5)), np.zeros((1, 4))])


# ---- the compiled step (rnnkit.kernels.step): one call per step, any batch -------------
@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("batch", [1, 6])
def test_steps_of_any_batch_match_forward(kind, dtype, use_bias, batch, accelerator):
    from rnnkit import kernels

    layer, n_states = make(kind, units=6, features=4, dtype=dtype, use_bias=use_bias)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(batch, 9, 4)).astype(dtype)
    init = [rng.normal(size=(batch, 6)).astype(dtype) for _ in range(n_states)]
    calls = []
    real = kernels.step
    try:
        kernels.step = lambda *a: calls.append(1) or real(*a)
        _assert_steps_match_forward(layer, x, init, 1e-12 if dtype == "float64" else 2e-6)
    finally:
        kernels.step = real
    # the compiled step is taken with the accelerator, and only then
    assert len(calls) == (9 if accelerator == "numba" else 0)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_step_reads_strided_inputs(kind, accelerator):
    """Non-contiguous x_t and states give the same step."""
    layer, n_states = make(kind, units=6, features=4, dtype="float32")
    rng = np.random.default_rng(4)
    wide = rng.normal(size=(2, 8)).astype("float32")
    states_wide = [rng.normal(size=(2, 12)).astype("float32") for _ in range(n_states)]
    x_t, states = wide[:, ::2], [s[:, ::2] for s in states_wide]  # strided views
    y, new = layer.step(x_t, states)
    y_ref, new_ref = layer.step(x_t.copy(), [s.copy() for s in states])
    np.testing.assert_array_equal(y, y_ref)
    for a, b in zip(new, new_ref):
        np.testing.assert_array_equal(a, b)


def test_step_propagates_nan(accelerator):
    for kind in sorted(KINDS):
        layer, n_states = make(kind, units=6, features=4, dtype="float32")
        x_t = np.zeros((1, 4), "float32")
        x_t[0, 2] = np.nan
        y, _ = layer.step(x_t, [np.zeros((1, 6), "float32")] * n_states)
        assert np.isnan(y).all(), kind

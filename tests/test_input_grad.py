"""Training skips dL/d(input) where nothing in front of a layer learns
(``Sequential.backward(..., input_grad=False)``): the weights' gradients are unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import layers, optimizers
from rnnkit.models import Sequential


def _model(frozen: bool, rnn="gru"):
    cell = {"gru": layers.GRU, "lstm": layers.LSTM, "simple": layers.SimpleRNN}[rnn]
    model = Sequential(
        [
            layers.Embedding(30, 8, mask_zero=True, input_shape=(None,), trainable=not frozen),
            layers.SpatialDropout1D(0.0),
            layers.Bidirectional(cell(5, return_sequences=True)),
            layers.GlobalMaxAveragePooling1D(),
            layers.Dense(4, activation="softmax"),
        ]
    )
    model.compile(optimizers.SGD(learning_rate=0.01), "sparse_categorical_crossentropy")
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 30, (6, 7))
    x[0, 5:] = 0  # padding
    return x, rng.integers(0, 4, 6)


@pytest.mark.parametrize("rnn", ["gru", "lstm", "simple"])
def test_skipping_the_input_gradient_leaves_weight_gradients_unchanged(rnn):
    x, y = _data()
    model = _model(frozen=True, rnn=rnn)
    loss, _, _, grad, fused = model.compute_loss(x, y, training=True)
    full = model.backward(grad, from_logits=fused)
    assert full is None  # integer input
    want = [g.copy() for g in model.gradients()]
    bi = model.layers[2]
    calls = []
    original = bi.backward
    bi.backward = lambda dy: calls.append(bi.input_grad_needed) or original(dy)
    model.compute_loss(x, y, training=True)
    assert model.backward(grad, from_logits=fused, input_grad=False) is None
    assert calls == [False]  # told that nobody reads its dL/dx
    assert bi.input_grad_needed and bi.forward_layer.input_grad_needed  # reset after
    got = model.gradients()
    assert len(got) == len(want)
    for a, b in zip(want, got):
        np.testing.assert_array_equal(a, b)


def test_a_trainable_embedding_still_gets_its_gradient():
    x, y = _data()
    model = _model(frozen=False)
    assert model._first_to_train() == 0
    before = model.layers[0].params["embeddings"].copy()
    model.compile(optimizers.SGD(learning_rate=0.5), "sparse_categorical_crossentropy")
    model.train_on_batch(x, y)
    assert not np.allclose(before, model.layers[0].params["embeddings"])


def test_frozen_front_layers_are_not_run_backward():
    x, y = _data()
    model = _model(frozen=True)
    assert model._first_to_train() == 2
    emb = model.layers[0]
    emb.backward = lambda dy: pytest.fail("the frozen embedding was run backward")
    model.compile(optimizers.SGD(learning_rate=0.1), "sparse_categorical_crossentropy")
    model.train_on_batch(x, y)


def test_float_input_gradient_still_returned_by_default():
    rng = np.random.default_rng(1)
    model = Sequential([layers.Dense(3, input_shape=(4,)), layers.Dense(2)])
    model.compile(optimizers.SGD(learning_rate=0.01), "mse")
    x = rng.standard_normal((5, 4)).astype(np.float32)
    _, _, _, grad, fused = model.compute_loss(x, rng.standard_normal((5, 2)), training=True)
    dx = model.backward(grad, from_logits=fused)
    assert dx.shape == (5, 4)
    assert model.backward(grad, from_logits=fused, input_grad=False) is None


@pytest.mark.parametrize("shape", [(1, 6, 3), (4, 1, 3), (4, 6, 3)])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_backward_never_writes_into_the_callers_input(shape, go_backwards):
    """BPTT makes dL/dx from a time-major copy of x, which with B = 1 or T = 1 is a
    view of the caller's array: that array stays untouched, and dL/dx is the one the
    same samples get inside a larger batch (blocks of steps, both directions)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    dy = rng.standard_normal(shape[:2] + (5,)).astype(np.float32)
    layer = layers.LSTM(5, return_sequences=True, go_backwards=go_backwards)
    layer.ensure_built((None, 3))
    keep = x.copy()
    layer.forward(x, training=True)
    dx = layer.backward(dy)
    np.testing.assert_array_equal(x, keep)
    # the same samples inside a larger batch (whose time-major copy is a real one):
    # samples do not interact, so their dL/dx agree
    other = rng.standard_normal(shape).astype(np.float32)
    layer.forward(np.concatenate([x, other]), training=True)
    dx_big = layer.backward(np.concatenate([dy, dy]))
    np.testing.assert_allclose(dx, dx_big[: shape[0]], rtol=1e-5, atol=1e-6)
    assert dx.shape == shape and dx.flags.c_contiguous


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("cell", ["lstm", "gru", "simple"])
def test_dx_blocks_of_steps_give_the_one_block_result(monkeypatch, cell, go_backwards):
    """BPTT forms dL/dx a block of steps at a time (``DX_BLOCK_BYTES`` bounds a block):
    blocks of 2 steps, the last one short (T = 7), give dL/dx equal to one block of all 7,
    and with dropout on the inputs as well."""
    from rnnkit.layers import recurrent

    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 7, 3)).astype(np.float32)
    dy = rng.standard_normal((4, 7, 5)).astype(np.float32)
    kind = {"gru": layers.GRU, "lstm": layers.LSTM, "simple": layers.SimpleRNN}[cell]
    layer = kind(5, return_sequences=True, go_backwards=go_backwards, dropout=0.3)
    layer.ensure_built((None, 3))
    results = []
    for block_bytes in (recurrent.DX_BLOCK_BYTES, 2 * 4 * 3 * 4):  # all steps; 2 steps
        monkeypatch.setattr(recurrent, "DX_BLOCK_BYTES", block_bytes)
        layer.rng = np.random.default_rng(0)  # the same dropout mask both times
        layer.forward(x, training=True)
        results.append(layer.backward(dy))
    # (equal up to the BLAS kernel's rounding for products of another row count)
    np.testing.assert_allclose(results[1], results[0], rtol=1e-6, atol=1e-7)

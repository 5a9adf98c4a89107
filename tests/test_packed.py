"""Masked batches: the input projection, dU, dW, db and dL/dx formed over the steps the
mask keeps only (rnnkit.layers.recurrent._PackedRows, below PACKED_BELOW of the steps).
The packed path must give what the padded one gives, and its gradients must pass central
differences on their own."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.layers import GRU, LSTM, Bidirectional, SimpleRNN, recurrent
from rnnkit.utils.gradient_check import check_layer

pytestmark = pytest.mark.usefixtures("accelerator")

KINDS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}
B, T, I, H = 4, 6, 3, 5


def pre_padded():
    """Keras's default padding: sequences of 6, 4, 1 and 3 steps, padding first."""
    keep = np.zeros((B, T), bool)
    for b, n in enumerate((6, 4, 1, 3)):
        keep[b, T - n :] = True
    return keep


def make(kind, seed=0, **kwargs):
    layer = KINDS[kind](H, dtype="float64", **kwargs)
    layer.ensure_built((None, I))
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.get_weights()])
    return layer


def run(kind, packed_below, mask, monkeypatch, training=False, **kwargs):
    """Forward and backward on a fresh layer with the packing threshold given."""
    monkeypatch.setattr(recurrent, "PACKED_BELOW", packed_below)
    layer = make(kind, **kwargs)
    layer.rng = np.random.default_rng(7)  # the same dropout masks in every run
    rng = np.random.default_rng(3)
    x = rng.normal(size=(B, T, I))
    y = layer.forward(x, training=training, mask=mask)
    dy = rng.normal(size=np.shape(y))
    dx = layer.backward(dy)
    packed = layer._cache["packed"] is not None
    states = [s.copy() for s in layer._cache["S"]]
    return packed, y, dx, {k: g.copy() for k, g in layer.grads.items()}, states, layer


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"go_backwards": True},
        {"return_sequences": True, "zero_output_for_mask": True},
        {"return_sequences": True, "go_backwards": True, "use_bias": False},
        {"dropout": 0.3, "recurrent_dropout": 0.2, "return_sequences": True},
    ],
)
def test_packed_equals_padded(kind, options, monkeypatch):
    training = "dropout" in options
    mask = pre_padded()
    on = run(kind, 2.0, mask, monkeypatch, training=training, **options)
    off = run(kind, 0.0, mask, monkeypatch, training=training, **options)
    assert on[0] and not off[0]  # the threshold chose as asked
    np.testing.assert_allclose(on[1], off[1], rtol=1e-12, atol=1e-12)  # output
    np.testing.assert_allclose(on[2], off[2], rtol=1e-12, atol=1e-12)  # dL/dx
    for name in off[3]:
        np.testing.assert_allclose(on[3][name], off[3][name], rtol=1e-12, atol=1e-12)
    for a, b in zip(on[4], off[4]):  # the states stay readable after backward
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(on[2][~mask], 0.0)  # no gradient reaches padding


@pytest.mark.parametrize("kind", list(KINDS))
def test_nothing_kept(kind, monkeypatch):
    """A sequence that is all padding, and a batch that is: zero gradients, no NaN."""
    mask = pre_padded()
    mask[1] = False
    _, _, dx, grads, _, _ = run(kind, 2.0, mask, monkeypatch, return_sequences=True)
    assert np.all(np.isfinite(dx)) and np.all(dx[1] == 0.0)
    _, _, dx, grads, _, _ = run(kind, 2.0, np.zeros((B, T), bool), monkeypatch)
    assert np.all(dx == 0.0)
    for name in ("kernel", "recurrent_kernel"):
        np.testing.assert_array_equal(grads[name], 0.0)


def test_threshold(monkeypatch):
    """Packed only below PACKED_BELOW of the steps kept, and never without a mask."""
    monkeypatch.setattr(recurrent, "PACKED_BELOW", 0.9)
    keep = np.ones((10, 2), bool)
    assert recurrent._packed_rows(None, False) is None
    assert recurrent._packed_rows(keep, False) is None
    keep[:2, 0] = False  # 18 of 20 kept: 0.9, not below
    assert recurrent._packed_rows(keep, False) is None
    keep[2, 0] = False
    packed = recurrent._packed_rows(keep, True)
    assert packed is not None and packed.rows.size == 17
    # reading order under go_backwards: row t·B + b is the input's step T - 1 - t
    np.testing.assert_array_equal(packed.step, 9 - packed.rows // 2)
    np.testing.assert_array_equal(packed.seq, packed.rows % 2)
    np.testing.assert_array_equal(packed.padded, [0, 2, 4])


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("go_backwards", [False, True])
def test_packed_gradients(kind, go_backwards, monkeypatch):
    """Central differences through the packed path, input dropout included."""
    monkeypatch.setattr(recurrent, "PACKED_BELOW", 2.0)
    layer = make(kind, dropout=0.25, return_sequences=True, go_backwards=go_backwards)

    def reseed():
        layer.rng = np.random.default_rng(5)

    x = np.random.default_rng(1).normal(size=(B, T, I))
    errors = check_layer(
        layer, x, forward_kwargs={"mask": pre_padded(), "training": True}, before_forward=reseed
    )
    assert layer._cache["packed"] is not None
    bad = {k: v for k, v in errors.items() if not v < 1e-6}
    assert not bad, errors


def test_bidirectional_packed_equals_padded(monkeypatch):
    """Both directions packed (the backward one in reading order) against padded."""
    out = []
    for below in (2.0, 0.0):
        monkeypatch.setattr(recurrent, "PACKED_BELOW", below)
        layer = Bidirectional(GRU(H, return_sequences=True, dtype="float64"))
        layer.ensure_built((None, I))
        rng = np.random.default_rng(0)
        layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.get_weights()])
        x = rng.normal(size=(B, T, I))
        y = layer.forward(x, mask=pre_padded())
        dx = layer.backward(rng.normal(size=y.shape))
        subs = (layer.forward_layer, layer.backward_layer)
        grads = [g.copy() for sub in subs for g in sub.grads.values()]
        out.append([y, dx, *grads])
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", list(KINDS))
def test_stale_workspace_cannot_reach_the_gradients(kind, monkeypatch):
    """The packed projection writes only the kept rows: the padded rows of a reused
    buffer are zeroed, not left as whatever the last pass (here: NaN) put there."""
    monkeypatch.setattr(recurrent, "PACKED_BELOW", 2.0)
    layer = make(kind, return_sequences=True)
    rng = np.random.default_rng(3)
    x, mask = rng.normal(size=(B, T, I)), pre_padded()
    layer.forward(x, mask=mask)
    layer.backward(np.ones((B, T, H)))
    for buf in layer._workspace._arrays.values():
        buf.fill(np.nan)
    y = layer.forward(x, mask=mask)
    dx = layer.backward(np.ones((B, T, H)))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
    for g in [*layer.grads.values(), *layer.initial_state_grads]:
        assert np.all(np.isfinite(g))

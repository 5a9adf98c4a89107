"""Recurrent layers reuse their per-pass buffers (rnnkit.layers.recurrent.Workspace):
nothing handed to the caller may alias them, and a pass must give the same numbers
whatever the buffers held before (longer, shorter or differently batched passes)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.layers import GRU, LSTM, SimpleRNN

# every test here runs with the NumPy cells and with the fused numba kernels
pytestmark = pytest.mark.usefixtures("accelerator")

KINDS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}


def make(kind, **kwargs):
    layer = KINDS[kind](4, dtype="float64", **kwargs)
    layer.ensure_built((None, 3))
    rng = np.random.default_rng(0)
    layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.get_weights()])
    return layer


def fresh_pass(kind, x, dy, **kwargs):
    """Forward and backward on a new layer with the same weights: the reference."""
    layer = make(kind, **kwargs)
    y = layer.forward(x, training=True)
    dx = layer.backward(dy)
    return y, dx, {k: v.copy() for k, v in layer.grads.items()}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("shape", [(1, 6), (3, 1), (1, 1), (2, 5)])
def test_outputs_do_not_alias_the_buffers(kind, shape):
    """With B = 1 or T = 1 a transposed view of the state buffer looks contiguous;
    the output must still be a copy that the next pass leaves alone."""
    batch, steps = shape
    layer = make(kind, return_sequences=True, return_state=True)
    rng = np.random.default_rng(1)
    first = layer.forward(rng.normal(size=(batch, steps, 3)))
    kept = [a.copy() for a in first]
    layer.forward(rng.normal(size=(batch, steps, 3)) * 3.0)
    for got, want in zip(first, kept):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_reused_buffers_give_the_same_gradients(kind):
    rng = np.random.default_rng(2)
    layer = make(kind, return_sequences=True)
    # passes of other lengths and batch sizes first: the buffers grow, shrink, move
    for batch, steps in [(3, 9), (3, 2), (5, 4), (3, 9)]:
        layer.forward(rng.normal(size=(batch, steps, 3)) * 2.0, training=True)
        layer.backward(rng.normal(size=(batch, steps, 4)))
    x, dy = rng.normal(size=(3, 6, 3)), rng.normal(size=(3, 6, 4))
    y = layer.forward(x, training=True)
    dx = layer.backward(dy)
    y0, dx0, grads0 = fresh_pass(kind, x, dy, return_sequences=True)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(dx, dx0)
    for name, g in grads0.items():
        np.testing.assert_array_equal(layer.grads[name], g)


def test_shorter_pass_reuses_and_release_frees():
    layer = make("LSTM", return_sequences=True)
    rng = np.random.default_rng(3)
    layer.forward(rng.normal(size=(2, 8, 3)), training=True)
    gates = layer._cache["cache"]["gates"]
    layer.forward(rng.normal(size=(2, 5, 3)), training=True)
    again = layer._cache["cache"]["gates"]
    assert again.shape[0] == 5 and np.shares_memory(gates, again)
    layer.release_buffers()
    assert layer._cache is None
    layer.forward(rng.normal(size=(2, 5, 3)), training=True)
    assert not np.shares_memory(gates, layer._cache["cache"]["gates"])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_bptt_writes_its_gradients_into_the_projection_buffer(kind):
    """Memory: dL/d(x·U + b) goes where x·U + b was (LSTM and GRU keep their gates
    there, SimpleRNN caches h_t in the state buffer): no separate (T, B, G·H) buffer,
    and no stale gates left to read after backward."""
    layer = make(kind, return_sequences=True)
    rng = np.random.default_rng(4)
    layer.forward(rng.normal(size=(2, 5, 3)), training=True)
    cache = layer._cache
    if kind == "SimpleRNN":
        assert np.shares_memory(cache["cache"]["h"], cache["S"][0])
    else:
        assert np.shares_memory(cache["cache"]["gates"], cache["xw"])
    layer.backward(rng.normal(size=(2, 5, 4)))
    assert "dxw" not in layer._workspace._arrays
    assert "gates" not in layer._cache["cache"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_second_backward_of_one_forward_is_refused(kind):
    layer = make(kind, return_sequences=True)
    rng = np.random.default_rng(5)
    layer.forward(rng.normal(size=(2, 5, 3)), training=True)
    layer.backward(rng.normal(size=(2, 5, 4)))
    with pytest.raises(RuntimeError, match="backward\\(\\) already ran .* run forward\\(\\) again"):
        layer.backward(rng.normal(size=(2, 5, 4)))


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("go_backwards", [False, True])
def test_a_wider_dy_gives_the_gradients_of_its_cast(kind, go_backwards):
    """dL/dy in another dtype than the layer's is cast a step at a time (no (T, B, H)
    copy): the same numbers, bit for bit, as casting it first."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 5, 3)).astype(np.float32)
    dy = rng.normal(size=(3, 5, 4))  # float64
    results = []
    for d in (dy.astype(np.float32), dy):
        layer = KINDS[kind](4, return_sequences=True, go_backwards=go_backwards)
        layer.ensure_built((None, 3))
        layer.set_weights([w.astype(np.float32) for w in _weights(layer)])
        layer.forward(x, training=True)
        results.append([layer.backward(d)] + [layer.grads[k].copy() for k in sorted(layer.grads)])
    for got, want in zip(results[1], results[0]):
        assert got.dtype == want.dtype == np.float32
        np.testing.assert_array_equal(got, want)


def _weights(layer):
    rng = np.random.default_rng(4)
    return [rng.normal(0, 0.5, w.shape) for w in layer.get_weights()]


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul"])
def test_bidirectional_keeps_its_halves_only_for_mul(merge_mode):
    """Only "mul" reads the two directions' outputs in backward; the other modes keep
    no sequence-sized array between steps beyond the recurrent layers' own buffers."""
    from rnnkit.layers import Bidirectional

    layer = Bidirectional(GRU(4, return_sequences=True), merge_mode=merge_mode)
    layer.ensure_built((None, 3))
    rng = np.random.default_rng(5)
    y = layer.forward(rng.normal(size=(2, 6, 3)).astype(np.float32), training=True)
    layer.backward(np.ones_like(y))
    kept = [v for v in vars(layer).values() if isinstance(v, np.ndarray)]
    assert len(kept) == (2 if merge_mode == "mul" else 0)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_outputs_survive_backward_and_the_next_passes(kind):
    """SimpleRNN hands its dead input-projection buffer over as the output: BPTT and the
    following passes must then work in new buffers, never in the returned array."""
    layer = make(kind, return_sequences=True)
    rng = np.random.default_rng(6)
    x = rng.normal(size=(3, 5, 3))
    y = layer.forward(x, training=True)
    kept = y.copy()
    layer.backward(rng.normal(size=y.shape))
    for batch, steps in [(3, 5), (3, 2), (2, 7)]:
        y2 = layer.forward(rng.normal(size=(batch, steps, 3)) * 2.0, training=True)
        layer.backward(rng.normal(size=y2.shape))
    np.testing.assert_array_equal(y, kept)
    np.testing.assert_array_equal(layer.forward(x), kept)


# ---- 64-byte alignment of what BLAS multiplies by (backend.ALIGNMENT) -------------------
@pytest.mark.parametrize("shape", [(0,), (1,), (3, 5), (128, 512), (2, 3, 4)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int8"])
def test_aligned_arrays(shape, dtype):
    from rnnkit import backend

    a = backend.aligned_empty(shape, dtype)
    assert a.shape == shape and a.dtype == np.dtype(dtype) and a.flags.c_contiguous
    assert a.size == 0 or a.ctypes.data % backend.ALIGNMENT == 0  # (no data, no address)
    src = np.arange(int(np.prod(shape))).reshape(shape).astype(dtype)
    b = backend.aligned_copy(src.T)  # from a non-contiguous view
    assert b.size == 0 or b.ctypes.data % 64 == 0
    assert b.flags.c_contiguous and b.flags.writeable
    np.testing.assert_array_equal(b, src.T)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_weights_and_their_pass_copies_stay_aligned(kind):
    layer = KINDS[kind](96, dtype="float32")
    layer.ensure_built((None, 33))
    cell = layer.cell
    before = {k: v.ctypes.data for k, v in cell.params.items()}
    assert all(p % 64 == 0 for p in before.values())
    layer.set_weights([w + 1 for w in layer.get_weights()])  # written into the same arrays
    assert {k: v.ctypes.data for k, v in cell.params.items()} == before


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("block_bytes", [128, 300, 1 << 16])
def test_steps_backwards_gives_contiguous_steps_in_reverse(dtype, block_bytes):
    """BPTT reads dL/dy a step at a time from the last: a batch-major dL/dy seen
    time-major (strided steps) or one of another dtype comes through a small buffer,
    in blocks; every step equal to the input's, C-contiguous, in the layer's dtype.
    (Each step is valid until the next is drawn: the buffer is reused.)"""
    from rnnkit.layers.recurrent import _steps_backwards

    dy = np.random.default_rng(1).normal(size=(3, 7, 5))  # (B, T, H), float64
    seq = dy.transpose(1, 0, 2)  # (T, B, H) view: strided steps of 60 or 120 bytes
    n = 0
    for k, step in enumerate(_steps_backwards(seq, np.dtype(dtype), block_bytes=block_bytes)):
        assert step.flags.c_contiguous and step.dtype == dtype
        np.testing.assert_array_equal(step, seq[6 - k].astype(dtype))
        n += 1
    assert n == 7
    # contiguous steps of the layer's dtype, and strided ones as large as a block, are
    # handed out as views, not copied
    for s in (np.ascontiguousarray(seq), seq):
        views = list(_steps_backwards(s, s.dtype, block_bytes=120))
        assert all(np.shares_memory(v, s) for v in views)
        np.testing.assert_array_equal(np.stack(views[::-1]), s)

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
    _assert_numba_step_matches_numpy(cls, dtype, tol, masked)


def _assert_numba_step_matches_numpy(cls, dtype, tol, masked, between=None):
    """A training step through the numba path against the NumPy cells: outputs, dL/dx
    and the weight gradients; ``between()`` runs after the reference step."""
    mask = None
    if masked:
        mask = np.ones((5, 9), bool)
        mask[1, 6:] = mask[3, 2:] = False
    previous = backend._accelerator
    try:
        ref = _train_step(cls, dtype, "numpy", mask)
        if between is not None:
            between()
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


# ---- the compiled recurrent product (fused.recurrent_matmul) ----------------------
@needs_numba
@pytest.mark.parametrize(
    "m,k,n",
    [(1, 1, 1), (3, 5, 7), (4, 8, 48), (5, 9, 49), (7, 300, 13), (8, 3, 96), (2, 4, 100)]
    + [(0, 4, 4), (4, 0, 6), (3, 4, 0)],
)
def test_packed_matmul_matches_numpy_at_every_edge(m, k, n):
    """Every block of rows (4, and 1-3 left over), whole and partial panels, empty
    shapes; a strided a and out (row stride beyond the width) as a time loop's views."""
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    a_wide = rng.standard_normal((m, k + 3)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    out_wide = np.full((m, n + 5), np.nan, np.float32)
    a, out = a_wide[:, :k], out_wide[:, :n]
    fused.kernels().packed_matmul(a, fused.pack_panels(b), out)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5 * max(1.0, np.sqrt(k)))
    assert np.isnan(out_wide[:, n:]).all()  # nothing written past the columns asked for


def test_pack_panels_layout():
    b = np.arange(5 * 50, dtype=np.float32).reshape(5, 50)
    panels = fused.pack_panels(b)
    assert panels.shape == (2, 5, 48) and panels.flags.c_contiguous
    np.testing.assert_array_equal(panels[0], b[:, :48])
    np.testing.assert_array_equal(panels[1, :, :2], b[:, 48:])
    assert (panels[1, :, 2:] == 0).all()


@needs_numba
def test_packed_matmul_propagates_nan_and_inf():
    a = np.ones((6, 8), np.float32)
    b = np.ones((8, 5), np.float32)
    b[3, 1] = np.nan  # column 1 of every row
    a[4, 0] = np.inf  # row 4: inf, or nan where it meets the nan
    out = np.empty((6, 5), np.float32)
    fused.kernels().packed_matmul(a, fused.pack_panels(b), out)
    assert np.isnan(out[:, 1]).all()
    assert np.isposinf(np.delete(out[4], 1)).all()
    finite = np.delete(np.delete(out, 4, axis=0), 1, axis=1)
    np.testing.assert_array_equal(finite, 8.0)


@needs_numba
def test_packed_matmul_refuses_what_it_cannot_take():
    kernel, b = fused.kernels().packed_matmul, np.ones((8, 5), np.float32)
    with pytest.raises(ValueError, match="float32"):
        kernel(np.ones((2, 8)), fused.pack_panels(b), np.empty((2, 5)))
    with pytest.raises(ValueError, match="shapes"):
        kernel(np.ones((2, 7), np.float32), fused.pack_panels(b), np.empty((2, 5), np.float32))
    with pytest.raises(ValueError, match="strides"):
        a = np.ones((8, 2), np.float32).T  # a column stride of 2 elements
        kernel(a, fused.pack_panels(b), np.empty((2, 5), np.float32))


@needs_numba
def test_wide_vectors_come_from_the_host_cpu(monkeypatch):
    import numba
    from llvmlite import binding

    kernels = fused.kernels()
    monkeypatch.setattr(binding, "get_host_cpu_features", lambda: {"avx512f": True})
    assert kernels._wide_vectors() is True
    monkeypatch.setattr(binding, "get_host_cpu_features", lambda: {"avx2": True})
    assert kernels._wide_vectors() is False

    def unreadable():
        raise RuntimeError("failed to get host cpu features")

    monkeypatch.setattr(binding, "get_host_cpu_features", unreadable)
    assert kernels._wide_vectors() is False
    monkeypatch.setattr(binding, "get_host_cpu_features", lambda: {"avx512f": True})
    monkeypatch.setattr(numba.config, "CPU_NAME", "generic")  # a portable build asked for
    assert kernels._wide_vectors() is False


@needs_numba
def test_recurrent_matmul_policy(monkeypatch):
    f32, kernels = np.float32, fused.kernels()
    monkeypatch.setattr(backend, "_accelerator", "numba")
    monkeypatch.setattr(kernels, "WIDE_VECTORS", True)
    assert fused.recurrent_matmul(20, 650, 2600, f32, 1) is kernels.packed_matmul
    assert fused.recurrent_matmul(2, 650, 2600, f32, 1) is kernels.packed_matmul
    assert fused.recurrent_matmul(32, 128, 512, f32, 1) is kernels.packed_matmul
    assert fused.recurrent_matmul(200, 200, 50, f32, 1) is None  # a panel mostly padding
    assert fused.recurrent_matmul(8, 128, 512, f32, 1) is None  # too small to pay
    assert fused.recurrent_matmul(20, 650, 2600, np.float64, 1) is None
    assert fused.recurrent_matmul(20, 650, 2600, f32, 2) is None  # BLAS's threads
    assert fused.recurrent_matmul(20, 650, 2600, f32, None) is None
    monkeypatch.setattr(kernels, "WIDE_VECTORS", False)  # no 16-float registers
    assert fused.recurrent_matmul(20, 650, 2600, f32, 1) is None
    monkeypatch.setattr(kernels, "WIDE_VECTORS", True)
    monkeypatch.setattr(backend, "_accelerator", "numpy")
    assert fused.recurrent_matmul(20, 650, 2600, f32, 1) is None


@needs_numba
@pytest.mark.parametrize("cls", [LSTM, GRU, SimpleRNN], ids=["LSTM", "GRU", "SimpleRNN"])
def test_layer_with_the_compiled_product_matches_blas(cls, monkeypatch):
    """A float32 layer with every per-step product through the compiled kernel
    (H = 256, batch 7: a block of 4 rows and one of 3), against the same layer with
    every product through BLAS."""
    previous = backend._accelerator
    backend.set_accelerator("numba")
    rng = np.random.default_rng(3)
    layer = cls(256, return_sequences=True, dtype="float32")
    layer.ensure_built((None, 5))
    layer.set_weights(
        [rng.uniform(-0.1, 0.1, w.shape).astype("float32") for w in layer.get_weights()]
    )
    x = rng.standard_normal((7, 7, 5)).astype("float32")
    dy = rng.standard_normal((7, 7, 256)).astype("float32")
    calls = []
    kernel = fused.kernels().packed_matmul

    def counted(a, panels, out):
        calls.append(a.shape)
        kernel(a, panels, out)

    try:
        runs = []
        for use in (True, False):
            monkeypatch.setattr(fused, "packed_worthwhile", lambda rows, inner, cols, u=use: u)
            monkeypatch.setattr(fused, "gate_blocks_faster", lambda *a, **k: False)
            monkeypatch.setattr(fused.kernels(), "packed_matmul", counted)
            y = layer.forward(x, training=True)
            dx = layer.backward(dy)
            runs.append((y, dx, {k: v.copy() for k, v in layer.grads.items()}))
            if use:
                assert len(calls) == 2 * 7  # every step, forward and backward
                assert layer.cell._fwd_product is None and layer.cell._bwd_product is None
    finally:
        backend._accelerator = previous
    (y1, dx1, g1), (y0, dx0, g0) = runs

    def close(got, ref):  # float32 sums in another order: 1e-5 of the array's scale
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5 * np.abs(ref).max())

    close(y1, y0)
    close(dx1, dx0)
    for name in g0:
        close(g1[name], g0[name])


# ---- the compiled Adam update (rnnkit._fused_adam) --------------------------------
@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("form", ["keras", "torch"])
def test_adam_kernel_gives_the_numpy_lines_floats(dtype, form):
    """Ten updates of three weights (2-D and 1-D) through the kernel and through the
    NumPy lines: the same floats, bit for bit, including weights where v stays 0 (a
    zero gradient) and a NaN gradient that must propagate."""
    from rnnkit import optimizers

    shapes = [(7, 13), (5,), (3, 4)]
    runs = {}
    for acc in ("numpy", "numba"):
        previous = backend._accelerator
        try:
            backend.set_accelerator(acc)
            rng = np.random.default_rng(0)  # the same weights and gradients for both
            params = [rng.standard_normal(s).astype(dtype) for s in shapes]
            opt = optimizers.Adam(learning_rate=0.01, epsilon=1e-8, epsilon_form=form)
            for step in range(10):
                grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
                grads[1][0] = 0.0  # v stays 0 for this weight
                if step == 7:
                    grads[2][1, 2] = np.nan
                opt.apply(params, grads)
            runs[acc] = params + opt.slots["m"] + opt.slots["v"]
        finally:
            backend._accelerator = previous
    for ref, got in zip(runs["numpy"], runs["numba"]):
        np.testing.assert_array_equal(got, ref)
    assert np.isnan(runs["numba"][2][1, 2]) and np.isfinite(runs["numba"][0]).all()


@needs_numba
def test_adam_kernel_is_skipped_for_arrays_it_cannot_take():
    from rnnkit.optimizers import _fused_adam

    previous = backend._accelerator
    try:
        backend.set_accelerator("numba")
        p = np.zeros((4, 6), np.float32)
        m, v = np.zeros_like(p), np.zeros_like(p)
        assert _fused_adam(p, np.ones_like(p), m, v) is not None
        assert _fused_adam(p, np.ones((6, 4), np.float32).T, m, v) is None  # a transposed view
        assert _fused_adam(p.astype(np.float16), p.astype(np.float16), m, v) is None
        backend.set_accelerator("numpy")
        assert _fused_adam(p, np.ones_like(p), m, v) is None
    finally:
        backend._accelerator = previous


# ---- h·W as one product per gate block (fused.gate_blocks_faster) ----------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows,units,gates", [(1, 1, 3), (5, 6, 4), (32, 16, 3), (3, 7, 2)])
def test_gate_blocks_product_is_the_product(dtype, rows, units, gates):
    rng = np.random.default_rng(rows + units + gates)
    h = rng.standard_normal((rows, units)).astype(dtype)
    w = rng.standard_normal((units, gates * units)).astype(dtype)
    out = np.full((rows, gates * units), np.nan, dtype)
    fused.gate_blocks_product(h, fused.gate_blocks(w, gates), out)
    tol = 1e-5 if dtype == "float32" else 1e-13
    np.testing.assert_allclose(out, h @ w, rtol=tol, atol=tol)
    dz = rng.standard_normal((rows, gates * units)).astype(dtype)
    dh = np.full((rows, units), np.nan, dtype)
    tmp = np.full((gates, rows, units), np.nan, dtype)
    w_t = np.ascontiguousarray(w.T)
    fused.gate_blocks_product_t(dz, w_t.reshape(gates, units, units), dh, tmp)
    np.testing.assert_allclose(dh, dz @ w.T, rtol=tol, atol=tol)


@needs_numba
def test_gate_blocks_policy(monkeypatch):
    f32 = np.float32
    monkeypatch.setattr(backend, "_accelerator", "numba")
    monkeypatch.setattr(fused, "_gate_blocks_choice", {})
    measured = []
    monkeypatch.setattr(fused, "_measure_gate_blocks", lambda *a: measured.append(a) or True)
    assert fused.gate_blocks_faster(32, 128, 4, f32, 1)
    assert fused.gate_blocks_faster(32, 128, 4, f32, 1)
    assert measured == [(32, 128, 4, f32, False)]  # once per shape and dtype, then cached
    assert fused.gate_blocks_faster(32, 128, 4, f32, 1, backward=True)  # measured apart
    assert measured[1:] == [(32, 128, 4, f32, True)]
    assert not fused.gate_blocks_faster(32, 128, 1, f32, 1)  # one gate (SimpleRNN)
    assert not fused.gate_blocks_faster(32, 128, 4, f32, 2)  # BLAS's threads
    assert not fused.gate_blocks_faster(32, 128, 4, f32, None)
    assert not fused.gate_blocks_faster(32, 128, 4, np.float16, 1)
    monkeypatch.setattr(backend, "_accelerator", "numpy")  # the reference: one product
    assert not fused.gate_blocks_faster(32, 128, 4, f32, 1)
    assert len(measured) == 2


def test_gate_blocks_measurement_keeps_one_product_unless_clearly_faster(monkeypatch):
    monkeypatch.setattr(fused, "GATE_BLOCKS_MIN_MACS", 0)
    for backward in (False, True):
        monkeypatch.setattr(fused, "GATE_BLOCKS_MARGIN", 1e9)  # never that much faster
        assert fused._measure_gate_blocks(4, 8, 4, np.float32, backward) is False
        monkeypatch.setattr(fused, "GATE_BLOCKS_MARGIN", 0.0)  # any time at all is faster
        assert fused._measure_gate_blocks(4, 8, 4, np.float32, backward) is True
    monkeypatch.setattr(fused, "GATE_BLOCKS_MAX_MACS", 4 * 8 * 8 * 4 - 1)  # too large
    assert fused._measure_gate_blocks(4, 8, 4, np.float32) is False
    monkeypatch.setattr(fused, "GATE_BLOCKS_MAX_MACS", 1 << 27)
    monkeypatch.setattr(fused, "GATE_BLOCKS_MIN_MACS", 4 * 8 * 8 * 4 + 1)  # too small
    assert fused._measure_gate_blocks(4, 8, 4, np.float32) is False


@needs_numba
@pytest.mark.parametrize("cls", [LSTM, GRU], ids=["LSTM", "GRU"])
@pytest.mark.parametrize("dtype,tol", [("float32", 2e-6), ("float64", 1e-13)])
@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
def test_gate_block_products_match_the_numpy_cells(cls, dtype, tol, masked, monkeypatch):
    """A training step whose per-step products all go through gate blocks, against the
    reference NumPy cells (one product each)."""
    monkeypatch.setattr(fused, "packed_worthwhile", lambda *a: False)
    monkeypatch.setattr(fused, "_gate_blocks_choice", {})
    monkeypatch.setattr(fused, "_measure_gate_blocks", lambda *a: True)
    calls = []
    forward, backward = fused.gate_blocks_product, fused.gate_blocks_product_t
    monkeypatch.setattr(fused, "gate_blocks_product", lambda *a: calls.append(1) or forward(*a))
    monkeypatch.setattr(fused, "gate_blocks_product_t", lambda *a: calls.append(-1) or backward(*a))

    def none_in_the_reference():
        assert not calls

    _assert_numba_step_matches_numpy(cls, dtype, tol, masked, between=none_in_the_reference)
    assert calls == [1] * 9 + [-1] * 9  # every forward and backward step of the numba pass

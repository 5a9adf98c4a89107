"""The compiled time loops (rnnkit.kernels): their agreement with the NumPy reference
in float32 and float64, threads, the accelerator and thread-count switches, what
``kernel_info`` reports, and the fall-backs. The gradient checks and PyTorch
cross-checks run through both paths via the ``accelerator`` fixture."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import rnnkit
from rnnkit import backend, kernels
from rnnkit.layers import GRU, LSTM, SimpleRNN

needs_numba = pytest.mark.skipif(not kernels.available(), reason="numba is not usable here")
CLASSES = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SimpleRNN}


@pytest.fixture
def restore():
    """Puts the accelerator and the thread count back after a test."""
    saved = backend._accelerator, backend._num_threads, backend._threads_chosen
    yield
    backend._accelerator, backend._num_threads, backend._threads_chosen = saved


def _results_of(monkeypatch, name: str) -> list:
    """Wraps ``kernels.<name>`` so that each call's result is appended to the list
    returned (whether the product kernel took the product)."""
    results: list = []
    real = getattr(kernels, name)

    def spy(*args):
        done = real(*args)
        results.append(done)
        return done

    monkeypatch.setattr(kernels, name, spy)
    return results


def test_float32_tanh_approximation_error_is_bounded():
    x = np.linspace(-12, 12, 1_200_001, dtype=np.float32)
    y = kernels.tanh_f32_reference(x)
    ref = np.tanh(x.astype(np.float64))
    err = np.abs(y.astype(np.float64) - ref)
    ulps = err / np.spacing(np.abs(ref).astype(np.float32))
    assert err.max() < 3.5e-7
    assert ulps.max() < 6.0
    assert np.abs(y).max() <= 1.0
    np.testing.assert_array_equal(kernels.tanh_f32_reference(-x), -y)  # odd
    assert np.diff(y).min() > -7e-7  # monotone up to twice the error bound
    assert kernels.tanh_f32_reference(np.float32(0.0)) == 0.0


def _train_step(kind, dtype, accelerator, mask=None, batch=5, units=6, threads=None, **kw):
    """Outputs, dL/dx, weight and initial-state gradients of one training step, and
    what ran it."""
    backend.set_accelerator(accelerator)
    rnnkit.set_random_seed(7)  # the same dropout masks in both runs
    rng = np.random.default_rng(0)
    layer = CLASSES[kind](units, return_sequences=True, return_state=True, dtype=dtype, **kw)
    layer.blas_threads = threads
    layer.ensure_built((None, 4))
    layer.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(dtype) for w in layer.get_weights()])
    x = rng.standard_normal((batch, 9, 4)).astype(dtype)
    init = [rng.standard_normal((batch, units)).astype(dtype) for _ in layer.cell.state_names]
    out = layer.forward(x, training=True, mask=mask, initial_state=init)
    dys = [rng.standard_normal(o.shape).astype(dtype) for o in out]
    dx = layer.backward(dys)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    ran = backend.kernel_info()["ran"]
    name = type(layer.cell).__name__
    return (
        out,
        dx,
        grads,
        layer.initial_state_grads,
        (ran[f"{name}.forward"], ran[f"{name}.backward"]),
    )


def _mask(batch=5):
    mask = np.ones((batch, 9), bool)
    mask[1, 6:] = mask[batch - 1, 2:] = False
    mask[0, 0] = mask[batch // 2, 4] = False  # masked steps at the start and inside
    return mask


def _assert_close(ref, got, tol):
    for a, b in zip(ref[0], got[0]):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(b, a, rtol=tol, atol=tol)
    np.testing.assert_allclose(got[1], ref[1], rtol=tol, atol=tol)
    for k in ref[2]:
        np.testing.assert_allclose(got[2][k], ref[2][k], rtol=tol, atol=10 * tol, err_msg=k)
    for a, b in zip(ref[3], got[3]):
        np.testing.assert_allclose(b, a, rtol=tol, atol=tol)


OPTIONS = {
    "plain": {},
    "backwards": {"go_backwards": True},
    "dropout": {"dropout": 0.3, "recurrent_dropout": 0.4},
    "zero-output": {"zero_output_for_mask": True},
}


@needs_numba
@pytest.mark.parametrize("kind", sorted(CLASSES))
@pytest.mark.parametrize("dtype,tol", [("float32", 4e-6), ("float64", 1e-12)])
@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("product", ["rows", "tile"])
def test_compiled_loop_matches_the_reference(
    kind, dtype, tol, masked, option, product, restore, monkeypatch
):
    monkeypatch.setattr(kernels, "PRODUCT", product)
    mask = _mask() if masked else None
    ref = _train_step(kind, dtype, "numpy", mask, **OPTIONS[option])
    got = _train_step(kind, dtype, "numba", mask, **OPTIONS[option])
    assert ref[4] == ("the numpy accelerator",) * 2
    assert got[4] == ("numba-generic",) * 2
    _assert_close(ref, got, tol)


@needs_numba
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "linear"])
def test_simple_rnn_activations_run_compiled(activation, restore):
    ref = _train_step("SimpleRNN", "float64", "numpy", _mask(), activation=activation)
    got = _train_step("SimpleRNN", "float64", "numba", _mask(), activation=activation)
    assert got[4] == ("numba-generic",) * 2
    _assert_close(ref, got, 1e-12)


@needs_numba
@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", sorted(CLASSES))
@pytest.mark.parametrize("batch", [3, 13], ids=["units-split", "rows-split"])
@pytest.mark.parametrize("product", ["rows", "tile"])
def test_threads_split_work_without_changing_a_bit(kind, batch, product, restore, monkeypatch):
    """Two threads (rows and, for a small batch, unit chunks split between them) give
    the compiled loop's floats of one thread: no thread changes the order of a sum; and
    runs at a fixed count repeat to the bit."""
    monkeypatch.setattr(kernels, "PARALLEL_MIN_MACS", 0)
    monkeypatch.setattr(backend, "SPLIT_MIN_MACS", 0)  # the pass's products split too
    monkeypatch.setattr(backend, "SPLIT_THREADS_MIN_MACS", 0)
    monkeypatch.setattr(kernels, "PRODUCT", product)
    if kernels.pool_threads(2) < 2:
        pytest.skip("numba's pool has one thread here")
    # 40 units: chunks of 24 and 16 when the units are split
    assert kernels.work_split(batch, 40, 4, 2)[0] == 2
    one = _train_step(kind, "float32", "numba", _mask(batch), batch, 40, threads=1)
    two = _train_step(kind, "float32", "numba", _mask(batch), batch, 40, threads=2)
    again = _train_step(kind, "float32", "numba", _mask(batch), batch, 40, threads=2)
    # what the compiled loop makes: the outputs, final states and initial-state grads
    for a, b in zip(one[0] + list(one[3]), two[0] + list(two[3])):
        np.testing.assert_array_equal(a, b)
    # BLAS may sum the products over all steps (dU, dW) in another order at another
    # thread count, never run to run at the same one
    for a, b in zip([two[1], *two[2].values()], [again[1], *again[2].values()]):
        np.testing.assert_array_equal(a, b)
    for name in one[2]:
        np.testing.assert_allclose(two[2][name], one[2][name], rtol=1e-5, atol=1e-5)
    ref = _train_step(kind, "float32", "numpy", _mask(batch), batch, 40)
    _assert_close(ref, two, 2e-5)  # float32, 40 units: sums of another order


@needs_numba
@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_gradients_on_threads_by_central_differences(kind, restore, monkeypatch):
    """float64 central differences through a pass split over two threads, every split
    forced: the loop's rows shared out, the products over all steps on numba's threads
    (the tile for x·U, dL/dx; the transposed tile for dU, dW), with a mask."""
    from rnnkit.utils.gradient_check import check_layer

    if kernels.pool_threads(2) < 2:
        pytest.skip("numba's pool has one thread here")
    monkeypatch.setattr(kernels, "PARALLEL_MIN_MACS", 0)
    monkeypatch.setattr(backend, "SPLIT_MIN_MACS", 0)
    monkeypatch.setattr(backend, "SPLIT_THREADS_MIN_MACS", 0)
    backend.set_accelerator("numba")
    calls = _results_of(monkeypatch, "gemm_columns")
    layer = CLASSES[kind](6, return_sequences=True, dtype="float64")
    layer.blas_threads = 2
    rng = np.random.default_rng(4)
    x = rng.standard_normal((13, 9, 5))
    layer.ensure_built((9, 5))
    layer.set_weights([rng.uniform(-0.6, 0.6, w.shape) for w in layer.get_weights()])
    errors = check_layer(layer, x, forward_kwargs={"mask": _mask(13)})
    bad = {k: v for k, v in errors.items() if not v < 1e-6}
    assert not bad, errors
    assert calls and all(calls)  # dU and dW took the transposed tile


def test_work_split():
    assert kernels.work_split(64, 512, 4, 1) == (1, 512)
    if kernels.pool_threads(2) >= 2:
        assert kernels.work_split(64, 512, 4, 2) == (2, 512)  # 16 blocks of rows: enough
        # one block: its units in halves (whole panels of 24)
        assert kernels.work_split(4, 512, 4, 2) == (2, 264)
        # 5 or 3 blocks of rows do not share out over 2 threads: items of half the units
        assert kernels.work_split(20, 650, 4, 2) == (2, 336)
        assert kernels.work_split(12, 256, 4, 2) == (2, 144)
        assert kernels.work_split(2, 8, 1, 2) == (1, 8)  # too small to share
        # 0.5 M multiply-adds a step: worth sharing as whole blocks of rows (13 of them,
        # 7 and 6; 2 blocks, one each), not where the units would be split (3 blocks)
        assert kernels.work_split(50, 50, 4, 2) == (2, 50)
        assert kernels.work_split(8, 128, 4, 2) == (2, 128)
        assert kernels.work_split(12, 100, 4, 2) == (1, 100)
        assert kernels.work_split(16, 128, 3, 2) == (2, 128)  # the Reuters BiGRU's step


@needs_numba
def test_unsupported_activation_falls_back_once_with_a_note(restore):
    backend.set_accelerator("numba")
    backend._warned.discard(
        "reference:recurrent_activation 'hard_sigmoid' (the kernel has 'sigmoid')"
    )
    layer = LSTM(3, recurrent_activation="hard_sigmoid")
    x = np.ones((2, 4, 3), np.float32)
    with pytest.warns(RuntimeWarning, match="does not take recurrent_activation 'hard_sigmoid'"):
        layer(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once only
        layer(x)
    assert "hard_sigmoid" in backend.kernel_info()["ran"]["LSTMCell.forward"]
    layer = GRU(3, dtype="float16")
    with pytest.warns(RuntimeWarning, match="dtype float16"):
        layer(x)


def test_set_accelerator_validates_and_round_trips(restore):
    with pytest.raises(ValueError, match="argument name.*'auto', 'numba', 'numpy'.*'cuda'"):
        backend.set_accelerator("cuda")
    backend.set_accelerator("NumPy")
    assert backend.accelerator() == "numpy"
    assert backend.kernel_info()["kernel"] == "numpy"
    backend.set_accelerator("auto")
    assert backend.accelerator() == ("numba" if kernels.available() else "numpy")


def test_without_numba_the_reference_runs_and_says_so_once(restore, monkeypatch):
    monkeypatch.setitem(kernels._state, "numba", None)  # as if the import had failed
    monkeypatch.setitem(kernels._state, "reason", "ImportError: No module named 'numba'")
    monkeypatch.setattr(backend, "_warned", set())
    with pytest.warns(RuntimeWarning, match="numba is not usable here.*No module named"):
        backend.set_accelerator("numba")
    assert backend.accelerator() == "numpy"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        backend._accelerator = "auto"
        assert backend.accelerator() == "numpy"
        info = backend.kernel_info()
        layer = LSTM(4, return_sequences=True)
        y = layer(np.ones((2, 3, 2), np.float32))
        layer.backward(np.ones_like(y))
    assert info["accelerator"] == info["kernel"] == "numpy" and info["numba"] is None
    assert backend.kernel_info()["ran"]["LSTMCell.backward"] == "the numpy accelerator"


def test_bad_environment_value_is_named(monkeypatch):
    monkeypatch.setattr(backend, "_accelerator", "gpu")
    with pytest.raises(ValueError, match="environment variable RNNKIT_ACCELERATOR.*'gpu'"):
        backend.accelerator()


@pytest.mark.parametrize("bad", [0, -2, 1.5, "two", True, None])
def test_thread_count_must_be_a_positive_integer(bad, restore):
    with pytest.raises(ValueError, match=f"argument n, expected a positive integer, got {bad!r}"):
        backend.set_num_threads(bad)


def test_thread_count_from_the_environment(restore, monkeypatch):
    backend._num_threads = None
    monkeypatch.setenv("RNNKIT_NUM_THREADS", "3")
    assert backend.get_num_threads() == 3
    backend._num_threads = None
    monkeypatch.setenv("RNNKIT_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="environment variable RNNKIT_NUM_THREADS.*'many'"):
        backend.get_num_threads()
    backend._num_threads = None
    monkeypatch.delenv("RNNKIT_NUM_THREADS")
    assert backend.get_num_threads() >= 1  # every core this process may use
    backend.set_num_threads(1)
    assert backend.get_num_threads() == 1 and backend.kernel_info()["threads"] == 1


def test_set_num_threads_sets_blas_through_threadpoolctl(restore, monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return {
            p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"
        }

    backend.set_num_threads(1)
    assert blas_threads() == {1}
    # a count nobody chose leaves BLAS alone
    monkeypatch.setattr(backend, "_threads_chosen", False)
    monkeypatch.setattr(backend, "_applied_threads", None)
    monkeypatch.setattr(backend, "_num_threads", 5)
    assert backend.apply_num_threads() == 5 and blas_threads() == {1}
    assert backend.apply_num_threads(1) == 1 and backend._applied_threads == 1


@needs_numba
def test_kernel_info_names_what_ran(restore):
    backend.set_accelerator("numba")
    layer = GRU(4, return_sequences=True)
    y = layer(np.ones((2, 3, 2), np.float32))
    layer.backward(np.ones_like(y))
    info = backend.kernel_info()
    assert info["accelerator"] == "numba" and info["kernel"] == "generic"
    assert info["numba"] and info["threads"] == backend.get_num_threads()
    assert info["ran"]["GRUCell.forward"] == info["ran"]["GRUCell.backward"] == "numba-generic"
    layer.record_state_grads = True  # the diagnostics' per-step norms: the reference loop
    y = layer(np.ones((2, 3, 2), np.float32))
    layer.backward(np.ones_like(y))
    assert backend.kernel_info()["ran"]["GRUCell.backward"] == "numpy"
    assert layer.state_grad_norms.shape == (2, 3)


@needs_numba
def test_compiled_loop_propagates_nan_and_inf_as_the_reference(restore):
    x = np.zeros((2, 4, 3), np.float32)
    x[0, 1, 0] = np.nan
    x[1, 2, 1] = np.inf
    x[1, 3, 2] = -np.inf
    for kind, cls in CLASSES.items():
        outs = []
        for acc in ("numpy", "numba"):
            backend.set_accelerator(acc)
            rnnkit.set_random_seed(3)
            outs.append(cls(5, return_sequences=True, dtype="float32")(x))
        assert np.isfinite(outs[1][:, 0]).all(), kind
        assert np.isnan(outs[1][0, 1:]).all(), kind
        np.testing.assert_allclose(outs[1], outs[0], rtol=1e-6, atol=1e-6, equal_nan=True)


@needs_numba
def test_generic_kernel_product_sums_in_order():
    """matmul.acc_rows at every edge of its blocking (rows % 4, k % 4) equals the
    product summed over k in order (a float64 product of exact small integers)."""
    from rnnkit.kernels.matmul import acc_rows

    rng = np.random.default_rng(0)
    for m, k, n in [(1, 1, 1), (3, 5, 7), (4, 4, 16), (9, 10, 33), (13, 129, 40)]:
        a = rng.integers(-3, 4, (m, k)).astype(np.float64)
        w = rng.integers(-3, 4, (k, n + 5)).astype(np.float64)
        out = rng.integers(-3, 4, (m, n + 2)).astype(np.float64)
        want = out.copy()
        want[1:m, 2 : 2 + n] += a[1:] @ w[:, 5:]
        acc_rows(a, w, out, 1, m, 5, 2, n)
        np.testing.assert_array_equal(out, want)


@needs_numba
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tile_kernel_product_at_every_edge(dtype):
    """tile.acc_tile (the register tile over packed panels) at every edge of its
    blocking (1-4 rows, ranges that start and end at a panel, inside a vector, at a
    vector's edge, span panels; any k) equals the product: exact small integers, so
    that any order of the sum gives the same floats."""
    from rnnkit.kernels.tile import acc_tile, pack, panel_width

    nr = panel_width(dtype)
    lanes = nr // 3
    rng = np.random.default_rng(0)
    for m, k, n_all in [(1, 1, 1), (3, 5, 7), (4, 4, nr), (9, 10, 2 * nr + 5), (13, 129, 40),
                        (2, 300, 4 * nr + 1), (6, 33, 3 * nr)]:
        w = rng.integers(-3, 4, (k, n_all)).astype(dtype)
        wp = pack(w)
        assert wp.shape == (-(-n_all // nr), k, nr)
        a = rng.integers(-3, 4, (m, k)).astype(dtype)
        starts = {0, 1, lanes, nr, nr + lanes + 1, n_all - 1}
        for wc in sorted(x for x in starts if x < n_all):
            for n in {1, lanes, nr - 1, n_all - wc}:
                n = min(n, n_all - wc)
                out = rng.integers(-3, 4, (m, n_all + 2)).astype(dtype)
                want = out.copy()
                want[1:m, 2 : 2 + n] += a[1:] @ w[:, wc : wc + n]
                acc_tile(a, wp, out, 1, m, wc, 2, n)
                np.testing.assert_array_equal(out, want, err_msg=f"{(m, k, n_all, wc, n)}")
    # the packing reads W in any layout (BPTT packs Wᵀ, a transposed view)
    w = rng.standard_normal((30, 4 * 29)).astype(dtype)
    np.testing.assert_array_equal(pack(w.T), pack(np.ascontiguousarray(w.T)))


def test_split_products_equal_one_product(restore, monkeypatch):
    """backend.matmul inside split_products: the rows shared out over threads give
    np.matmul's product (float64, exact small integers), a transposed operand and an
    output that is a column block included; outside it, one product."""
    monkeypatch.setattr(backend, "SPLIT_THREADS_MIN_MACS", 0)  # (these are small)
    rng = np.random.default_rng(1)
    a = rng.integers(-3, 4, (300, 200)).astype(np.float64)
    b = rng.integers(-3, 4, (200, 120)).astype(np.float64)
    want = a @ b
    for threads in (1, 2, 3):
        with backend.split_products(threads):
            out = backend.matmul(a, b, np.empty((300, 120)))
            np.testing.assert_array_equal(out, want)
            big = np.zeros((200, 400))
            backend.matmul(a.T, want, big[:, 100:220])
            np.testing.assert_array_equal(big[:, 100:220], a.T @ want)
            assert not big[:, :100].any() and not big[:, 220:].any()
    with pytest.raises(ValueError):  # np.matmul's own shape error, from the caller's thread
        with backend.split_products(2):
            backend.matmul(a, a, np.empty((300, 200)))


@needs_numba
def test_split_products_run_on_numba_threads_where_they_fit(restore, monkeypatch):
    """Inside split_products the moderate products run as the register tile on numba's
    threads (kernels.gemm) and equal np.matmul; a long inner dimension, a dtype the
    kernels lack and overlapping arrays take kernels.gemm_columns or the product
    threads instead."""
    if kernels.pool_threads(2) < 2:
        pytest.skip("numba's pool has one thread here")
    backend.set_accelerator("numba")
    calls = []
    real = kernels.gemm

    def spy(*args):
        done = real(*args)
        if done:
            calls.append(args[0].shape)
        return done

    monkeypatch.setattr(kernels, "gemm", spy)
    rng = np.random.default_rng(2)
    for dtype in ("float32", "float64"):
        a = rng.integers(-3, 4, (257, 96)).astype(dtype)
        b = rng.integers(-3, 4, (96, 203)).astype(dtype)
        with backend.split_products(2):
            out = backend.matmul(a, b, np.empty((257, 203), dtype))
        np.testing.assert_array_equal(out, a @ b)
    assert calls == [(257, 96), (257, 96)]
    by_columns = _results_of(monkeypatch, "gemm_columns")
    long_k = rng.standard_normal((64, backend.GEMM_MAX_K + 1))
    half = rng.standard_normal((4096, 64)).astype(np.float16)
    with backend.split_products(2):
        got_long = backend.matmul(long_k, long_k.T, np.empty((64, 64)))
        backend.matmul(half, half.T[:, :1024], np.empty((4096, 1024), np.float16))
        x = rng.standard_normal((512, 512))
        got_t = backend.matmul(x.T, x[:, :256], np.empty((512, 256)))
        want_t = x.T @ x[:, :256]
        want = x @ x[:, :256]
        got = backend.matmul(x, x[:, :256], x[:, 256:])  # (out overlaps an operand)
    assert len(calls) == 2
    # the long inner dimension and the transposed operand by columns; the overlap not
    assert by_columns == [True, True, False]
    np.testing.assert_allclose(got_long, long_k @ long_k.T)
    np.testing.assert_allclose(got_t, want_t)
    np.testing.assert_allclose(got, want)


@needs_numba
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_products_by_columns_on_numba_threads_equal_matmul(dtype, restore, monkeypatch):
    """xᵀ·b (the weight gradients) and a·b on numba's threads, by whole panels of
    columns (kernels.gemm_columns), equal np.matmul exactly on small integers: inner
    dimensions across and off its blocks, rows off the tile's four and across its
    blocks, columns off its panels, fewer panels than threads, b a column block of a
    wider array, out a column block; the same floats at every thread count; and
    backend.matmul takes it inside split_products for a transposed operand."""
    from rnnkit.kernels import tile

    rng = np.random.default_rng(3)
    nr = tile.panel_width(dtype)
    shapes = ((1, 1, 1), (7, 3, 5), (tile.K_BLOCK + 9, tile.M_BLOCK + 6, 2 * nr + 7), (600, 5, nr))
    for k, m, n in shapes:
        for a in (rng.integers(-3, 4, (k, m)).astype(dtype).T, rng.integers(-3, 4, (m, k))):
            a = a.astype(dtype)
            wide = rng.integers(-3, 4, (k, n + 9)).astype(dtype)
            b = wide[:, 4 : 4 + n]  # (rows strided)
            for threads in (1, 2, 3):
                big = np.full((m, n + 6), 7, dtype)
                assert kernels.gemm_columns(a, b, big[:, 2 : 2 + n], threads)
                np.testing.assert_array_equal(big[:, 2 : 2 + n], a @ b, err_msg=f"{(k, m, n)}")
                assert (big[:, :2] == 7).all() and (big[:, 2 + n :] == 7).all()
        x = rng.standard_normal((k, m)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        floats = [np.empty((m, n), dtype) for _ in range(3)]
        for threads, out in zip((1, 2, 3), floats):
            kernels.gemm_columns(x.T, b, out, threads)
        np.testing.assert_array_equal(floats[0], floats[1])
        np.testing.assert_array_equal(floats[0], floats[2])
    x = rng.integers(-3, 4, (40, 30)).astype(dtype)
    # what it does not take: a neither C nor F, shapes that do not match, overlaps
    assert not kernels.gemm_columns(x[::2].T, x[:20], np.empty((30, 30), dtype), 2)
    assert not kernels.gemm_columns(x.T, x, np.empty((30, 31), dtype), 2)
    assert not kernels.gemm_columns(x.T, x[:, :10], x[:30, 20:], 2)
    assert not kernels.gemm_columns(x.T, x.astype(np.float16), np.empty((30, 30), dtype), 2)
    if kernels.pool_threads(2) < 2:
        return
    backend.set_accelerator("numba")
    monkeypatch.setattr(backend, "SPLIT_MIN_MACS", 0)
    calls = _results_of(monkeypatch, "gemm_columns")
    x = rng.integers(-3, 4, (300, 64)).astype(dtype)
    b = rng.integers(-3, 4, (300, 100)).astype(dtype)
    with backend.split_products(2):
        out = backend.matmul(x.T, b, np.empty((64, 100), dtype))
    np.testing.assert_array_equal(out, x.T @ b)
    assert calls == [True]
    backend.matmul(x.T, b, out)  # outside split_products: BLAS
    assert calls == [True]


@needs_numba
def test_a_compiled_pass_on_threads_gives_blas_one_thread(restore, monkeypatch):
    """A compiled pass on several threads runs BLAS on one and splits its products over
    rnnkit's threads, whether its loop splits its steps or runs on one thread (a
    multi-threaded BLAS product leaves workers spinning on the cores the loop and the
    caller's next work need); the reference loop gives BLAS the count."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if kernels.pool_threads(2) < 2:
        pytest.skip("numba's pool has one thread here")
    seen = []
    real = backend.split_products

    def blas_threads():
        pools = threadpoolctl.threadpool_info()
        return {p["num_threads"] for p in pools if p["user_api"] == "blas"}

    def spy(threads):
        seen.append((threads, blas_threads()))
        return real(threads)

    monkeypatch.setattr(backend, "split_products", spy)
    backend.set_accelerator("numba")
    backend.set_num_threads(2)
    layer = LSTM(64, return_sequences=True)
    layer.ensure_built((None, 8))
    x = np.ones((32, 5, 8), np.float32)
    for min_macs in (0, 1 << 40):  # the loop split over 2 threads, then on one
        monkeypatch.setattr(kernels, "PARALLEL_MIN_MACS", min_macs)
        monkeypatch.setattr(kernels, "PARALLEL_MIN_MACS_BLOCKS", min_macs)
        assert kernels.work_split(32, 64, 4, 2)[0] == (2 if min_macs == 0 else 1)
        seen.clear()
        layer.backward(np.ones_like(layer.forward(x, training=True)))
        assert [t for t, _ in seen] == [2, 2]
        assert blas_threads() == {1}
    backend.set_accelerator("numpy")
    seen.clear()
    layer.forward(x)
    assert seen == []
    assert blas_threads() == {2}


@needs_numba
def test_without_threadpoolctl_the_loop_runs_on_one_thread(restore, monkeypatch):
    """Where BLAS cannot be kept on one thread (no threadpoolctl), a compiled pass on
    several threads runs its loop on one, says so once, and splits no product."""
    if kernels.pool_threads(2) < 2:
        pytest.skip("numba's pool has one thread here")
    backend.set_accelerator("numba")
    backend.set_num_threads(2)
    monkeypatch.setattr(backend, "can_limit_blas", lambda: False)
    monkeypatch.setattr(kernels, "PARALLEL_MIN_MACS", 0)
    backend._warned.discard("threads:no-threadpoolctl")
    seen = []
    real = kernels.forward

    def spy(*args):
        seen.append(args[-1])
        return real(*args)

    monkeypatch.setattr(kernels, "forward", spy)
    monkeypatch.setattr(backend, "split_products", lambda n: pytest.fail("products split"))
    layer = LSTM(16, return_sequences=True)
    layer.ensure_built((None, 4))
    x = np.ones((8, 3, 4), np.float32)
    with pytest.warns(RuntimeWarning, match="threadpoolctl is not installed"):
        layer.forward(x)
    layer.backward(np.ones_like(layer.forward(x, training=True)))
    assert seen == [1, 1]

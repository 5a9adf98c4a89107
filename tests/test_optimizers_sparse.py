"""Row-sparse embedding gradients (rnnkit.optimizers.RowSparse): the Embedding's
backward, norms and clipping on them, every optimizer's update from them against the
dense update, and LazyAdam against a NumPy reference and PyTorch's SparseAdam. Each
runs through the compiled kernels (rnnkit._fused_adam) and the NumPy lines."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import backend, optimizers
from rnnkit.layers import LSTM, Dense, Embedding, TiedDense
from rnnkit.models import Sequential
from rnnkit.optimizers import LazyAdam, RowSparse
from rnnkit.utils import gradient_check

try:
    import numba  # noqa: F401

    ACCELERATORS = ["numpy", "numba"]
except ImportError:  # the NumPy lines still run
    ACCELERATORS = ["numpy"]


@pytest.fixture(params=ACCELERATORS)
def accelerator(request):
    previous = backend._accelerator
    backend.set_accelerator(request.param)
    yield request.param
    backend._accelerator = previous


def _ids(rng, shape, vocab):
    ids = rng.integers(0, vocab, size=shape)
    ids.ravel()[: ids.size // 4] = 3  # a frequent id: duplicates to sum
    return ids


# ---- the type -------------------------------------------------------------------------
def test_row_sparse_reads_as_its_dense_array():
    g = RowSparse(np.array([1, 4]), np.array([[1.0, 2.0], [3.0, -4.0]]), (6, 2))
    dense = np.zeros((6, 2))
    dense[1], dense[4] = [1.0, 2.0], [3.0, -4.0]
    np.testing.assert_array_equal(np.asarray(g), dense)
    np.testing.assert_array_equal(g.to_dense(), dense)
    assert np.asarray(g, dtype=np.float32).dtype == np.float32
    assert (g.shape, g.ndim, g.size, g.dtype) == ((6, 2), 2, 12, np.float64)
    c = g.copy()
    c.values[0, 0] = 99.0
    assert g.values[0, 0] == 1.0  # a copy owns its values
    np.testing.assert_array_equal(np.asarray(g * 2.0), 2 * dense)
    np.testing.assert_array_equal(np.asarray(0.5 * g), 0.5 * dense)
    assert g.astype(np.float64, copy=False) is g
    assert g.astype(np.float32).dtype == np.float32
    acc = np.ones((6, 2))
    acc += g  # what a shared layer's accumulation does
    np.testing.assert_array_equal(acc, 1 + dense)
    assert optimizers.to_dense(g).shape == (6, 2) and optimizers.to_dense(acc) is acc
    assert "2 rows used" in repr(g)


def test_row_sparse_rejects_inconsistent_parts():
    with pytest.raises(ValueError, match="values"):
        RowSparse(np.array([0, 1]), np.zeros((3, 2)), (5, 2))
    with pytest.raises(ValueError, match="2-D"):
        RowSparse(np.array([0]), np.zeros((1, 2)), (5, 2, 1))
    with pytest.raises(ValueError, match="sorted, unique and in \\[0, 5\\)"):
        RowSparse(np.array([0, 5]), np.zeros((2, 2)), (5, 2))  # past the last row
    with pytest.raises(ValueError, match="not strictly increasing"):
        RowSparse(np.array([2, 2]), np.zeros((2, 2)), (5, 2))
    with pytest.raises(ValueError, match="from -1"):
        RowSparse(np.array([-1, 2]), np.zeros((2, 2)), (5, 2))
    with pytest.raises(TypeError, match="integers"):
        RowSparse(np.array([0.0, 1.5]), np.zeros((2, 2)), (5, 2))
    empty = RowSparse(np.array([], np.int64), np.zeros((0, 2)), (5, 2))
    assert not np.asarray(empty).any()
    opt = optimizers.Adam()
    with pytest.raises(ValueError, match="shape"):
        opt.apply([np.zeros((4, 2))], [RowSparse(np.array([0]), np.zeros((1, 2)), (5, 2))])


# ---- the embedding's backward ---------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_gradient_is_the_rows_used(accelerator, dtype):
    rng = np.random.default_rng(0)
    emb = Embedding(50, 6, mask_zero=True, dtype=dtype)
    ids = _ids(rng, (7, 11), 50)
    emb(ids)
    dy = rng.standard_normal((7, 11, 6)).astype(dtype)
    emb.backward(dy)
    g = emb.grads["embeddings"]
    assert isinstance(g, RowSparse) and g.dtype == dtype
    np.testing.assert_array_equal(g.rows, np.unique(ids))
    ref = np.zeros((50, 6), dtype)
    np.add.at(ref, ids.ravel(), dy.reshape(-1, 6))
    np.testing.assert_array_equal(np.asarray(g), ref)  # summed in the same order
    assert emb.gradients()[0] is g


def test_embedding_gradient_check_reads_the_sparse_gradient(accelerator):
    rng = np.random.default_rng(1)
    emb = Embedding(9, 3, dtype=np.float64)
    errors = gradient_check.check_layer(emb, _ids(rng, (4, 5), 9), check_input=False)
    assert errors["embeddings"] < 1e-8


def test_tied_embedding_gradient_is_dense_and_the_sum(accelerator):
    rng = np.random.default_rng(2)
    emb = Embedding(12, 4, dtype=np.float64)
    out = TiedDense(emb, dtype=np.float64)
    model = Sequential([emb, LSTM(4, return_sequences=True, dtype=np.float64), out])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    ids = _ids(rng, (3, 5), 12)
    model.train_on_batch(ids, rng.integers(0, 12, size=(3, 5)))
    g = emb.grads["embeddings"]
    assert isinstance(g, np.ndarray) and g.flags.c_contiguous
    errors = gradient_check.check_model(model, ids, rng.integers(0, 12, size=(3, 5)), eps=1e-5)
    assert errors[f"{emb.name}/embeddings"] < 1e-6  # the tied share and the rows used
    assert max(errors.values()) < 1e-4


# ---- norms, clipping, and the dense semantics of every optimizer ----------------------
def test_global_norm_of_a_sparse_gradient_is_the_dense_norm():
    rng = np.random.default_rng(3)
    g = RowSparse(np.array([0, 5, 9]), rng.standard_normal((3, 4)), (10, 4))
    w = rng.standard_normal((2, 3))
    assert optimizers.global_norm([g, w]) == pytest.approx(
        optimizers.global_norm([np.asarray(g), w]), rel=1e-14
    )


OPTIMIZERS = {
    "sgd": lambda **kw: optimizers.SGD(learning_rate=0.1, **kw),
    "sgd_momentum": lambda **kw: optimizers.SGD(learning_rate=0.1, momentum=0.9, **kw),
    "sgd_nesterov": lambda **kw: optimizers.SGD(0.1, momentum=0.8, nesterov=True, **kw),
    "rmsprop": lambda **kw: optimizers.RMSprop(learning_rate=0.01, **kw),
    "adagrad": lambda **kw: optimizers.Adagrad(learning_rate=0.1, **kw),
    "adagrad_no_eps": lambda **kw: optimizers.Adagrad(
        0.1, initial_accumulator_value=0.0, epsilon=0.0, **kw
    ),
    "adam": lambda **kw: optimizers.Adam(learning_rate=0.01, **kw),
    "adam_torch_form": lambda **kw: optimizers.Adam(
        learning_rate=0.01, epsilon=1e-8, epsilon_form="torch", **kw
    ),
}
CLIPPING = {
    "none": {},
    "clipnorm": {"clipnorm": 0.5},
    "global_clipnorm": {"global_clipnorm": 0.7},
    "clipvalue": {"clipvalue": 0.05},
}


def _run(make, sparse, dtype, steps=6, seed=4):
    """``steps`` updates of a (40, 5) table (a few rows per step, some rows never) and a
    dense weight beside it, from row-sparse gradients or their dense arrays."""
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((40, 5)).astype(dtype)
    other = rng.standard_normal((3, 5)).astype(dtype)
    opt = make()
    for _ in range(steps):  # (Adagrad without ε: NaN on unused rows, in both forms)
        rows = np.unique(rng.integers(0, 30, size=6))  # rows 30-39: never used
        g = RowSparse(rows, rng.standard_normal((rows.size, 5)).astype(dtype), table.shape)
        g_other = rng.standard_normal(other.shape).astype(dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            opt.apply([table, other], [g if sparse else np.asarray(g), g_other])
    return [table, other, *(a for arrays in opt.slots.values() for a in arrays)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("clip", list(CLIPPING))
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_sparse_update_equals_the_dense_update(accelerator, name, clip, dtype):
    def make():
        return OPTIMIZERS[name](**CLIPPING[clip])

    dense = _run(make, sparse=False, dtype=dtype)
    sparse = _run(make, sparse=True, dtype=dtype)
    assert len(dense) == len(sparse)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    for want, got in zip(dense, sparse, strict=True):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", ["adam", "adam_torch_form", "sgd_momentum", "rmsprop"])
def test_compiled_sparse_update_gives_the_dense_floats(name):
    """The compiled row kernels put a zero through the dense lines' operations: the
    floats are the dense update's, bit for bit, a NaN gradient included."""
    pytest.importorskip("numba")
    previous = backend._accelerator
    try:
        backend.set_accelerator("numba")
        runs = []
        for sparse in (False, True):
            rng = np.random.default_rng(5)
            table = rng.standard_normal((20, 16)).astype(np.float32)
            opt = OPTIMIZERS[name]()
            for step in range(5):
                rows = np.unique(rng.integers(0, 15, size=4))
                vals = rng.standard_normal((rows.size, 16)).astype(np.float32)
                if step == 3:
                    vals[0, 2] = np.nan
                g = RowSparse(rows, vals, table.shape)
                opt.apply([table], [g if sparse else np.asarray(g)])
            runs.append([table, *(a for arrays in opt.slots.values() for a in arrays)])
    finally:
        backend._accelerator = previous
    for want, got in zip(*runs, strict=True):
        np.testing.assert_array_equal(got, want)
    assert np.isnan(runs[1][0]).any() and np.isfinite(runs[1][0][15:]).all()


def test_model_with_sparse_embedding_gradient_trains_as_with_the_dense_one(accelerator):
    """A whole classifier (embedding, LSTM, softmax; Adam with global clipping): the
    row-sparse embedding gradient and its dense array give the same weights."""

    class DenseGradEmbedding(Embedding):
        def backward(self, dy):
            out = super().backward(dy)
            self.grads["embeddings"] = np.asarray(self.grads["embeddings"])
            return out

    rng = np.random.default_rng(6)
    x = rng.integers(0, 60, size=(24, 9))
    x[:, :3] = 0  # padding
    y = rng.integers(0, 4, size=24)
    results = []
    for emb_cls in (DenseGradEmbedding, Embedding):
        backend.set_random_seed(0)
        model = Sequential(
            [emb_cls(60, 8, mask_zero=True), LSTM(6), Dense(4, activation="softmax")]
        )
        model.compile(
            optimizer=optimizers.Adam(0.01, global_clipnorm=0.1),
            loss="sparse_categorical_crossentropy",
        )
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
        results.append(model.get_weights())
    for want, got in zip(*results, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


# ---- LazyAdam -------------------------------------------------------------------------
def _lazy_adam_reference(p, grads, lr, b1, b2, eps, torch_form):
    """TF Addons LazyAdam / PyTorch SparseAdam in float64 NumPy: Adam's lines on the
    rows each gradient holds, the global step in the bias corrections."""
    p = p.astype(np.float64).copy()
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, (rows, vals) in enumerate(grads, start=1):
        m[rows] = b1 * m[rows] + (1 - b1) * vals
        v[rows] = b2 * v[rows] + (1 - b2) * vals**2
        if torch_form:
            denom = np.sqrt(v[rows]) / np.sqrt(1 - b2**t) + eps
            p[rows] -= lr / (1 - b1**t) * m[rows] / denom
        else:
            p[rows] -= lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m[rows] / (np.sqrt(v[rows]) + eps)
    return p, m, v


def _sparse_steps(rng, n_rows, n_cols, steps):
    out = []
    for _ in range(steps):
        rows = np.unique(rng.integers(0, n_rows - 3, size=5))
        out.append((rows, rng.standard_normal((rows.size, n_cols))))
    return out


@pytest.mark.parametrize("form", ["keras", "torch"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lazy_adam_moves_only_the_rows_used(accelerator, form, dtype):
    rng = np.random.default_rng(7)
    p0 = rng.standard_normal((12, 3))
    grads = _sparse_steps(rng, 12, 3, 8)
    eps = 1e-7 if form == "keras" else 1e-8
    want_p, want_m, want_v = _lazy_adam_reference(p0, grads, 0.01, 0.9, 0.999, eps, form == "torch")
    p = p0.astype(dtype)
    opt = LazyAdam(learning_rate=0.01, epsilon=eps, epsilon_form=form)
    for rows, vals in grads:
        opt.apply([p], [RowSparse(rows, vals.astype(dtype), p.shape)])
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(p, want_p, rtol=tol, atol=tol)
    np.testing.assert_allclose(opt.slots["m"][0], want_m, rtol=tol, atol=tol)
    np.testing.assert_allclose(opt.slots["v"][0], want_v, rtol=tol, atol=tol)
    np.testing.assert_array_equal(p[-3:], p0[-3:].astype(dtype))  # never used: untouched


@pytest.mark.filterwarnings("ignore:Sparse invariant checks")
def test_lazy_adam_matches_pytorch_sparse_adam():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    p0 = rng.standard_normal((10, 4))
    grads = _sparse_steps(rng, 10, 4, 6)
    p = p0.copy()
    opt = LazyAdam(learning_rate=0.05, epsilon=1e-8)  # SparseAdam adds ε to √v, as Keras
    tp = torch.nn.Parameter(torch.tensor(p0))
    topt = torch.optim.SparseAdam([tp], lr=0.05, eps=1e-8)
    for rows, vals in grads:
        opt.apply([p], [RowSparse(rows, vals, p.shape)])
        idx = torch.tensor(rows[None, :])
        tp.grad = torch.sparse_coo_tensor(idx, torch.tensor(vals), tp.shape)
        topt.step()
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_lazy_adam_differs_from_adam_and_is_adam_on_dense_gradients(accelerator):
    rng = np.random.default_rng(9)
    grads = _sparse_steps(rng, 10, 2, 4)
    w0 = rng.standard_normal((10, 2))
    lazy, dense = w0.copy(), w0.copy()
    lazy_opt, adam_opt = LazyAdam(0.01), optimizers.Adam(0.01)
    d_lazy, d_adam = w0[:3].copy(), w0[:3].copy()
    for rows, vals in grads:
        g = RowSparse(rows, vals, w0.shape)
        dg = vals[:1].repeat(3, axis=0)
        lazy_opt.apply([lazy, d_lazy], [g, dg])
        adam_opt.apply([dense, d_adam], [g, dg])
    np.testing.assert_array_equal(d_lazy, d_adam)  # a dense gradient: Adam's update
    assert not np.allclose(lazy, dense)  # rows left out move under Adam only


def test_lazy_adam_by_name_and_through_a_saved_config():
    opt = optimizers.get("lazy_adam")
    assert isinstance(opt, LazyAdam) and opt.name == "lazy_adam"
    opt = LazyAdam(learning_rate=0.02, beta_1=0.8, epsilon_form="torch", clipnorm=1.0)
    back = optimizers.deserialize(optimizers.serialize(opt))
    assert type(back) is LazyAdam and back.get_config() == opt.get_config()
    with pytest.raises(ValueError, match="lazy_adam"):
        optimizers.get("lazyadam")


def test_model_trains_with_lazy_adam_and_leaves_unused_rows(accelerator):
    rng = np.random.default_rng(10)
    x = rng.integers(1, 30, size=(16, 6))  # ids 30-39 never appear
    y = rng.integers(0, 3, size=16)
    emb = Embedding(40, 5)
    model = Sequential([emb, LSTM(4), Dense(3, activation="softmax")])
    model.compile(optimizer="lazy_adam", loss="sparse_categorical_crossentropy")
    model.fit(x[:2], y[:2], epochs=1, verbose=0)  # builds the model
    before = emb.params["embeddings"].copy()
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    after = emb.params["embeddings"]
    np.testing.assert_array_equal(after[30:], before[30:])
    assert not np.allclose(after[1:30], before[1:30])
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_gradient_with_no_rows_is_a_zero_gradient(accelerator, name):
    rng = np.random.default_rng(11)
    start = rng.standard_normal((6, 3))
    runs = []
    for sparse in (False, True):
        table, opt = start.copy(), OPTIMIZERS[name]()
        for step in range(3):
            rows = np.array([1, 4]) if step == 0 else np.array([], np.int64)
            g = RowSparse(rows, np.full((rows.size, 3), 0.5), table.shape)
            with np.errstate(invalid="ignore", divide="ignore"):
                opt.apply([table], [g if sparse else np.asarray(g)])
        runs.append(table)
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-13, atol=1e-13)

"""Property-based checks (hypothesis): random shapes, masks, dtypes and values against
the rules and invariants — padding changes nothing, a batch predicts as its samples
do one by one, bad input is refused with a named argument."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnkit
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN
from rnnkit.models import Sequential
from rnnkit.preprocessing.sequence import pad_sequences

CELLS = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def id_model(kind, units, vocab, bidirectional, dtype):
    rnnkit.set_random_seed(0)
    rnn = CELLS[kind](units, dtype=dtype)
    model = Sequential(
        [
            Embedding(vocab, 3, mask_zero=True, dtype=dtype),
            Bidirectional(rnn, dtype=dtype) if bidirectional else rnn,
            Dense(2, activation="softmax", dtype=dtype),
        ]
    )
    model.compile("sgd", "sparse_categorical_crossentropy")
    return model


sequences = st.lists(st.lists(st.integers(1, 9), min_size=1, max_size=12), min_size=1, max_size=6)


@SETTINGS
@given(
    seqs=sequences,
    kind=st.sampled_from(sorted(CELLS)),
    units=st.integers(1, 5),
    bidirectional=st.booleans(),
    extra=st.integers(0, 15),
    padding=st.sampled_from(["pre", "post"]),
    dtype=st.sampled_from(["float32", "float64"]),
)
def test_batch_equals_one_by_one_and_padding_is_invisible(
    seqs, kind, units, bidirectional, extra, padding, dtype
):
    model = id_model(kind, units, 10, bidirectional, dtype)
    longest = max(len(s) for s in seqs)
    batch = pad_sequences(seqs, maxlen=longest + extra, padding=padding)
    together = model.predict(batch)
    one_by_one = np.concatenate([model.predict(np.array([s])) for s in seqs])
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(together, one_by_one, rtol=tol, atol=tol)
    assert together.dtype == np.dtype(dtype)
    np.testing.assert_allclose(together.sum(axis=1), 1.0, rtol=tol)


@SETTINGS
@given(
    batch=st.integers(1, 4),
    steps=st.integers(1, 8),
    features=st.integers(1, 4),
    kind=st.sampled_from(sorted(CELLS)),
    return_sequences=st.booleans(),
    go_backwards=st.booleans(),
)
def test_output_shapes_follow_the_declared_shape(
    batch, steps, features, kind, return_sequences, go_backwards
):
    layer = CELLS[kind](3, return_sequences=return_sequences, go_backwards=go_backwards)
    x = np.random.default_rng(0).standard_normal((batch, steps, features))
    out = layer(x)
    assert out.shape == (batch,) + tuple(layer.compute_output_shape((steps, features)))
    assert np.isfinite(out).all()


@SETTINGS
@given(
    values=st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=2, max_size=8),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_losses_finite_for_extreme_logits(values, dtype):
    z = np.array([values], dtype=dtype)
    for loss, y in [
        ("sparse_categorical_crossentropy", np.array([len(values) - 1])),
        ("categorical_crossentropy", np.eye(len(values))[[0]]),
        ("binary_crossentropy", np.ones_like(z)),
    ]:
        value, grad = rnnkit.losses.get(loss).value_and_grad(y, z, logits=True)
        assert np.isfinite(value) and np.isfinite(grad).all()


@SETTINGS
@given(ids=st.lists(st.integers(-5, 20), min_size=1, max_size=10))
def test_token_ids_are_checked_against_the_vocabulary(ids):
    model = id_model("gru", 2, 10, False, "float64")
    x = np.array([ids])
    if min(ids) < 0 or max(ids) >= 10:
        with pytest.raises(ValueError, match="token ids outside"):
            model.predict(x)
    else:
        assert model.predict(x).shape == (1, 2)


@SETTINGS
@given(n_x=st.integers(1, 6), n_y=st.integers(1, 6))
def test_x_y_length_mismatch_always_named(n_x, n_y):
    model = id_model("rnn", 2, 10, False, "float32")
    x = np.ones((n_x, 4), int)
    y = np.zeros(n_y, int)
    if n_x != n_y:
        with pytest.raises(ValueError, match=f"got {n_x} in x and {n_y} in y"):
            model.fit(x, y, verbose=0)
    else:
        model.fit(x, y, verbose=0)


@SETTINGS
@given(
    b=st.integers(1, 4),
    t=st.integers(1, 6),
    f=st.integers(1, 3),
    seed=st.integers(0, 10_000),
    ties=st.booleans(),
    dtype=st.sampled_from(["float32", "float64"]),
)
def test_max_pooling_matches_the_masked_copy_reference(b, t, f, seed, ties, dtype):
    """Max pooling over valid steps (no masked copy of x) against the plain reference:
    argmax of x with padded steps set to -inf (rows with no valid step pool over all),
    for random masks, values with ties (few distinct values) or without, both dtypes;
    outputs and the gradient's positions agree exactly."""
    from rnnkit.layers import GlobalMaxPooling1D

    rng = np.random.default_rng(seed)
    x = (rng.integers(-2, 3, (b, t, f)) if ties else rng.standard_normal((b, t, f))).astype(dtype)
    mask = rng.random((b, t)) < 0.6
    valid = mask.copy()
    valid[~valid.any(axis=1)] = True
    arg = np.argmax(np.where(valid[:, :, None], x, -np.inf), axis=1)
    ref = np.take_along_axis(x, arg[:, None, :], axis=1)[:, 0, :]
    dy = rng.standard_normal((b, f)).astype(dtype)
    ref_dx = np.zeros_like(x)
    np.put_along_axis(ref_dx, arg[:, None, :], dy[:, None, :], axis=1)

    layer = GlobalMaxPooling1D(dtype=dtype)
    y = layer.forward(x, mask=mask)
    assert y.dtype == x.dtype
    np.testing.assert_array_equal(y, ref)
    np.testing.assert_array_equal(layer.backward(dy), ref_dx)

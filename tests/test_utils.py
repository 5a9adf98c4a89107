"""pad_sequences and to_categorical with Keras's semantics; numerics at extremes."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import activations, losses
from rnnkit.preprocessing.sequence import pad_sequences
from rnnkit.utils import to_categorical


def test_pad_sequences_keras_semantics():
    seqs = [[1, 2, 3], [4], [5, 6, 7, 8, 9]]
    np.testing.assert_array_equal(
        pad_sequences(seqs), [[0, 0, 1, 2, 3], [0, 0, 0, 0, 4], [5, 6, 7, 8, 9]]
    )
    np.testing.assert_array_equal(
        pad_sequences(seqs, padding="post"), [[1, 2, 3, 0, 0], [4, 0, 0, 0, 0], [5, 6, 7, 8, 9]]
    )
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2), [[2, 3], [0, 4], [8, 9]])
    np.testing.assert_array_equal(
        pad_sequences(seqs, maxlen=2, truncating="post"), [[1, 2], [0, 4], [5, 6]]
    )
    out = pad_sequences(seqs, maxlen=4, value=-1, dtype="float32", padding="post")
    assert out.dtype == np.float32 and out[1].tolist() == [4, -1, -1, -1]
    assert pad_sequences([[]], maxlen=2).tolist() == [[0, 0]]
    assert pad_sequences(seqs).dtype == np.int32


def test_pad_sequences_of_vectors():
    out = pad_sequences([np.ones((2, 3)), np.ones((1, 3))], padding="post", dtype="float32")
    assert out.shape == (2, 2, 3) and out[1, 1].sum() == 0


def test_to_categorical():
    out = to_categorical([0, 2, 1])
    np.testing.assert_array_equal(out, np.eye(3)[[0, 2, 1]])
    assert out.dtype == np.float32
    assert to_categorical([[1], [0]], 4).shape == (2, 4)
    assert to_categorical(np.array([[0, 1], [1, 1]]), 2).shape == (2, 2, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_sigmoid_crossentropy_stay_finite_at_extremes(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = activations.softmax(z)
        logp = activations.log_softmax(z)
        s = activations.sigmoid(z)
    assert np.isfinite(p).all() and np.isfinite(logp).all() and np.isfinite(s).all()
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-6)
    assert s[0, 0] == 1.0 and s[0, 1] == 0.0
    for name, y in [
        ("sparse_categorical_crossentropy", np.array([1, 0])),
        ("categorical_crossentropy", np.eye(3)[[1, 0]]),
        ("binary_crossentropy", np.array([[1, 0, 1], [0, 1, 0]])),
    ]:
        value, grad = losses.get(name).value_and_grad(y, z, logits=True)
        assert np.isfinite(value) and np.isfinite(grad).all(), name
    value, grad = losses.get("categorical_crossentropy").value_and_grad(np.eye(3)[[1, 0]], p)
    assert np.isfinite(value) and np.isfinite(grad).all()

"""BPTT(k2, k1) for one stream: equal to windowed stateful training when k1 = k2,
and a longer k2 carries the gradient further back."""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit
from rnnkit.layers import LSTM, Dense, Embedding
from rnnkit.models import Sequential
from rnnkit.models.tbptt import fit_tbptt
from rnnkit.preprocessing.sequence import stream_windows


def model():
    rnnkit.set_random_seed(0)
    m = Sequential(
        [
            Embedding(6, 4, dtype="float64"),
            LSTM(8, return_sequences=True, stateful=True, dtype="float64"),
            Dense(6, activation="softmax", dtype="float64"),
        ]
    )
    m.compile(rnnkit.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    m.build((None,))
    return m


STREAM = np.random.default_rng(0).integers(1, 6, 61)


def test_equal_k1_k2_is_windowed_stateful_training():
    a = model()
    fit_tbptt(a, STREAM, k1=10, k2=10, epochs=2)
    b = model()
    x, y = stream_windows(STREAM, batch_size=1, window=10)
    for _ in range(2):
        b.reset_states()
        b.fit(x, y, batch_size=1, epochs=1, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-10, atol=1e-12)


def test_longer_k2_changes_the_updates_and_learns():
    short, long_ = model(), model()
    fit_tbptt(short, STREAM, k1=5, k2=5)
    fit_tbptt(long_, STREAM, k1=5, k2=15)
    assert not np.allclose(short.get_weights()[1], long_.get_weights()[1])
    cycle = np.tile([1, 2, 3, 4, 5], 40)
    learner = model()
    learner.compile(rnnkit.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    losses = fit_tbptt(learner, cycle, k1=4, k2=12, epochs=6)
    assert losses[-1] < 0.5 * losses[0]


def test_bad_arguments():
    m = model()
    with pytest.raises(ValueError, match="k2 >= k1"):
        fit_tbptt(m, STREAM, k1=10, k2=5)
    with pytest.raises(ValueError, match="k1"):
        fit_tbptt(m, STREAM, k1=0, k2=5)
    with pytest.raises(ValueError, match="at least"):
        fit_tbptt(m, STREAM[:5], k1=2, k2=5)
    plain = Sequential([Embedding(6, 4), LSTM(4, return_sequences=True), Dense(6)])
    plain.compile("sgd", "mse")
    with pytest.raises(ValueError, match="stateful"):
        fit_tbptt(plain, STREAM, k1=2, k2=4)

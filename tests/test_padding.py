"""Padding must not change a padded sequence's result: the same prediction and the
same gradients with 0, 5 or 40 padding steps, pre or post, through every cell."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, Masking, SimpleRNN
from rnnkit.models import Sequential

SEQ = [3, 1, 4, 1, 5, 9, 2, 6]


def build(kind: str, seed_weights=None):
    cell = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
    model = Sequential([Embedding(12, 4, mask_zero=True, dtype="float64")])
    if kind == "bilstm":
        model.add(Bidirectional(LSTM(5, return_sequences=True, dtype="float64"), dtype="float64"))
        model.add(GRU(5, dtype="float64"))
    else:
        model.add(cell[kind](5, return_sequences=True, dtype="float64"))
        model.add(cell[kind](5, dtype="float64"))
    model.add(Dense(3, activation="softmax", dtype="float64"))
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.build((None,))
    if seed_weights is not None:
        model.set_weights(seed_weights)
    return model


def padded(k: int, where: str) -> np.ndarray:
    pad = [0] * k
    return np.array([pad + SEQ if where == "pre" else SEQ + pad])


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "bilstm"])
@pytest.mark.parametrize("where", ["pre", "post"])
def test_padding_changes_nothing(kind, where):
    reference = build(kind)
    weights = reference.get_weights()
    results = []
    for k in (0, 5, 40):
        model = build(kind, weights)
        x = padded(k, where)
        loss, y_pred, _, grad, fused = model.compute_loss(x, np.array([2]), training=False)
        model.backward(grad, from_logits=fused)
        results.append((loss, y_pred, [g.copy() for g in model.gradients()]))
    loss0, pred0, grads0 = results[0]
    for loss, pred, grads in results[1:]:
        np.testing.assert_allclose(pred, pred0, rtol=1e-12, atol=1e-14)
        assert loss == pytest.approx(loss0, rel=1e-12)
        for g, g0 in zip(grads, grads0):
            np.testing.assert_allclose(g, g0, rtol=1e-10, atol=1e-14)


def test_masking_layer_padding_on_float_input():
    rng = np.random.default_rng(0)
    steps = rng.standard_normal((6, 3))
    model = Sequential(
        [
            Masking(0.0, input_shape=(None, 3), dtype="float64"),
            LSTM(4, dtype="float64"),
            Dense(2, dtype="float64"),
        ]
    )
    base = model.predict(steps[None])
    for k in (5, 40):
        post = np.concatenate([steps, np.zeros((k, 3))])[None]
        pre = np.concatenate([np.zeros((k, 3)), steps])[None]
        np.testing.assert_allclose(model.predict(post), base, rtol=1e-12)
        np.testing.assert_allclose(model.predict(pre), base, rtol=1e-12)


def test_batch_prediction_equals_one_by_one():
    model = build("lstm")
    batch = np.array([SEQ + [0, 0], [7, 7, 7, 7, 0, 0, 0, 0, 0, 0], SEQ[:3] + [0] * 7])
    together = model.predict(batch)
    alone = np.concatenate([model.predict(row[None]) for row in batch])
    np.testing.assert_allclose(together, alone, rtol=1e-12)


def test_trimming_and_buckets_change_no_prediction():
    model = build("gru")
    rng = np.random.default_rng(0)
    x = np.zeros((20, 30), int)
    for i in range(20):
        n = rng.integers(1, 30)
        x[i, :n] = rng.integers(1, 12, n)
    full = np.concatenate([model.forward(x[i : i + 1])[0] for i in range(20)])
    np.testing.assert_allclose(model.predict(x, batch_size=7), full, rtol=1e-12)
    batches = model._length_buckets(x, np.arange(20), 4)
    assert sorted(np.concatenate(batches).tolist()) == list(range(20))
    model.fit(x, rng.integers(0, 3, 20), epochs=1, batch_size=4, verbose=0, bucket_by_length=True)

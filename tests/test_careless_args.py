"""Careless arguments and hostile values: each gets an error that names the argument,
what was expected and what came, never a NumPy traceback or a silently wrong result;
and the Keras semantics that careless users rely on (hook arguments, CSV appends,
dtype policy, the loss evaluate reports)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import regularizers
from rnnkit.layers import Dense
from rnnkit.models import Sequential


def _regression(seed=0, n=12):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    y = rng.standard_normal((n, 2)).astype(np.float32)
    return x, y


# ---- evaluate's loss: data loss plus the penalties, as fit minimises -------------------
@pytest.mark.timeout(60)
def test_evaluate_loss_includes_weight_and_activity_penalties():
    x, y = _regression()
    dense = Dense(
        2,
        input_shape=(3,),
        kernel_regularizer=regularizers.L2(0.1),
        bias_regularizer=regularizers.L1(0.05),
        activity_regularizer=regularizers.L2(0.01),
        seed=1,
    )
    model = Sequential([dense])
    model.compile("sgd", "mse")
    model.set_weights([np.linspace(-1, 1, 6).reshape(3, 2), np.array([0.5, -0.25])])
    kernel, bias = (w.astype(np.float64) for w in model.get_weights())
    out = x.astype(np.float64) @ kernel + bias
    data_loss = np.mean((out - y) ** 2)
    penalty = 0.1 * np.sum(kernel**2) + 0.05 * np.sum(np.abs(bias))
    activity = 0.01 * np.sum(out**2) / len(x)  # one batch: Keras 3 divides by its size
    expected = data_loss + penalty + activity
    got = model.evaluate(x, y, batch_size=len(x))
    assert got == pytest.approx(expected, rel=1e-5)
    # fit's validation loss is the same figure
    history = model.fit(x, y, epochs=1, batch_size=len(x), verbose=0, validation_data=(x, y))
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x, y, batch_size=len(x)))


def test_evaluate_loss_without_penalties_is_the_data_loss():
    x, y = _regression(1)
    model = Sequential([Dense(2, input_shape=(3,), seed=0)])
    model.compile("sgd", "mse")
    pred = model.predict(x, verbose=0).astype(np.float64)
    assert model.evaluate(x, y, batch_size=5) == pytest.approx(np.mean((pred - y) ** 2), rel=1e-5)


def test_evaluate_generator_includes_penalties():
    x, y = _regression(2)
    model = Sequential([Dense(2, input_shape=(3,), kernel_regularizer=regularizers.L2(0.5))])
    model.compile("sgd", "mse")
    arrays = model.evaluate(x, y, batch_size=4)
    batches = ((x[i : i + 4], y[i : i + 4]) for i in range(0, len(x), 4))
    assert model.evaluate(batches) == pytest.approx(arrays, rel=1e-6)
    assert arrays > model.compute_loss(x, y, training=False)[0]

"""Regularizers and constraints (Keras 3's formulas and names) on Dense, Embedding,
Conv1D and the recurrent layers: values and gradients against Keras, the penalty's
gradient checked by central differences through whole models, constraints after each
step, one SGD step equal to Keras's; and seed=, unroll=, implementation=."""

from __future__ import annotations

import os

import numpy as np
import pytest

import rnnkit
from rnnkit import constraints, regularizers
from rnnkit.layers import GRU, LSTM, Bidirectional, Conv1D, Dense, Dropout, Embedding, Flatten
from rnnkit.models import Sequential, load_model
from rnnkit.utils.gradient_check import numerical_gradient, relative_error

os.environ.setdefault("KERAS_BACKEND", "jax")
F64 = {"dtype": "float64"}


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda: regularizers.L1(0.03), lambda k: k.regularizers.L1(0.03)),
        (lambda: regularizers.L2(0.02), lambda k: k.regularizers.L2(0.02)),
        (lambda: regularizers.L1L2(0.01, 0.04), lambda k: k.regularizers.L1L2(0.01, 0.04)),
        (lambda: regularizers.get("l2"), lambda k: k.regularizers.get("l2")),
    ],
)
def test_penalties_match_keras_and_their_gradients_are_exact(keras, ours, theirs):
    w = rand(4, 3)
    reg = ours()
    np.testing.assert_allclose(reg(w), float(theirs(keras)(w.astype("float32"))), rtol=1e-5)
    numeric = numerical_gradient(lambda: reg(w), w)
    assert relative_error(reg.gradient(w), numeric) < 1e-8


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda: constraints.MaxNorm(1.5), lambda k: k.constraints.MaxNorm(1.5)),
        (lambda: constraints.MaxNorm(1.0, axis=1), lambda k: k.constraints.MaxNorm(1.0, axis=1)),
        (lambda: constraints.NonNeg(), lambda k: k.constraints.NonNeg()),
        (lambda: constraints.UnitNorm(), lambda k: k.constraints.UnitNorm()),
    ],
)
def test_constraints_match_keras(keras, ours, theirs):
    w = (rand(5, 3) * 2).astype("float32")
    np.testing.assert_allclose(ours()(w), np.asarray(theirs(keras)(w)), rtol=1e-6, atol=1e-7)


def _model_errors(model, x, y):
    """Relative errors of the trained weights' gradients of loss + penalties."""

    def total():
        return model.compute_loss(x, y, None, training=False)[0] + model.regularization_loss()

    loss, _, _, grad, fused = model.compute_loss(x, y, None, training=False)
    model.regularization_loss()
    model.backward(grad, from_logits=fused)
    analytic = [g.copy() for g in model.gradients()]
    return {
        name: relative_error(a, numerical_gradient(total, w))
        for (name, w), a in zip(model.trainable_weights(), analytic)
    }


REG = dict(
    kernel_regularizer=regularizers.L1L2(0.01, 0.02),
    bias_regularizer=regularizers.L2(0.03),
)


@pytest.mark.parametrize(
    "build, x, y, loss",
    [
        (  # the fused softmax + cross-entropy path, with an activity penalty on the softmax
            lambda: [
                Dense(
                    4,
                    activation="softmax",
                    activity_regularizer="l2",
                    input_shape=(3,),
                    **REG,
                    **F64,
                )
            ],
            rand(5, 3),
            np.eye(4)[[0, 1, 2, 3, 0]],
            "categorical_crossentropy",
        ),
        (
            lambda: [
                Embedding(
                    6, 3, embeddings_regularizer=regularizers.L2(0.05), input_shape=(4,), **F64
                ),
                LSTM(3, recurrent_regularizer=regularizers.L1(0.01), **REG, **F64),
                Dense(1, activity_regularizer=regularizers.L1(0.1), **F64),
            ],
            np.array([[1, 2, 3, 4], [5, 0, 1, 2]]),
            rand(2, 1),
            "mse",
        ),
        (
            lambda: [
                Conv1D(2, 2, padding="causal", input_shape=(5, 2), **REG, **F64),
                GRU(2, recurrent_regularizer="l2", activity_regularizer="l1", **F64),
                Dense(1, **F64),
            ],
            rand(3, 5, 2),
            rand(3, 1),
            "mse",
        ),
        (
            lambda: [
                Bidirectional(LSTM(2, **REG, **F64), input_shape=(4, 2)),
                Flatten(),
                Dense(1, **F64),
            ],
            rand(2, 4, 2),
            rand(2, 1),
            "mse",
        ),
    ],
    ids=["dense-softmax", "embedding-lstm", "conv-gru", "bidirectional"],
)
def test_penalty_gradients_through_models(build, x, y, loss):
    rnnkit.set_random_seed(0)
    model = Sequential(build())
    model.compile("sgd", loss)
    assert model.regularization_loss() > 0
    errors = _model_errors(model, x, y)
    bad = {k: v for k, v in errors.items() if not v < 1e-6}
    assert not bad, errors


def test_one_sgd_step_equals_keras(keras):
    if keras.backend.backend() == "numpy":
        # another module may have imported Keras first on its NumPy backend, which has
        # no train step; CI runs the suite with KERAS_BACKEND=jax
        pytest.skip("Keras runs on its NumPy backend in this process, which cannot train")
    x = rand(6, 3, seed=1).astype("float32")
    y = rand(6, 2, seed=2).astype("float32")
    kwargs = dict(
        kernel_constraint="max_norm",
        bias_constraint=None,
    )

    def dense(k):
        return k.layers.Dense(
            2,
            kernel_regularizer=k.regularizers.L1L2(0.01, 0.05),
            bias_regularizer=k.regularizers.L2(0.1),
            activity_regularizer=k.regularizers.L2(0.02),
            kernel_constraint=k.constraints.MaxNorm(0.6),
        )

    theirs = keras.Sequential([keras.Input((3,)), dense(keras)])
    start = [rand(3, 2, seed=3).astype("float32"), rand(2, seed=4).astype("float32")]
    theirs.set_weights(start)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    keras_loss = theirs.train_on_batch(x, y)
    ours = Sequential([rnnkit.Input((3,)), dense(rnnkit)])
    ours.set_weights(start)
    ours.compile(optimizer=rnnkit.optimizers.SGD(0.1), loss="mse")
    our_loss = ours.train_on_batch(x, y)
    np.testing.assert_allclose(our_loss, float(np.asarray(keras_loss)), rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert kwargs  # the string forms resolve too
    assert isinstance(Dense(2, **kwargs).weight_constraints["kernel"], constraints.MaxNorm)


@pytest.mark.parametrize(
    "constraint, check",
    [
        (constraints.NonNeg(), lambda w: (w >= 0).all()),
        (constraints.MaxNorm(0.3), lambda w: (np.linalg.norm(w, axis=0) <= 0.3 + 1e-6).all()),
        (constraints.UnitNorm(), lambda w: np.allclose(np.linalg.norm(w, axis=0), 1, atol=1e-5)),
    ],
)
def test_constraints_hold_after_every_step(constraint, check):
    rnnkit.set_random_seed(0)
    model = Sequential(
        [
            LSTM(
                3, input_shape=(4, 2), kernel_constraint=constraint, recurrent_constraint=constraint
            ),
            Dense(2, kernel_constraint=constraint),
        ]
    )
    model.compile("adam", "mse")
    model.fit(rand(8, 4, 2), rand(8, 2), epochs=2, batch_size=4, verbose=0)
    assert check(model.layers[0].params["kernel"])
    assert check(model.layers[0].params["recurrent_kernel"])
    assert check(model.layers[1].params["kernel"])


def test_options_survive_save_and_load(tmp_path):
    rnnkit.set_random_seed(0)
    model = Sequential(
        [
            LSTM(
                3,
                input_shape=(4, 2),
                kernel_regularizer=regularizers.L2(0.01),
                recurrent_constraint=constraints.MaxNorm(2.0, axis=0),
            ),
            Dense(2, activity_regularizer=regularizers.L1(0.1), bias_constraint="non_neg"),
        ]
    )
    model.save(tmp_path / "m.rnnkit")
    loaded = load_model(tmp_path / "m.rnnkit")
    lstm, dense = loaded.layers
    assert lstm.weight_regularizers["kernel"].get_config() == {"l2": 0.01}
    assert lstm.weight_constraints["recurrent_kernel"].get_config() == {"max_value": 2.0, "axis": 0}
    assert isinstance(dense.activity_regularizer, regularizers.L1)
    assert isinstance(dense.weight_constraints["bias"], constraints.NonNeg)
    x = rand(2, 4, 2)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)


def test_seed_unroll_and_implementation():
    a = LSTM(3, seed=5, unroll=True, implementation=2)
    b = LSTM(3, seed=5)
    x = rand(2, 4, 2).astype("float32")
    np.testing.assert_array_equal(a(x), b(x))  # same seed: same weights; options no-ops
    assert not np.array_equal(LSTM(3, seed=6)(x), b(x))
    d1, d2 = Dropout(0.5, seed=3), Dropout(0.5, seed=3)
    ones = np.ones((4, 6))
    np.testing.assert_array_equal(d1(ones, training=True), d2(ones, training=True))


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="kernel_regularizer"):
        Dense(2, kernel_regularizer="l3")
    with pytest.raises(ValueError, match="bias_constraint"):
        Dense(2, bias_constraint="positive")
    with pytest.raises(ValueError, match="no weight 'kernel'"):
        Dropout(0.1, kernel_regularizer="l2")(np.ones((2, 3)))
    with pytest.raises(ValueError, match="l2"):
        regularizers.L2(-1.0)
    with pytest.raises(ValueError, match="max_value"):
        constraints.MaxNorm(0)

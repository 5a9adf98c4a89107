"""Bad input gets a ValueError or TypeError naming the argument, what was expected
and what came — never a raw NumPy traceback, never silent broadcasting."""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit
from rnnkit.layers import LSTM, Dense, Embedding, SimpleRNN
from rnnkit.models import Sequential
from rnnkit.preprocessing.sequence import pad_sequences
from rnnkit.utils import to_categorical


def rnn_model():
    model = Sequential([SimpleRNN(4, input_shape=(5, 2)), Dense(3, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    return model


def emb_model():
    model = Sequential(
        [Embedding(10, 3, input_shape=(5,)), LSTM(4), Dense(3, activation="softmax")]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


X = np.zeros((4, 5, 2), np.float32)
Y = np.eye(3)[[0, 1, 2, 0]]


@pytest.mark.parametrize(
    "x,match",
    [
        (np.zeros((4, 5)), "expects \\(samples, 5, 2\\)"),
        (np.zeros((4, 5, 3)), "expects \\(samples, 5, 2\\)"),
        (np.zeros((4, 6, 2)), "expects \\(samples, 5, 2\\)"),
        ([[[0.0, 1.0]], [[0.0]]], "ragged"),
        (np.array([[["a", "b"]] * 5] * 4), "numeric"),
        (np.zeros((0, 5, 2)), "non-empty"),
        (np.full((4, 5, 2), np.nan), "finite"),
    ],
)
def test_bad_x(x, match):
    with pytest.raises((ValueError, TypeError), match=match):
        rnn_model().fit(x, Y, verbose=0)


def test_x_y_length_mismatch():
    with pytest.raises(ValueError, match="same number of samples; got 4 in x and 3 in y"):
        rnn_model().fit(X, Y[:3], verbose=0)


def test_integer_labels_with_categorical_loss_hint():
    with pytest.raises(ValueError, match="to_categorical"):
        rnn_model().fit(X, np.array([0, 1, 2, 0]), verbose=0)


def test_one_hot_of_wrong_width():
    with pytest.raises(ValueError, match=r"expects \(4, 3\)"):
        rnn_model().fit(X, np.eye(4), verbose=0)


def test_labels_outside_the_classes():
    ids = np.ones((4, 5), int)
    with pytest.raises(ValueError, match=r"class ids in \[0, 3\).*max 3"):
        emb_model().fit(ids, np.array([0, 1, 2, 3]), verbose=0)
    with pytest.raises(ValueError, match="min -1"):
        emb_model().fit(ids, np.array([0, 1, 2, -1]), verbose=0)


def test_token_ids_outside_the_embedding():
    with pytest.raises(ValueError, match=r"outside \[0, 10\).*max 10"):
        emb_model().predict(np.full((2, 5), 10))
    with pytest.raises(ValueError, match="min -1"):
        emb_model().predict(np.full((2, 5), -1))
    with pytest.raises(TypeError, match="integer token ids"):
        emb_model().predict(np.full((2, 5), 1.5))


@pytest.mark.parametrize(
    "build,match",
    [
        (lambda: rnnkit.losses.get("hinge_loss"), "argument loss"),
        (lambda: rnnkit.optimizers.get("adamw2"), "argument optimizer"),
        (lambda: rnnkit.initializers.get("glorot_magic"), "argument initializer"),
        (lambda: SimpleRNN(4, kernel_initializer="nope"), "argument kernel_initializer"),
        (lambda: rnnkit.activations.get("swishy"), "argument activation"),
        (lambda: Dense(4, activation="swishy"), "argument activation"),
        (lambda: SimpleRNN(0), "argument units, expected a positive integer, got 0"),
        (lambda: LSTM(-3), "argument units"),
        (lambda: LSTM(4, dropout=1.5), "argument dropout"),
        (lambda: SimpleRNN(4, bogus=True), "unexpected keyword"),
        (lambda: rnnkit.optimizers.Adam(lr=-1), "argument learning_rate"),
        (lambda: rnnkit.optimizers.Adam(lr=0.1, learning_rate=0.1), "not both"),
        (lambda: rnnkit.metrics.get("nonsense"), "argument metrics"),
    ],
)
def test_unknown_names_and_bad_arguments(build, match):
    with pytest.raises((ValueError, TypeError), match=match):
        build()


def test_layer_called_with_wrong_rank_or_features():
    layer = LSTM(3)
    with pytest.raises(ValueError, match="wrong rank: expected 3-D"):
        layer(np.zeros((2, 5)))
    layer(np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match="has 5 features per step; expected 4"):
        layer(np.zeros((2, 5, 5)))


def test_initial_state_of_wrong_shape():
    layer = LSTM(3)
    with pytest.raises(ValueError, match="expects 2 initial state"):
        layer(np.zeros((2, 5, 4)), initial_state=[np.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"expected shape \(2, 3\), got \(2, 4\)"):
        layer(np.zeros((2, 5, 4)), initial_state=[np.zeros((2, 4)), np.zeros((2, 3))])


def test_stateful_batch_size_change():
    layer = SimpleRNN(3, stateful=True)
    layer(np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match="batch size 2, got a batch of 3"):
        layer(np.zeros((3, 5, 4)))


def test_uncompiled_model_and_bad_fit_arguments():
    model = Sequential([SimpleRNN(4, input_shape=(5, 2)), Dense(3)])
    with pytest.raises(RuntimeError, match="compiled"):
        model.fit(X, Y)
    model = rnn_model()
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(X, Y, batch_size=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(X, Y, validation_split=1.5)
    with pytest.raises(TypeError, match="class_weight"):
        model.fit(X, Y, class_weight=[1, 2, 3], verbose=0)


def test_set_weights_wrong_shape_names_the_weight():
    layer = SimpleRNN(3)
    layer(np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match="'recurrent_kernel': expected shape \\(3, 3\\)"):
        layer.set_weights([np.zeros((4, 3)), np.zeros((2, 3)), np.zeros(3)])


def test_utility_bad_input():
    with pytest.raises(ValueError, match="padding"):
        pad_sequences([[1]], padding="middle")
    with pytest.raises(TypeError, match="entry 1 is not a sequence"):
        pad_sequences([[1], 5])
    with pytest.raises(ValueError, match="num_classes=2"):
        to_categorical([0, 3], num_classes=2)
    with pytest.raises(ValueError, match=">= 0"):
        to_categorical([-1, 0])


def test_nan_loss_stops_with_epoch_and_batch():
    model = Sequential([SimpleRNN(4, input_shape=(5, 2)), Dense(1)])
    model.compile(rnnkit.optimizers.SGD(lr=1e30), "mse")
    x = np.random.default_rng(0).standard_normal((8, 5, 2)) * 100
    with pytest.raises(FloatingPointError, match="epoch 1, batch"):
        with np.errstate(all="ignore"):
            model.fit(x, np.ones((8, 1)) * 1e30, epochs=3, batch_size=4, verbose=0)

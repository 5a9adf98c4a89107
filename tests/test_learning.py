"""Behaviour: each cell learns a task that needs memory; an LSTM bridges a delay that
a tanh SimpleRNN of the same size cannot (the vanishing gradient of the notes)."""

from __future__ import annotations

import pytest

import rnnkit
from rnnkit.datasets.synthetic import delayed_recall
from rnnkit.layers import GRU, LSTM, Dense, SimpleRNN
from rnnkit.models import Sequential

CELLS = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}


def recall_accuracy(kind: str, delay: int, epochs: int, units: int = 16) -> float:
    rnnkit.set_random_seed(0)
    x, y = delayed_recall(1000, delay, seed=1)
    x_test, y_test = delayed_recall(500, delay, seed=2)
    model = Sequential([CELLS[kind](units), Dense(4, activation="softmax")])
    model.compile(rnnkit.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=50, verbose=0)
    return model.evaluate(x_test, y_test)[1]


@pytest.mark.parametrize("kind,delay", [("rnn", 5), ("lstm", 5), ("gru", 5), ("gru", 20)])
def test_each_cell_recalls_a_symbol(kind, delay):
    # chance is 0.25: remembering the first step is the only way to score
    assert recall_accuracy(kind, delay, epochs=10 if delay == 5 else 15) >= 0.99


def test_lstm_bridges_a_delay_the_simple_rnn_cannot():
    lstm = recall_accuracy("lstm", 40, epochs=15)
    rnn = recall_accuracy("rnn", 40, epochs=30)  # twice the training, still at chance
    assert lstm >= 0.99
    assert rnn < 0.35

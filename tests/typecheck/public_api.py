"""Uses of rnnkit's public API as the docs show them, for the type checker (make typecheck).

Not a pytest module (it trains nothing): mypy reads it and checks each call against
rnnkit's annotations, so a public signature whose annotation contradicts its documented
use fails CI.
"""

from __future__ import annotations

import numpy as np

import rnnkit
from rnnkit.callbacks import EarlyStopping, History
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN
from rnnkit.models import Sequential, load_model
from rnnkit.preprocessing.sequence import pad_sequences


def build() -> Sequential:
    rnnkit.set_random_seed(0)
    model = Sequential(
        [
            Embedding(10000, 64, mask_zero=True),
            Bidirectional(LSTM(64, return_sequences=True)),
            GRU(32),
            Dense(46, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train(model: Sequential) -> History:
    x: np.ndarray = pad_sequences([[5, 8, 13], [21, 34]], maxlen=10, padding="post")
    history = model.fit(
        x, np.array([3, 4]), epochs=2, batch_size=2, verbose=0, callbacks=[EarlyStopping()]
    )
    probabilities: np.ndarray = model.predict(x)
    del probabilities
    return history


def round_trip(model: Sequential, path: str) -> None:
    model.save(path)
    again = load_model(path)
    again.summary()


def streaming() -> None:
    layer = SimpleRNN(8)
    layer.ensure_built((None, 3))
    states = [np.zeros((1, 8), "float32")]
    output, states = layer.step(np.ones((1, 3), "float32"), states)
    del output, states

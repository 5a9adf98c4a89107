"""Keras 3's "Bidirectional LSTM on IMDB": an int32 Input, Embedding, two stacked
Bidirectional LSTMs and a sigmoid head in a functional Model, pad_sequences; with
``import rnnkit as keras`` and synthetic reviews instead of the download."""

import numpy as np
import pytest

import rnnkit as keras
from rnnkit import layers


@pytest.mark.timeout(120)
def test_bidirectional_lstm_imdb_example():
    keras.set_random_seed(0)
    rng = np.random.default_rng(0)
    max_features = 30
    maxlen = 12

    # ---- the example's model code
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(max_features, 8)(inputs)
    x = layers.Bidirectional(layers.LSTM(6, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(6))(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.summary(print_fn=lambda *a, **k: None)

    # reviews of varied length: positive ones use the upper half of the vocabulary
    def reviews(n):
        labels = rng.integers(0, 2, n)
        seqs = [
            list(
                rng.integers(15, 30, rng.integers(3, 15))
                if label
                else rng.integers(1, 15, rng.integers(3, 15))
            )
            for label in labels
        ]
        return seqs, labels

    (x_train, y_train), (x_val, y_val) = reviews(40), reviews(12)
    x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
    x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)

    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x_train, y_train, batch_size=8, epochs=2, validation_data=(x_val, y_val), verbose=0
    )
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.history["loss"][1] < history.history["loss"][0]
    assert [type(l).__name__ for l in model.layers] == [
        "InputLayer",
        "Embedding",
        "Bidirectional",
        "Bidirectional",
        "Dense",
    ]
    assert model.predict(x_val, verbose=0).shape == (12, 1)

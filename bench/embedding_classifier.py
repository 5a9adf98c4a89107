"""The large-embedding classifier of issue 20 item 5, shared by bench/run.py (its Keras
row) and bench/embedding_ab.py (the before/after of the row-sparse gradient).

Embedding(30000, 64, mask_zero=True) + LSTM(64) + Dense(46, softmax), Adam
(learning rate 1e-3, global gradient norm clipped at 5, as the Reuters job clips),
sparse categorical cross-entropy, on Keras's Reuters wires (``num_words=30000``, padded
and truncated in front to ``maxlen`` ids, as ``keras.utils.pad_sequences`` does), the
first ``samples`` training wires, batches of 32 in order.
"""

from __future__ import annotations

import os

import numpy as np

VOCAB, EMBED, UNITS, CLASSES = 30000, 64, 64, 46
MAXLEN, SAMPLES, BATCH = 100, 2048, 32
LEARNING_RATE, CLIP = 1e-3, 5.0


def load(samples: int = SAMPLES, maxlen: int = MAXLEN):
    """(x int32 (samples, maxlen), y int64 (samples,)) from Keras's Reuters split."""
    from rnnkit.datasets import reuters
    from rnnkit.preprocessing.sequence import pad_sequences

    os.environ.setdefault(
        "RNNKIT_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
    )
    (x, y), _ = reuters.load_data(num_words=VOCAB)
    x = pad_sequences(x[:samples], maxlen=maxlen)
    return np.asarray(x, np.int32), np.asarray(y[:samples], np.int64)


def rnnkit_model(embedding_cls=None, seed: int = 0):
    """The rnnkit classifier, compiled; ``embedding_cls`` replaces ``layers.Embedding``."""
    from rnnkit import backend, layers, models, optimizers

    backend.set_random_seed(seed)
    emb = (embedding_cls or layers.Embedding)(VOCAB, EMBED, mask_zero=True)
    model = models.Sequential(
        [emb, layers.LSTM(UNITS), layers.Dense(CLASSES, activation="softmax")]
    )
    model.compile(
        optimizer=optimizers.Adam(LEARNING_RATE, global_clipnorm=CLIP),
        loss="sparse_categorical_crossentropy",
    )
    return model


def rnnkit_epoch(model, x, y):
    def epoch():
        model.fit(x, y, epochs=1, batch_size=BATCH, shuffle=False, verbose=0)

    return epoch


def keras_model(maxlen: int = MAXLEN):
    """The same classifier in Keras 3 (the backend chosen by KERAS_BACKEND before the
    first import of keras; bench/run.py sets ``jax``)."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((maxlen,), dtype="int32"),
            keras.layers.Embedding(VOCAB, EMBED, mask_zero=True),
            keras.layers.LSTM(UNITS),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE, global_clipnorm=CLIP),
        loss="sparse_categorical_crossentropy",
    )
    return model


def keras_epoch(model, x, y):
    def epoch():
        model.fit(x, y, epochs=1, batch_size=BATCH, shuffle=False, verbose=0)

    return epoch

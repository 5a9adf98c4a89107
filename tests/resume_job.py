"""A small training job for the crash tests: ``python -m tests.resume_job DIR EPOCHS``
trains with a checkpoint after every batch into DIR (a test SIGKILLs it midway)."""

from __future__ import annotations

import sys

import numpy as np

import rnnkit
from rnnkit.callbacks import EarlyStopping
from rnnkit.layers import LSTM, Dense, Dropout, Embedding
from rnnkit.models import Sequential


def data():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 30, (120, 12))
    x[::3, 8:] = 0
    return x, (x[:, 0] + x[:, 1]) % 4


def build():
    rnnkit.set_random_seed(7)
    model = Sequential(
        [
            Embedding(30, 8, mask_zero=True),
            LSTM(16, dropout=0.2, recurrent_dropout=0.2),
            Dropout(0.3),
            Dense(4, activation="softmax"),
        ]
    )
    model.compile(rnnkit.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    return model


def train(model, epochs, **kwargs):
    x, y = data()
    stop = EarlyStopping(monitor="val_loss", patience=1000, restore_best_weights=True)
    return model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=10,
        validation_split=0.2,
        verbose=0,
        callbacks=[stop],
        **kwargs,
    )


if __name__ == "__main__":
    train(build(), int(sys.argv[2]), checkpoint_dir=sys.argv[1], checkpoint_every=1)

"""Keras 3's "Sequence to sequence learning for performing number addition" (an LSTM
encoder, RepeatVector, an LSTM decoder, a softmax per step, boolean one-hot data), its
model code run as Keras writes it with ``import rnnkit as keras``; tiny synthetic sizes."""

import numpy as np
import pytest

import rnnkit as keras
from rnnkit import layers


class CharTable:
    """One-hot encoding of strings over a fixed alphabet, as the example's CharacterTable."""

    def __init__(self, chars):
        self.chars = sorted(set(chars))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def encode(self, text, rows):
        x = np.zeros((rows, len(self.chars)))
        for i, c in enumerate(text):
            x[i, self.index[c]] = 1
        return x

    def decode(self, x, calc_argmax=True):
        if calc_argmax:
            x = x.argmax(axis=-1)
        return "".join(self.chars[i] for i in x)


@pytest.mark.timeout(120)
def test_addition_rnn_example():
    keras.set_random_seed(0)
    rng = np.random.default_rng(0)
    DIGITS = 2
    MAXLEN = DIGITS + 1 + DIGITS
    ctable = CharTable("0123456789+ ")
    chars = ctable.chars
    questions, expected = [], []
    for _ in range(48):
        a, b = int(rng.integers(0, 10**DIGITS)), int(rng.integers(0, 10**DIGITS))
        q = f"{a}+{b}"
        questions.append((q + " " * (MAXLEN - len(q)))[::-1])
        ans = str(a + b)
        expected.append(ans + " " * (DIGITS + 1 - len(ans)))

    x = np.zeros((len(questions), MAXLEN, len(chars)), dtype=np.bool)
    y = np.zeros((len(questions), DIGITS + 1, len(chars)), dtype=np.bool)
    for i, sentence in enumerate(questions):
        x[i] = ctable.encode(sentence, MAXLEN)
    for i, sentence in enumerate(expected):
        y[i] = ctable.encode(sentence, DIGITS + 1)
    split_at = len(x) - len(x) // 10
    (x_train, x_val) = x[:split_at], x[split_at:]
    (y_train, y_val) = y[:split_at], y[split_at:]

    # ---- the example's model code, unchanged but for the sizes
    num_layers = 1
    model = keras.Sequential()
    model.add(layers.LSTM(16, input_shape=(MAXLEN, len(chars))))
    model.add(layers.RepeatVector(DIGITS + 1))
    for _ in range(num_layers):
        model.add(layers.LSTM(16, return_sequences=True))
    model.add(layers.Dense(len(chars), activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.summary(print_fn=lambda *a, **k: None)

    losses = []
    for _ in range(1, 3):
        history = model.fit(
            x_train, y_train, batch_size=16, epochs=1, validation_data=(x_val, y_val), verbose=0
        )
        losses.append(history.history["loss"][0])
        for _ in range(2):
            ind = int(rng.integers(0, len(x_val)))
            rowx, rowy = x_val[np.array([ind])], y_val[np.array([ind])]
            preds = np.argmax(model.predict(rowx, verbose=0), axis=-1)
            guess = ctable.decode(preds[0], calc_argmax=False)
            assert len(guess) == DIGITS + 1 and set(guess) <= set(chars)
            assert len(ctable.decode(rowy[0])) == DIGITS + 1
    assert "val_loss" in history.history and np.isfinite(losses).all()
    assert losses[1] < losses[0]

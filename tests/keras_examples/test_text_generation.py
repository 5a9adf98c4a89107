"""Keras 3's "Character-level text generation with LSTM": Input + LSTM + softmax Dense
in a Sequential, boolean one-hot windows, RMSprop, and sampling from the predictions;
with ``import rnnkit as keras`` and a tiny synthetic text."""

import numpy as np
import pytest

import rnnkit as keras
from rnnkit import layers


def sample(preds, temperature=1.0):
    preds = np.asarray(preds).astype("float64")
    preds = np.log(preds) / temperature
    exp_preds = np.exp(preds)
    preds = exp_preds / np.sum(exp_preds)
    probas = np.random.default_rng(0).multinomial(1, preds, 1)
    return int(np.argmax(probas))


@pytest.mark.timeout(120)
def test_character_level_text_generation_example():
    keras.set_random_seed(0)
    text = "the quick brown fox jumps over the lazy dog. " * 6
    chars = sorted(list(set(text)))
    char_indices = dict((c, i) for i, c in enumerate(chars))
    indices_char = dict((i, c) for i, c in enumerate(chars))
    maxlen, step = 10, 5
    sentences, next_chars = [], []
    for i in range(0, len(text) - maxlen, step):
        sentences.append(text[i : i + maxlen])
        next_chars.append(text[i + maxlen])
    x = np.zeros((len(sentences), maxlen, len(chars)), dtype="bool")
    y = np.zeros((len(sentences), len(chars)), dtype="bool")
    for i, sentence in enumerate(sentences):
        for t, char in enumerate(sentence):
            x[i, t, char_indices[char]] = 1
        y[i, char_indices[next_chars[i]]] = 1

    # ---- the example's model code
    model = keras.Sequential(
        [
            keras.Input(shape=(maxlen, len(chars))),
            layers.LSTM(16),
            layers.Dense(len(chars), activation="softmax"),
        ]
    )
    optimizer = keras.optimizers.RMSprop(learning_rate=0.01)
    model.compile(loss="categorical_crossentropy", optimizer=optimizer)

    losses = []
    for _ in range(2):
        losses.append(model.fit(x, y, batch_size=16, epochs=1, verbose=0).history["loss"][0])
        sentence = text[:maxlen]
        generated = ""
        for _ in range(5):
            x_pred = np.zeros((1, maxlen, len(chars)))
            for t, char in enumerate(sentence):
                x_pred[0, t, char_indices[char]] = 1.0
            preds = model.predict(x_pred, verbose=0)[0]
            next_char = indices_char[sample(preds, 0.5)]
            sentence = sentence[1:] + next_char
            generated += next_char
        assert len(generated) == 5
    assert losses[1] < losses[0]

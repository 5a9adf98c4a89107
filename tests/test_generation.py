"""Step-by-step inference, sampling, beam search, stream batching — and the notes'
three sentences: a previous-word model mixes the animals, an LSTM does not."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

import rnnkit
from rnnkit.callbacks import ResetStates
from rnnkit.generation import beam_search, filter_probs, generate
from rnnkit.layers import GRU, LSTM, Dense, Dropout, Embedding, SimpleRNN
from rnnkit.models import Sequential
from rnnkit.preprocessing.sequence import stream_windows
from rnnkit.preprocessing.text import Tokenizer

CORPUS = "Dog scares Cat. Cat scares Mouse. Mouse scares Dog."


def lm(vocab, units=16, cell=LSTM, stateful=False, dtype="float32"):
    rnnkit.set_random_seed(0)
    model = Sequential(
        [
            Embedding(vocab, 8, dtype=dtype),
            cell(units, return_sequences=True, stateful=stateful, dtype=dtype),
            Dropout(0.1),
            Dense(vocab, activation="softmax", dtype=dtype),
        ]
    )
    model.compile(rnnkit.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("cell", [SimpleRNN, LSTM, GRU])
def test_step_by_step_equals_the_whole_sequence(cell):
    model = lm(7, cell=cell, dtype="float64")
    model.build((None,))
    ids = np.array([[1, 4, 2, 6, 0, 3], [5, 5, 1, 2, 3, 4]])
    full = model.predict(ids)
    states = None
    for t in range(ids.shape[1]):
        y_t, states = model.step(ids[:, t], states)
        np.testing.assert_allclose(y_t, full[:, t], rtol=1e-12)


def corpus_tokens():
    tok = Tokenizer(filters="", lower=True)
    text = CORPUS.replace(".", " .")
    tok.fit_on_texts([text])
    return tok, tok.texts_to_sequences([text])[0]


def test_previous_word_model_mixes_the_animals_and_an_lstm_does_not():
    tok, ids = corpus_tokens()
    vocab = len(tok.word_index) + 1
    scares = tok.word_index["scares"]
    # a model that sees only the previous word: bigram counts of the corpus
    bigram = Counter(zip(ids, ids[1:] + ids[:1]))
    after_scares = {tok.index_word[b]: n for (a, b), n in bigram.items() if a == scares}
    assert after_scares == {"cat": 1, "mouse": 1, "dog": 1}  # it cannot tell them apart

    # the LSTM: windows of the repeated corpus that begin at a sentence start, where
    # the zero initial state means "a new sentence"
    cycle = ids * 4
    starts = [i for i in range(len(ids)) if i == 0 or ids[i - 1] == tok.word_index["."]]
    x = np.array([cycle[i : i + 11] for i in starts] * 12)
    y = np.array([cycle[i + 1 : i + 12] for i in starts] * 12)
    model = lm(vocab)
    model.fit(x, y, epochs=60, batch_size=12, verbose=0)
    for start in ("dog", "cat", "mouse"):
        out = generate(model, [tok.word_index[start]], len(ids) - 1, greedy=True)
        words = [start] + tok.sequences_to_texts([[i] for i in out])
        subject = tok.word_index[start]  # where the sentence starting with it begins
        k = next(i for i in range(len(ids)) if ids[i] == subject and ids[i + 1] == scares)
        expected = [tok.index_word[i] for i in (ids[k:] + ids[:k])]
        assert words == expected, f"from {start!r}: {' '.join(words)}"


def test_sampling_controls_and_reproducibility():
    p = np.array([0.5, 0.3, 0.15, 0.05])
    np.testing.assert_allclose(filter_probs(p, top_k=2), [0.625, 0.375, 0, 0])
    np.testing.assert_allclose(filter_probs(p, top_p=0.7), [0.625, 0.375, 0, 0])
    np.testing.assert_allclose(filter_probs(p, top_p=1.0), p)
    cold = filter_probs(p, temperature=0.1)
    assert cold[0] > 0.99
    np.testing.assert_allclose(filter_probs(p, temperature=1.0), p)
    model = lm(6)
    model.build((None,))
    a = generate(model, [1, 2], 20, temperature=0.8, seed=3)
    b = generate(model, [1, 2], 20, temperature=0.8, seed=3)
    c = generate(model, [1, 2], 20, temperature=0.8, seed=4)
    assert a == b and a != c and len(a) == 20


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"temperature": 0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_k": 0}, "top_k"),
    ],
)
def test_bad_sampling_arguments(kwargs, match):
    model = lm(6)
    model.build((None,))
    with pytest.raises(ValueError, match=match):
        generate(model, [1], 5, **kwargs)


def test_bad_prompts():
    model = lm(6)
    model.build((None,))
    with pytest.raises(ValueError, match="empty prompt"):
        generate(model, [], 5)
    with pytest.raises(ValueError, match="token ids outside"):
        generate(model, [9], 5)


def test_beam_search_finds_the_most_likely_sequence():
    model = lm(5, dtype="float64")
    model.build((None,))
    prompt, length = [1], 3

    def logp(seq):
        total, states = 0.0, None
        probs, states = model.step(np.array(prompt), states)
        for t in seq:
            total += np.log(probs[0, t])
            probs, states = model.step(np.array([t]), states)
        return total

    best = max(itertools.product(range(5), repeat=length), key=logp)
    found = beam_search(model, prompt, length, beam_width=5**2, alpha=0.0)
    assert tuple(found[0][0]) == best
    assert found[0][1] == pytest.approx(logp(best))


def test_beam_width_is_bounded_and_may_exceed_the_vocabulary():
    from rnnkit.generation import MAX_BEAM_WIDTH

    model = lm(5, dtype="float64")
    model.build((None,))
    for width in (0, MAX_BEAM_WIDTH + 1, 10**6, 2.5, True):
        with pytest.raises(ValueError, match="beam_width"):
            beam_search(model, [1], 3, beam_width=width)
    # wider than the 5-token vocabulary: every distinct sequence of length 2, ranked
    found = beam_search(model, [1], 2, beam_width=100, alpha=0.0)
    assert len(found) == 25 and len({tuple(ids) for ids, _ in found}) == 25
    scores = [score for _, score in found]
    assert scores == sorted(scores, reverse=True)


def test_stream_windows_continue_across_batches():
    tokens = np.arange(1, 42)
    x, y = stream_windows(tokens, batch_size=2, window=5)
    assert x.shape == (8, 5) and np.array_equal(y, x + 1)
    # row i of batch j continues row i of batch j - 1
    np.testing.assert_array_equal(x[2:4, 0], x[0:2, -1] + 1)
    with pytest.raises(ValueError, match="too short"):
        stream_windows(np.arange(5), batch_size=2, window=5)


def test_stateful_training_carries_state_and_validation_leaves_it_alone():
    tokens = np.tile(np.arange(1, 8), 40)
    x, y = stream_windows(tokens, batch_size=4, window=5)
    model = lm(8, stateful=True)
    history = model.fit(
        x,
        y,
        batch_size=4,
        epochs=8,
        shuffle=False,
        verbose=0,
        callbacks=[ResetStates()],
        validation_data=(x[:8], y[:8]),
    )
    assert history.history["loss"][-1] < history.history["loss"][0]
    layer = model.layers[1]
    before = [s.copy() for s in layer.states]
    model.evaluate(x[:8], y[:8], batch_size=4)
    for s, b in zip(layer.states, before):
        np.testing.assert_array_equal(s, b)


def test_bigram_baseline_perplexity():
    from rnnkit.experiments.lm import bigram_perplexity

    rng = np.random.default_rng(0)
    cycle = np.tile([1, 2, 3, 4], 200)  # fully predictable from the previous token
    assert bigram_perplexity(cycle, cycle, vocab=6) < 1.2
    noise = rng.integers(1, 6, 5000)  # independent tokens: about the vocabulary size
    assert 4.5 < bigram_perplexity(noise, rng.integers(1, 6, 2000), vocab=6) < 5.5
    unseen = bigram_perplexity(cycle, np.array([5, 5, 5, 1]), vocab=6)
    assert np.isfinite(unseen)  # unseen histories and words still get mass


def test_weight_tying_gradients_and_round_trip(tmp_path):
    from rnnkit.layers import TiedDense
    from rnnkit.models import load_model
    from rnnkit.utils.gradient_check import check_model

    rnnkit.set_random_seed(0)
    emb = Embedding(7, 4, dtype="float64")
    model = Sequential([emb, LSTM(4, return_sequences=True, dtype="float64"),
                        TiedDense(emb, dtype="float64")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.build((None,))
    x = np.array([[1, 2, 3, 4], [5, 6, 1, 0]])
    y = np.array([[2, 3, 4, 5], [6, 1, 0, 2]])
    errors = check_model(model, x, y, eps=1e-5)  # small inputs: a larger step beats round-off
    assert max(errors.values()) < 1e-6, errors
    assert [n for n, _ in model.weights()][-1].endswith("/bias")  # E is stored once
    path = tmp_path / "tied.rnnkit"
    model.save(path)
    loaded = load_model(path)
    assert loaded.layers[-1].embedding is loaded.layers[0]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    with pytest.raises(ValueError, match="embedding size"):
        Sequential([emb, LSTM(3, return_sequences=True), TiedDense(emb)]).build((None,))

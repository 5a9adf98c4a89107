"""Tokenizer with Keras's semantics, saved as JSON."""

from __future__ import annotations

import pytest

from rnnkit.preprocessing.text import Tokenizer, text_to_word_sequence, tokenizer_from_json


def test_word_sequence_filters_and_lowercases():
    assert text_to_word_sequence("Dog scares Cat. Cat, scares MOUSE!") == [
        "dog",
        "scares",
        "cat",
        "cat",
        "scares",
        "mouse",
    ]
    assert text_to_word_sequence("it's 3.5%") == ["it's", "3", "5"]


def test_ranks_num_words_and_oov():
    tok = Tokenizer(num_words=3, oov_token="<unk>")
    tok.fit_on_texts(["b a a c", "a b d"])
    assert tok.word_index == {"<unk>": 1, "a": 2, "b": 3, "c": 4, "d": 5}  # ties: first seen
    assert tok.texts_to_sequences(["a b c zzz"]) == [[2, 1, 1, 1]]  # ids >= num_words -> oov
    plain = Tokenizer()
    plain.fit_on_texts(["b a a c"])
    assert plain.texts_to_sequences(["a zzz c"]) == [[1, 3]]  # unknown words dropped
    assert plain.sequences_to_texts([[1, 2, 3]]) == ["a b c"]


def test_char_level_and_json_round_trip():
    tok = Tokenizer(char_level=True, filters="", lower=False)
    tok.fit_on_texts(["ROMEO: hi"])
    seq = tok.texts_to_sequences(["hi ROMEO"])
    again = tokenizer_from_json(tok.to_json())
    assert again.texts_to_sequences(["hi ROMEO"]) == seq
    assert again.sequences_to_texts(seq) == ["hi ROMEO"]
    with pytest.raises(ValueError, match="Tokenizer JSON"):
        tokenizer_from_json('{"class_name": "Pickle"}')
    with pytest.raises(TypeError, match="list of texts"):
        tok.fit_on_texts("a single string")

"""Keras-compatible text tokenization: ``Tokenizer``, ``text_to_word_sequence``.

Saved and loaded as JSON (``to_json`` / ``tokenizer_from_json``), never pickled.
"""

from __future__ import annotations

import json
from collections import Counter

DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


def text_to_word_sequence(
    text: str, filters: str = DEFAULT_FILTERS, lower: bool = True, split: str = " "
) -> list[str]:
    """Lower-case, replace every filter character by ``split``, split, drop empties."""
    if not isinstance(text, str):
        raise TypeError(
            f"Received an invalid value for argument text, expected a str, got "
            f"{type(text).__name__}."
        )
    if lower:
        text = text.lower()
    if filters:
        text = text.translate(str.maketrans({c: split for c in filters}))
    return [w for w in text.split(split) if w]


class Tokenizer:
    """Words (or characters) to integer ids ranked by frequency, as Keras's Tokenizer.

    Args:
        num_words: keep only the ``num_words - 1`` most frequent words when turning
            texts into sequences (``word_index`` still ranks every word).
        filters: characters removed from the text.
        lower: lower-case the text first.
        split: the word separator.
        char_level: every character is a token.
        oov_token: if given, it takes id 1 and stands in for unknown words (which are
            otherwise dropped).

    Example:
        >>> tok = Tokenizer(num_words=100, oov_token="<unk>")
        >>> tok.fit_on_texts(["Dog scares Cat.", "Cat scares Mouse."])
        >>> tok.texts_to_sequences(["Mouse scares Dog"])
        [[5, 3, 4]]
    """

    def __init__(
        self,
        num_words=None,
        filters=DEFAULT_FILTERS,
        lower=True,
        split=" ",
        char_level=False,
        oov_token=None,
    ):
        if num_words is not None and (not isinstance(num_words, int) or num_words < 1):
            raise ValueError(
                f"Received an invalid value for argument num_words, expected a positive int or "
                f"None, got {num_words!r}."
            )
        self.num_words = num_words
        self.filters = filters
        self.lower = lower
        self.split = split
        self.char_level = char_level
        self.oov_token = oov_token
        self.word_counts: Counter = Counter()
        self.document_count = 0
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}

    def _tokens(self, text: str) -> list[str]:
        if self.char_level:
            if not isinstance(text, str):
                raise TypeError(f"Expected a str, got {type(text).__name__}.")
            text = text.lower() if self.lower else text
            return [c for c in text if c not in (self.filters or "")]
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts) -> None:
        """Count tokens; ids are ranks by count, ties broken by first appearance."""
        if isinstance(texts, str):
            raise TypeError("fit_on_texts expects a list of texts, got a single str.")
        for text in texts:
            self.document_count += 1
            self.word_counts.update(self._tokens(text))
        ranked = [w for w, _ in sorted(self.word_counts.items(), key=lambda kv: -kv[1])]
        if self.oov_token is not None:
            ranked = [self.oov_token] + [w for w in ranked if w != self.oov_token]
        self.word_index = {w: i + 1 for i, w in enumerate(ranked)}
        self.index_word = {i: w for w, i in self.word_index.items()}

    def texts_to_sequences(self, texts) -> list[list[int]]:
        if isinstance(texts, str):
            raise TypeError("texts_to_sequences expects a list of texts, got a single str.")
        oov = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        out = []
        for text in texts:
            seq = []
            for w in self._tokens(text):
                i = self.word_index.get(w)
                if i is not None and (self.num_words is None or i < self.num_words):
                    seq.append(i)
                elif oov is not None:
                    seq.append(oov)
            out.append(seq)
        return out

    def sequences_to_texts(self, sequences) -> list[str]:
        sep = "" if self.char_level else " "
        oov = self.oov_token
        out = []
        for seq in sequences:
            words = []
            for i in seq:
                w = self.index_word.get(int(i))
                if w is not None and (self.num_words is None or int(i) < self.num_words):
                    words.append(w)
                elif oov is not None:
                    words.append(oov)
            out.append(sep.join(words))
        return out

    def get_config(self) -> dict:
        return {
            "num_words": self.num_words,
            "filters": self.filters,
            "lower": self.lower,
            "split": self.split,
            "char_level": self.char_level,
            "oov_token": self.oov_token,
            "document_count": self.document_count,
            "word_counts": dict(self.word_counts),
            "word_index": self.word_index,
        }

    def to_json(self) -> str:
        return json.dumps({"class_name": "Tokenizer", "config": self.get_config()})


def tokenizer_from_json(text: str) -> Tokenizer:
    """Rebuild a Tokenizer saved with ``to_json``.

    Raises:
        ValueError: not a Tokenizer JSON document.
    """
    try:
        spec = json.loads(text)
        config = dict(spec["config"])
        assert spec["class_name"] == "Tokenizer"
    except (json.JSONDecodeError, KeyError, TypeError, AssertionError):
        raise ValueError("Not a Tokenizer JSON document.") from None
    counts = config.pop("word_counts")
    index = config.pop("word_index")
    docs = config.pop("document_count")
    tok = Tokenizer(**config)
    tok.word_counts = Counter(counts)
    tok.document_count = docs
    tok.word_index = {w: int(i) for w, i in index.items()}
    tok.index_word = {i: w for w, i in tok.word_index.items()}
    return tok

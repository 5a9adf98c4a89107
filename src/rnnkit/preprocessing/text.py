"""Keras-compatible text tokenization: ``Tokenizer``, ``text_to_word_sequence``.

Saved and loaded as JSON (``to_json`` / ``tokenizer_from_json``), never pickled.
"""

from __future__ import annotations

import json
from collections import Counter

from ..utils.io import parse_json

DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


def text_to_word_sequence(
    text: str, filters: str = DEFAULT_FILTERS, lower: bool = True, split: str = " "
) -> list[str]:
    """Lower-case, replace every filter character by ``split``, split, drop empties.

    Args:
        text: the text.
        filters: characters replaced by ``split``, default Keras's punctuation, tab
            and newline (``DEFAULT_FILTERS``).
        lower: lower-case the text first, default True.
        split: the word separator, default a space.

    Returns:
        The words, in order.

    Raises:
        TypeError: ``text`` is not a str.

    Example:
        >>> from rnnkit.preprocessing.text import text_to_word_sequence
        >>> text_to_word_sequence("Hello, World!  hello")
        ['hello', 'world', 'hello']
    """
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
        [[5, 2, 4]]
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


#: what Keras's Tokenizer.to_json writes besides the fields read here (rebuilt on load)
_KERAS_ONLY_FIELDS = {"word_docs", "index_docs", "index_word", "analyzer"}


def tokenizer_from_json(text: str | bytes, origin: str | None = None) -> Tokenizer:
    """Rebuild a Tokenizer saved with ``to_json`` (ours, or Keras's, whose tables are
    JSON strings inside the JSON). The document is untrusted: it is parsed with bounds
    on its nesting and every field is checked before anything is built.

    Args:
        text: the JSON document.
        origin: what to name in errors, e.g. the file it came from.

    Returns:
        The Tokenizer, its ``word_index`` and ``index_word`` consistent.

    Raises:
        ValueError: not a Tokenizer JSON document, or a field of the wrong type or
            value; the message names ``origin`` and the field.

    Example:
        >>> tok = tokenizer_from_json(Tokenizer(oov_token="<unk>").to_json())
        >>> tok.oov_token
        '<unk>'
    """
    where = origin or "Tokenizer JSON"
    if not isinstance(text, (str, bytes, bytearray)):
        raise TypeError(f"{where}: expected the JSON text, got {type(text).__name__}.")
    spec = parse_json(text, where)
    if not isinstance(spec, dict) or spec.get("class_name") != "Tokenizer":
        raise ValueError(f"{where}: not a Tokenizer JSON document (no class_name 'Tokenizer').")
    config = spec.get("config")
    if not isinstance(config, dict):
        raise _field_error(where, "config", "an object", config)
    unknown = sorted(set(config) - set(_FIELD_CHECKS) - _KERAS_ONLY_FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown Tokenizer fields {unknown}.")
    values = {}
    for name, (check, default) in _FIELD_CHECKS.items():
        value = config.get(name, default)
        if name in ("word_counts", "word_index") and isinstance(value, str):
            value = parse_json(value, f"{where}: field {name}")  # Keras nests them
        values[name] = check(where, name, value)
    index = values.pop("word_index")
    counts = values.pop("word_counts")
    docs = values.pop("document_count")
    ids = list(index.values())
    if len(set(ids)) != len(ids):
        raise _field_error(where, "word_index", "distinct ids, one per word", "repeated ids")
    tok = Tokenizer(**values)
    tok.word_counts = Counter(counts)
    tok.document_count = docs
    tok.word_index = index
    tok.index_word = {i: w for w, i in index.items()}
    return tok


def _field_error(where, name, expected, got) -> ValueError:
    shown = repr(got)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return ValueError(f"{where}: field {name} must be {expected}, got {shown}.")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_bool(where, name, value):
    if not isinstance(value, bool):
        raise _field_error(where, name, "true or false", value)
    return value


def _check_str(where, name, value, optional=False, nonempty=False):
    if value is None and optional:
        return None
    if not isinstance(value, str) or (nonempty and not value):
        what = "a non-empty string" if nonempty else "a string"
        raise _field_error(where, name, what + (" or null" if optional else ""), value)
    return value


def _check_table(where, name, value, minimum: int) -> dict[str, int]:
    if not isinstance(value, dict):
        raise _field_error(where, name, "an object of words to integers", value)
    for word, n in value.items():
        if not _is_int(n) or n < minimum:
            raise _field_error(where, f"{name}[{word!r}]", f"an integer >= {minimum}", n)
    return dict(value)


def _check_num_words(where, name, value):
    if value is not None and (not _is_int(value) or value < 1):
        raise _field_error(where, name, "a positive integer or null", value)
    return value


def _check_count(where, name, value):
    if not _is_int(value) or value < 0:
        raise _field_error(where, name, "an integer >= 0", value)
    return value


_FIELD_CHECKS = {
    "num_words": (_check_num_words, None),
    "filters": (lambda w, n, v: _check_str(w, n, v, optional=True), DEFAULT_FILTERS),
    "lower": (_check_bool, True),
    "split": (lambda w, n, v: _check_str(w, n, v, nonempty=True), " "),
    "char_level": (_check_bool, False),
    "oov_token": (lambda w, n, v: _check_str(w, n, v, optional=True), None),
    "document_count": (_check_count, 0),
    "word_counts": (lambda w, n, v: _check_table(w, n, v, 0), {}),
    "word_index": (lambda w, n, v: _check_table(w, n, v, 1), {}),
}

"""Sequence-to-sequence tasks with exact ground truth, generated on the fly.

Each generator returns source and target strings; test sets are drawn disjoint from
training sets (an example in both is removed from the test set). Encode them with
:class:`CharTable`. Asking for more distinct examples than a task has, or more than
:data:`MAX_EXAMPLES`, is a ValueError before anything is drawn.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np

from ..backend import make_rng
from ..utils.validation import positive_int

PAD, START, END = "\0", "\x02", "\x03"


class CharTable:
    """Characters <-> ids for fixed-length encoding. Id 0 is padding; the start and
    end marks are characters \\x02 and \\x03. Unknown characters raise a ValueError
    naming them (or map to ``unknown`` if one is given).

    Args:
        chars: the characters (any iterable; duplicates and the marks are dropped, the
            rest sorted after the three marks).
        unknown: the character unknown ones map to, default None (they raise); added
            to the table if missing.

    Example:
        >>> from rnnkit.datasets.seq2seq import CharTable
        >>> table = CharTable("0123456789+")
        >>> ids = table.encode(["12+3"], length=6, end=True)
        >>> ids
        array([[5, 6, 3, 7, 2, 0]])
        >>> table.decode(ids[0])
        '12+3'
    """

    def __init__(self, chars, unknown: str | None = None):
        chars = sorted(set(chars) - {PAD, START, END})
        self.chars = [PAD, START, END] + chars
        self.unknown = unknown
        if unknown is not None and unknown not in self.chars:
            self.chars.append(unknown)
        self.index = {c: i for i, c in enumerate(self.chars)}

    def to_list(self) -> list[str]:
        """Every character in id order (for saving; see :meth:`from_list`)."""
        return list(self.chars)

    @classmethod
    def from_list(cls, chars: list[str], unknown: str | None = None) -> CharTable:
        """The table saved by :meth:`to_list`, with exactly the same ids."""
        if list(chars[:3]) != [PAD, START, END] or len(set(chars)) != len(chars):
            raise ValueError("Not a saved character table (marks missing or duplicates).")
        table = cls.__new__(cls)
        table.chars, table.unknown = list(chars), unknown
        table.index = {c: i for i, c in enumerate(table.chars)}
        return table

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, texts, length: int, start: bool = False, end: bool = False) -> np.ndarray:
        """(len(texts), length) int array, post-padded with 0.

        Raises:
            ValueError: an unknown character (without ``unknown``), or a text longer
                than ``length`` with its marks.
        """
        out = np.zeros((len(texts), length), np.int64)
        for row, text in enumerate(texts):
            chars = ([START] if start else []) + list(text) + ([END] if end else [])
            if len(chars) > length:
                raise ValueError(
                    f"Text {text!r} is {len(chars)} characters with its marks; the model reads "
                    f"at most {length}."
                )
            for col, c in enumerate(chars):
                i = self.index.get(c)
                if i is None:
                    if self.unknown is None:
                        raise ValueError(
                            f"Character {c!r} in {text!r} is not in the vocabulary "
                            f"({''.join(self.chars[3:])!r})."
                        )
                    i = self.index[self.unknown]
                out[row, col] = i
        return out

    def decode(self, ids) -> str:
        """Ids to text, stopping at the end mark, skipping padding and the start mark."""
        chars = []
        for i in ids:
            c = self.chars[int(i)]
            if c == END:
                break
            if c not in (PAD, START):
                chars.append(c)
        return "".join(chars)


#: The most examples (training and test together) one generator call draws: the
#: pairs are Python strings, about 200 bytes each.
MAX_EXAMPLES = 5_000_000


def _disjoint(make, n_train, n_test, rng, capacity=None, task="task"):
    """Draw ``n_train`` then ``n_test`` examples, every source distinct.

    ``capacity`` is how many distinct sources the task has (None: too many to
    matter). Asking for more than exist is refused before drawing; and since a
    generator may hold fewer than its nominal count, drawing also gives up (an
    error, never an endless loop) after ``20 * needed + 100000`` draws."""
    needed = n_train + n_test
    if needed > MAX_EXAMPLES:
        raise ValueError(
            f"Received n_train + n_test = {needed:,} examples for the {task} task, more than "
            f"the {MAX_EXAMPLES:,} one call draws; ask for fewer."
        )
    if capacity is not None and needed > capacity:
        raise ValueError(
            f"Received n_train + n_test = {needed:,} distinct examples for the {task} task, "
            f"but it has only {capacity:,} distinct sources; ask for fewer."
        )
    budget = 20 * needed + 100_000
    seen, pairs = set(), []
    for _ in range(budget):
        if len(pairs) == needed:
            break
        src, tgt = make(rng)
        if src not in seen:
            seen.add(src)
            pairs.append((src, tgt))
    if len(pairs) < needed:
        raise ValueError(
            f"Drew only {len(pairs):,} distinct examples for the {task} task in {budget:,} "
            f"tries, fewer than the {needed:,} asked for (n_train + n_test); ask for fewer."
        )
    return pairs[:n_train], pairs[n_train:]


def addition(n_train: int, n_test: int, digits: int = 3, seed=None):
    """ "535+61" -> "596": sums of two random integers of up to ``digits`` digits (the
    Keras addition_rnn task). Returns (train, test) lists of (source, target) pairs.

    Args:
        n_train, n_test: the number of pairs in each set, positive ints; no source in
            the test set is one in the training set.
        digits: the most digits of each operand, default 3.
        seed: int, numpy Generator or None, default None.

    Raises:
        ValueError: a size that is not a positive int, or more pairs than the task has
            (or than ``MAX_EXAMPLES``).

    Example:
        >>> from rnnkit.datasets.seq2seq import addition
        >>> train, test = addition(3, 1, seed=0)
        >>> train[0]
        ('636+26', '662')
    """
    positive_int(digits, "digits")

    def make(rng):
        a = int(rng.integers(0, 10 ** rng.integers(1, digits + 1)))
        b = int(rng.integers(0, 10 ** rng.integers(1, digits + 1)))
        return f"{a}+{b}", str(a + b)

    return _disjoint(
        make,
        positive_int(n_train, "n_train"),
        positive_int(n_test, "n_test"),
        make_rng(seed),
        capacity=10 ** (2 * digits),
        task="addition",
    )


_FORMATS = (
    lambda d: d.strftime("%d/%m/%y"),
    lambda d: d.strftime("%d %b %Y").lower(),
    lambda d: d.strftime("%A, %B %-d, %Y"),
    lambda d: f"{_ordinal(d.day)} of {d.strftime('%B')} {d.year}",
    lambda d: d.strftime("%B %-d, %Y"),
    lambda d: d.strftime("%d.%m.%Y"),
    lambda d: d.strftime("%-d %B %Y"),
    lambda d: d.strftime("%a %d %b %y"),
    lambda d: d.strftime("%Y%m%d"),
    lambda d: d.strftime("%b %-d %Y").upper(),
)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def dates(n_train: int, n_test: int, seed=None, start_year: int = 1950, end_year: int = 2049):
    """Human-written dates in many formats -> ISO "1987-03-03" (translation-style
    task). Two-digit years in the source are read as start_year..start_year+99.

    Args:
        n_train, n_test: the number of pairs in each set, positive ints; no source in
            the test set is one in the training set.
        seed: int, numpy Generator or None, default None.
        start_year: the first year drawn, default 1950.
        end_year: the last year drawn, default 2049.

    Returns:
        (train, test) lists of (source, target) pairs.

    Raises:
        ValueError: a size that is not a positive int, or more pairs than the task has
            (or than ``MAX_EXAMPLES``).

    Example:
        >>> from rnnkit.datasets.seq2seq import dates
        >>> train, test = dates(2, 1, seed=0)
        >>> train[0]
        ('24 January 2035', '2035-01-24')
    """
    first = _dt.date(start_year, 1, 1).toordinal()
    last = _dt.date(end_year, 12, 31).toordinal()

    def make(rng):
        d = _dt.date.fromordinal(int(rng.integers(first, last + 1)))
        fmt = _FORMATS[int(rng.integers(len(_FORMATS)))]
        return fmt(d), d.isoformat()

    return _disjoint(
        make,
        positive_int(n_train, "n_train"),
        positive_int(n_test, "n_test"),
        make_rng(seed),
        capacity=len(_FORMATS) * (last - first + 1),
        task="dates",
    )


DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def number_tagging(n_train: int, n_test: int, seed=None, max_words: int = 6):
    """Many-to-many aligned: each character of a string of words is tagged B, I or O —
    the beginning of a number, inside a number, or outside one ("O" also for spaces).
    Returns (train, test) lists of (text, tags) with len(tags) == len(text).

    Args:
        n_train, n_test: the number of pairs in each set, positive ints; no source in
            the test set is one in the training set.
        seed: int, numpy Generator or None, default None.
        max_words: the most words per text, default 6.

    Raises:
        ValueError: a size that is not a positive int, or more pairs than the task has
            (or than ``MAX_EXAMPLES``).

    Example:
        >>> from rnnkit.datasets.seq2seq import number_tagging
        >>> train, test = number_tagging(1, 1, seed=0, max_words=3)
        >>> train[0]
        ('307 1 shares', 'BIIOBOOOOOOO')
    """
    words = ("cat", "dog", "sells", "buys", "the", "and", "kg", "of", "shares", "at", "mln")

    def make(rng):
        parts = []
        for _ in range(int(rng.integers(2, max_words + 1))):
            if rng.random() < 0.4:
                parts.append(str(int(rng.integers(0, 10 ** rng.integers(1, 5)))))
            else:
                parts.append(words[int(rng.integers(len(words)))])
        text = " ".join(parts)
        tags = []
        for part in parts:
            if part.isdigit():
                tags += ["B"] + ["I"] * (len(part) - 1)
            else:
                tags += ["O"] * len(part)
            tags.append("O")
        return text, "".join(tags[: len(text)])

    return _disjoint(
        make,
        positive_int(n_train, "n_train"),
        positive_int(n_test, "n_test"),
        make_rng(seed),
        task="tagging",
    )

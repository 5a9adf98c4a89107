"""Reuters-21578 newswire topics, rebuilt from the original SGML distribution.

Two views of the collection are offered:

* :func:`load_data` / :func:`get_word_index` / :func:`get_label_names` reproduce
  ``keras.datasets.reuters`` (11,228 wires over 46 topics, words ranked by
  frequency) from the raw ``reut2-NNN.sgm`` files, without downloading Keras's
  pre-built arrays. The data come out identical to Keras's, sequence for sequence.
* :func:`load_modapte` gives the clean modern benchmark: the "ModApte" split
  restricted to the 90 topics that have both training and test stories, with text
  (title and body, HTML entities decoded) and multi-label topic tuples.

How the Keras copy was built (reconstructed from the data and checked against
Keras's published figures; the build ran in 2015 under Python 2):

* the files are read in name order; every ``<TOPICS>`` tag starts a candidate
  wire whose topic is the text between the tag and the next ``</``, i.e. the
  *first* topic; stories with an empty topic list are skipped;
* its body is the raw text after the next ``<BODY>`` in the file (for a story
  without a body that is the *next* story's body) up to the next ``</``, with no
  entity decoding (hence tokens such as ``lt`` from ``&lt;`` and the ``3`` of the
  ``&#3;`` that ends each story). If no ``<BODY>`` follows at all, the failed
  search (-1) plus ``len("<BODY>")`` lands five characters into the topic field:
  the single affected story (NEWID 7000, the last of ``reut2-006.sgm``) gets the
  body ``"rn"`` (from "ea**rn**"), reproduced here;
* topics with at least 15 such wires are kept: 11,228 wires, 46 topics, labels
  numbered by first appearance;
* bodies are tokenised like Keras's ``Tokenizer`` (see :func:`tokenize`) and
  words ranked by count, most frequent first. Ties are in the iteration order of
  a Python 2.7 (64-bit) ``dict`` of the words, which is emulated here; the wires
  are stored in file order (no shuffle at build time).
"""

from __future__ import annotations

import functools
import html
import math
import numbers
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import _files

__all__ = [
    "KERAS_FILTERS",
    "LABEL_NAMES",
    "ModApte",
    "Story",
    "get_label_names",
    "get_word_index",
    "load_data",
    "load_modapte",
    "parse_sgml",
    "tokenize",
]

#: Characters that Keras's ``Tokenizer`` replaces by spaces before splitting.
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_FILTER_TABLE = str.maketrans(KERAS_FILTERS, " " * len(KERAS_FILTERS))

#: Minimum number of wires for a topic to be kept in the Keras-style data set.
MIN_WIRES_PER_TOPIC = 15

#: The 46 topics of the Keras-style data set, in label order (label i is LABEL_NAMES[i]).
LABEL_NAMES: tuple[str, ...] = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing",
    "money-supply", "coffee", "sugar", "trade", "reserves", "ship", "cotton",
    "carcass", "crude", "nat-gas", "cpi", "money-fx", "interest", "gnp",
    "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock",
    "retail", "ipi", "iron-steel", "rubber", "heat", "jobs", "lei", "bop", "zinc",
    "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
)  # fmt: skip

PathArg = str | os.PathLike[str] | None


# ---------------------------------------------------------------------- tokenising


def tokenize(text: str) -> list[str]:
    """Split text into words the way Keras's ``Tokenizer`` does by default.

    The text is lower-cased, every character of :data:`KERAS_FILTERS` (ASCII
    punctuation except the apostrophe, plus tab and newline) becomes a space, and
    the result is split on spaces with empty tokens dropped.

    Args:
        text: Any string.

    Returns:
        The list of tokens, in order.

    Raises:
        TypeError: ``text`` is not a string.

    Example:
        >>> from rnnkit.datasets.reuters import tokenize
        >>> tokenize("Oil prices rose 5% in May's trading.")
        ['oil', 'prices', 'rose', '5', 'in', "may's", 'trading']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return [word for word in text.lower().translate(_FILTER_TABLE).split(" ") if word]


# ------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Story:
    """One ``<REUTERS>`` story, with HTML entities decoded.

    Attributes:
        newid: The NEWID attribute (1 to 21578), or ``None`` if missing or invalid.
        topics_attr: The TOPICS attribute: ``"YES"``, ``"NO"``, ``"BYPASS"`` or ``""``.
        lewissplit: The LEWISSPLIT attribute: ``"TRAIN"``, ``"TEST"``, ``"NOT-USED"`` or ``""``.
        cgisplit: The CGISPLIT attribute.
        topics: The topic names of the ``<TOPICS>`` list, in order.
        title: The ``<TITLE>`` text, stripped (``""`` if absent).
        body: The ``<BODY>`` text, stripped (``""`` if absent).
        text: The whole ``<TEXT>`` element with tags removed, stripped.
        text_type: The TYPE attribute of ``<TEXT>`` (``"NORM"`` when absent).

    Example:
        >>> from rnnkit.datasets.reuters import parse_sgml
        >>> stories = parse_sgml(
        ...     '<REUTERS TOPICS="YES" NEWID="7"><TEXT><TITLE>OIL UP</TITLE>'
        ...     '<BODY>Prices rose.</BODY></TEXT></REUTERS>')
        >>> stories[0].newid, stories[0].title, stories[0].body
        (7, 'OIL UP', 'Prices rose.')
    """

    newid: int | None
    topics_attr: str
    lewissplit: str
    cgisplit: str
    topics: tuple[str, ...]
    title: str
    body: str
    text: str
    text_type: str


_STORY_OPEN = re.compile(r"<REUTERS\b([^>]*)>")
_STORY_CLOSE = "</REUTERS>"
_ATTRIBUTE = re.compile(r"([A-Za-z][\w-]*)\s*=\s*\"([^\"]*)\"")
_TEXT_OPEN = re.compile(r"<TEXT\b([^>]*)>")
_TAG = re.compile(r"<[^<>]*>")
_D_ITEM = re.compile(r"<D>(.*?)(?:</D>|(?=<D>)|$)", re.DOTALL)


def _element(block: str, open_tag: str, closers: Sequence[str], start: int = 0) -> str | None:
    """Content after ``open_tag`` up to the first of ``closers`` that occurs after it.

    Returns ``None`` when ``open_tag`` does not occur. ``closers`` lists the proper
    closing tag first, then fallbacks for malformed markup (such as ``"\n"`` for
    one-line elements); when none occurs the content runs to the end of ``block``.
    """
    i = block.find(open_tag, start)
    if i < 0:
        return None
    i += len(open_tag)
    for closer in closers:
        j = block.find(closer, i)
        if j >= 0:
            return block[i:j]
    return block[i:]


def _clean(raw: str | None) -> str:
    if not raw:
        return ""
    return html.unescape(_TAG.sub("", raw)).strip()


def parse_sgml(data: str | bytes) -> list[Story]:
    """Parse the stories of one Reuters-21578 SGML file.

    The parser is forgiving: a story ends at ``</REUTERS>`` or, when that is
    missing, at the next ``<REUTERS`` opening or the end of the data; a missing
    closing tag ends its element at a sensible boundary (for ``<BODY>``: the
    ``</TEXT>`` tag, else the end of the story); unknown tags are ignored. It never
    raises on malformed markup.

    Args:
        data: The file's text, or its raw bytes (decoded as latin-1, the
            collection's encoding).

    Returns:
        The stories in file order.

    Raises:
        TypeError: ``data`` is neither ``str`` nor ``bytes``.

    Example:
        >>> from rnnkit.datasets.reuters import parse_sgml
        >>> stories = parse_sgml(
        ...     '<REUTERS TOPICS="YES" NEWID="7"><TEXT><TITLE>OIL UP</TITLE>'
        ...     '<BODY>Prices rose.</BODY></TEXT></REUTERS>')
        >>> stories[0].newid, stories[0].title, stories[0].body
        (7, 'OIL UP', 'Prices rose.')
    """
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("latin-1")
    if not isinstance(data, str):
        raise TypeError(f"data must be str or bytes, got {type(data).__name__}")
    openings = list(_STORY_OPEN.finditer(data))
    stories = []
    for k, opening in enumerate(openings):
        limit = openings[k + 1].start() if k + 1 < len(openings) else len(data)
        close = data.find(_STORY_CLOSE, opening.end(), limit)
        block = data[opening.end() : close if close >= 0 else limit]
        attrs = dict(_ATTRIBUTE.findall(opening.group(1)))
        newid = attrs.get("NEWID", "").strip()

        topic_list = _element(block, "<TOPICS>", ("</TOPICS>", "\n")) or ""
        topics = tuple(t for t in (_clean(d) for d in _D_ITEM.findall(topic_list)) if t)

        text_open = _TEXT_OPEN.search(block)
        if text_open is None:
            text_block, text_type = "", "NORM"
        else:
            text_attrs = dict(_ATTRIBUTE.findall(text_open.group(1)))
            text_type = text_attrs.get("TYPE", "NORM")
            end = block.find("</TEXT>", text_open.end())
            text_block = block[text_open.end() : end if end >= 0 else len(block)]

        title = _element(text_block, "<TITLE>", ("</TITLE>", "\n"))
        body = _element(text_block, "<BODY>", ("</BODY>",))
        stories.append(
            Story(
                newid=int(newid) if newid.isdigit() else None,
                topics_attr=attrs.get("TOPICS", ""),
                lewissplit=attrs.get("LEWISSPLIT", ""),
                cgisplit=attrs.get("CGISPLIT", ""),
                topics=topics,
                title=_clean(title),
                body=_clean(body),
                text=_clean(text_block),
                text_type=text_type,
            )
        )
    return stories


def _keras_wires(data: str) -> list[tuple[str, str]]:
    """(first topic, raw body) pairs, found the way the 2015 Keras build found them.

    Plain string scanning over the whole file, as described in the module
    docstring; it never raises, whatever the markup.
    """
    wires = []
    tag = "<TOPICS>"
    pos = data.find(tag)
    while pos >= 0:
        pos += len(tag)
        end = data.find("</", pos)
        field = data[pos:end] if end >= 0 else data[pos:]
        topic = field.replace("<D>", "").strip()
        if topic:
            body_tag = data.find("<BODY>", pos)
            # A failed search returned -1 in the original; -1 + len("<BODY>") == 5.
            start = body_tag + len("<BODY>") if body_tag >= 0 else pos + 5
            stop = data.find("</", start)
            wires.append((topic, data[start:stop] if stop >= 0 else data[start:]))
        pos = data.find(tag, pos)
    return wires


# --------------------------------------------------------- Python 2 dict emulation

_MASK64 = (1 << 64) - 1


def _py2_string_hash(data: bytes) -> int:
    """CPython 2.7's hash of a byte string on a 64-bit platform, as an unsigned value."""
    if not data:
        return 0
    x = (data[0] << 7) & _MASK64
    for byte in data:
        x = ((1000003 * x) & _MASK64) ^ byte
    x ^= len(data)
    return _MASK64 - 1 if x == _MASK64 else x  # a hash of -1 becomes -2


def _py2_dict_order(keys: Iterable[str]) -> list[str]:
    """The order in which a CPython 2.7 dict iterates ``keys`` inserted in this order.

    Emulates the open-addressing table: 8 slots to start with, probing
    ``i = 5*i + perturb + 1`` with ``perturb >>= 5``, and a resize to the smallest
    power of two above 4x (2x beyond 50,000) the number of keys once the table is
    two-thirds full, re-inserting in slot order. Only insertions of distinct keys
    are modelled (no deletions), which is all a word-count dict sees.
    """
    table: list[tuple[int, str] | None] = [None] * 8
    mask, used = 7, 0

    def free_slot(slots: list[tuple[int, str] | None], slot_mask: int, h: int) -> int:
        i = h & slot_mask
        perturb = h
        while slots[i & slot_mask] is not None:
            i = (5 * i + perturb + 1) & _MASK64
            perturb >>= 5
        return i & slot_mask

    for key in keys:
        h = _py2_string_hash(key.encode("latin-1", "replace"))
        table[free_slot(table, mask, h)] = (h, key)
        used += 1
        if used * 3 >= (mask + 1) * 2:  # no deletions, so fill == used
            wanted = (2 if used > 50000 else 4) * used
            size = 8
            while size <= wanted:
                size <<= 1
            old, table, mask = table, [None] * size, size - 1
            for entry in old:
                if entry is not None:
                    table[free_slot(table, mask, entry[0])] = entry
    return [entry[1] for entry in table if entry is not None]


# -------------------------------------------------------------- Keras-style corpus


@dataclass(frozen=True)
class _KerasCorpus:
    tokens: np.ndarray  # all word ranks, concatenated (int64)
    offsets: np.ndarray  # wire i is tokens[offsets[i]:offsets[i + 1]]
    labels: np.ndarray  # int64
    word_index: dict[str, int]
    label_names: tuple[str, ...]


def _build_keras_corpus(files: dict[str, bytes]) -> _KerasCorpus:
    wires: list[tuple[str, str]] = []
    for name in sorted(files):
        wires.extend(_keras_wires(files[name].decode("latin-1")))
    topic_counts = Counter(topic for topic, _ in wires)
    label_of: dict[str, int] = {}
    labels: list[int] = []
    token_lists: list[list[str]] = []
    for topic, body in wires:
        if topic_counts[topic] < MIN_WIRES_PER_TOPIC:
            continue
        labels.append(label_of.setdefault(topic, len(label_of)))
        token_lists.append(tokenize(body))

    counts: Counter[str] = Counter()
    for tokens in token_lists:
        counts.update(tokens)
    ranked = sorted(_py2_dict_order(counts), key=counts.__getitem__, reverse=True)
    word_index = {word: rank for rank, word in enumerate(ranked, start=1)}

    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    offsets = np.zeros(len(token_lists) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter(
        (word_index[w] for tokens in token_lists for w in tokens),
        dtype=np.int64,
        count=int(offsets[-1]),
    )
    return _KerasCorpus(
        tokens=flat,
        offsets=offsets,
        labels=np.asarray(labels, dtype=np.int64),
        word_index=word_index,
        label_names=tuple(label_of),
    )


@functools.lru_cache(maxsize=4)
def _keras_corpus_cached(key: tuple[object, ...]) -> _KerasCorpus:
    return _build_keras_corpus(_files.read_reuters(str(key[0])))


def _keras_corpus(path: PathArg) -> _KerasCorpus:
    source = _files.find_reuters(path)
    return _keras_corpus_cached(_files.source_key(source))


# ---------------------------------------------------------------------- validation


def _int_arg(name: str, value: object, *, minimum: int, allow_none: bool) -> int | None:
    kind = "a positive int" if minimum == 1 else f"an int >= {minimum}"
    expected = f"{kind} or None" if allow_none else kind
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {expected}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value)


def _split_arg(value: object) -> float:
    expected = "a float in [0, 1)"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"test_split must be {expected}, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not (math.isfinite(value) and 0.0 <= value < 1.0):
        raise ValueError(f"test_split must be {expected}, got {value!r}")
    return value


def _object_array(items: list[list[int]]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


# ---------------------------------------------------------------------- public API


def load_data(
    path: PathArg = None,
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    test_split: float = 0.2,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load the Keras Reuters newswire topics data set (11,228 wires, 46 topics).

    Same interface and same results as ``keras.datasets.reuters.load_data``: the
    wires are shuffled with ``np.random.RandomState(seed)``, each sequence gets
    ``start_char`` in front and ``index_from`` added to every word rank, sequences
    of ``maxlen`` ids or more are dropped, ids outside ``[skip_top, num_words)``
    become ``oov_char`` (or are dropped when it is ``None``), and the first
    ``int(n * (1 - test_split))`` sequences form the training set.

    As in Keras, ``num_words=None`` means "the largest id present", and since the
    kept range is half-open that largest id itself becomes ``oov_char``; and
    ``skip_top`` is compared with the shifted ids (``start_char`` included).

    Args:
        path: Where Reuters-21578 is (see :func:`rnnkit.datasets._files.find_reuters`);
            ``None`` uses ``RNNKIT_DATA_DIR``, the cache, or a download.
        num_words: Keep ids below this value; ``None`` for all.
        skip_top: Ids below this value become ``oov_char``.
        maxlen: Keep only sequences shorter than this (start character included).
        test_split: Fraction of the sequences used for testing, in ``[0, 1)``.
        seed: Seed of the shuffle, ``0 <= seed < 2**32``.
        start_char: Id put at the start of every sequence; ``None`` for none.
        oov_char: Id replacing out-of-range words; ``None`` to drop them.
        index_from: Offset added to every word rank.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: 1-D object arrays of Python lists
        of ``int``, and ``int64`` label arrays (see :func:`get_label_names`).

    Raises:
        TypeError: An argument has the wrong type.
        ValueError: An argument is out of range, ``maxlen`` leaves no sequence, or
            the data files are corrupt or incomplete.
        FileNotFoundError: ``path`` does not exist or holds no Reuters data.
        DownloadError: The data had to be downloaded and that failed.

    Example:
        With the data in ``RNNKIT_DATA_DIR`` (else it is downloaded):

        >>> from rnnkit.datasets import reuters
        >>> (x_train, _), (x_test, _) = reuters.load_data(num_words=10000)  # doctest: +SKIP
        >>> first = x_train[0]  # doctest: +SKIP
        >>> len(x_train), len(x_test), first[:3]  # doctest: +SKIP
        (8982, 2246, [1, 2, 2])
    """
    num_words = _int_arg("num_words", num_words, minimum=1, allow_none=True)
    skip_top = _int_arg("skip_top", skip_top, minimum=0, allow_none=False)
    maxlen = _int_arg("maxlen", maxlen, minimum=1, allow_none=True)
    test_split = _split_arg(test_split)
    seed = _int_arg("seed", seed, minimum=0, allow_none=False)
    if seed >= 2**32:
        raise ValueError(f"seed must be an int in [0, 2**32), got {seed!r}")
    start_char = _int_arg("start_char", start_char, minimum=0, allow_none=True)
    oov_char = _int_arg("oov_char", oov_char, minimum=0, allow_none=True)
    index_from = _int_arg("index_from", index_from, minimum=0, allow_none=False)

    corpus = _keras_corpus(path)
    n = corpus.labels.size
    order = np.arange(n)
    np.random.RandomState(seed).shuffle(order)
    lengths = np.diff(corpus.offsets)[order]
    starts = corpus.offsets[:-1][order]
    labels = corpus.labels[order]

    head = 0 if start_char is None else 1
    full = lengths + head
    if maxlen is not None:
        keep = full < maxlen
        lengths, starts, labels, full = lengths[keep], starts[keep], labels[keep], full[keep]
        if labels.size == 0:
            raise ValueError(f"maxlen={maxlen} keeps no sequence; increase maxlen")

    count = labels.size
    out_starts = np.zeros(count, dtype=np.int64)
    np.cumsum(full[:-1], out=out_starts[1:])
    n_words = int(lengths.sum())
    within = np.arange(n_words, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out = np.empty(int(full.sum()), dtype=np.int64)
    out[np.repeat(out_starts + head, lengths) + within] = (
        corpus.tokens[np.repeat(starts, lengths) + within] + index_from
    )
    if head:
        out[out_starts] = start_char

    limit = num_words if num_words is not None else (int(out.max()) if out.size else 0)
    valid = (out >= skip_top) & (out < limit)
    if oov_char is not None:
        out[~valid] = oov_char
    else:
        owner = np.repeat(np.arange(count), full)
        out = out[valid]
        full = np.bincount(owner[valid], minlength=count)

    flat = out.tolist()
    ends = np.cumsum(full).tolist()
    begins = [0, *ends[:-1]]
    xs = [flat[b:e] for b, e in zip(begins, ends, strict=True)]

    cut = int(count * (1 - test_split))
    return (
        (_object_array(xs[:cut]), labels[:cut].copy()),
        (_object_array(xs[cut:]), labels[cut:].copy()),
    )


def get_word_index(path: PathArg = None) -> dict[str, int]:
    """Map each word to its frequency rank, like Keras's ``reuters_word_index.json``.

    Rank 1 is the most frequent word. In :func:`load_data`'s output a word of
    rank ``r`` appears as ``r + index_from`` (``r + 3`` by default).

    Args:
        path: Where Reuters-21578 is (as for :func:`load_data`).

    Returns:
        A new dict ``word -> rank`` with 30,979 entries, in rank order.

    Raises:
        FileNotFoundError: ``path`` does not exist or holds no Reuters data.
        ValueError: The data files are corrupt or incomplete.
        DownloadError: The data had to be downloaded and that failed.

    Example:
        >>> from rnnkit.datasets import reuters
        >>> index = reuters.get_word_index()  # doctest: +SKIP
        >>> len(index), index["the"]  # doctest: +SKIP
        (30979, 1)
    """
    return dict(_keras_corpus(path).word_index)


def get_label_names() -> tuple[str, ...]:
    """Return the 46 topic names of :func:`load_data`'s labels, in label order.

    Returns:
        A tuple whose item ``i`` names label ``i`` (``0`` is ``"cocoa"``, ``3`` is
        ``"earn"``).

    Example:
        >>> from rnnkit.datasets import reuters
        >>> reuters.get_label_names()[3]
        'earn'
    """
    return LABEL_NAMES


# ------------------------------------------------------------------------- ModApte


class ModApte(NamedTuple):
    """The ModApte split of Reuters-21578 restricted to its 90 usable topics.

    Attributes:
        train_texts: Title and body of each training story (entities decoded).
        train_labels: The topics of each training story (among ``categories``),
            in the story's order.
        test_texts: Title and body of each test story.
        test_labels: The topics of each test story.
        categories: The 90 topics with at least one training and one test story,
            sorted.

    Example:
        >>> from rnnkit.datasets import reuters
        >>> split = reuters.load_modapte()  # doctest: +SKIP
        >>> len(split.categories)  # doctest: +SKIP
        90
    """

    train_texts: list[str]
    train_labels: list[tuple[str, ...]]
    test_texts: list[str]
    test_labels: list[tuple[str, ...]]
    categories: list[str]


def _story_text(story: Story) -> str:
    parts = [part for part in (story.title, story.body) if part]
    if parts:
        return "\n".join(parts)
    return story.text  # unprocessed stories have neither title nor body


@functools.lru_cache(maxsize=4)
def _modapte_cached(key: tuple[object, ...]) -> ModApte:
    files = _files.read_reuters(str(key[0]))
    stories = [story for name in sorted(files) for story in parse_sgml(files[name])]
    train = [s for s in stories if s.topics_attr == "YES" and s.lewissplit == "TRAIN"]
    test = [s for s in stories if s.topics_attr == "YES" and s.lewissplit == "TEST"]
    categories = sorted({t for s in train for t in s.topics} & {t for s in test for t in s.topics})
    wanted = set(categories)

    def select(split: list[Story]) -> tuple[list[str], list[tuple[str, ...]]]:
        texts, labels = [], []
        for story in split:
            topics = tuple(dict.fromkeys(t for t in story.topics if t in wanted))
            if topics:
                texts.append(_story_text(story))
                labels.append(topics)
        return texts, labels

    train_texts, train_labels = select(train)
    test_texts, test_labels = select(test)
    return ModApte(train_texts, train_labels, test_texts, test_labels, categories)


def load_modapte(path: PathArg = None) -> ModApte:
    """Load the ModApte split (90 topics) of Reuters-21578 for multi-label work.

    Stories with ``TOPICS="YES"`` and ``LEWISSPLIT="TRAIN"`` (9,603) or ``"TEST"``
    (3,299) are taken; topics are restricted to the 90 that occur in both splits,
    and stories left with none are dropped, which gives 7,770 training and 3,019
    test stories. (Much of the literature, and NLTK's copy, report 7,769 training
    stories: one fewer ``trade`` story.) A story's text is its title and body,
    joined by a newline, with HTML entities decoded; the few unprocessed stories
    without either use their whole text.

    Args:
        path: Where Reuters-21578 is (as for :func:`load_data`).

    Returns:
        A :class:`ModApte` tuple of fresh lists.

    Raises:
        FileNotFoundError: ``path`` does not exist or holds no Reuters data.
        ValueError: The data files are corrupt or incomplete.
        DownloadError: The data had to be downloaded and that failed.

    Example:
        >>> from rnnkit.datasets import reuters
        >>> split = reuters.load_modapte()  # doctest: +SKIP
        >>> len(split.train_texts), len(split.test_texts), len(split.categories)  # doctest: +SKIP
        (7770, 3019, 90)
    """
    source = _files.find_reuters(path)
    cached = _modapte_cached(_files.source_key(source))
    return ModApte(*(list(field) for field in cached))

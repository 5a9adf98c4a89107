"""Reuters-21578: the Keras-compatible loader, ModApte, and the SGML parsers.

Tests marked by the ``reuters_dir`` fixture need the real collection in
``RNNKIT_DATA_DIR`` (``reuters21578.tar.gz`` or the extracted ``.sgm`` files); they
are skipped without it, unless ``RNNKIT_REQUIRE_DATA=1``, which turns the skip into
a failure. The parser and argument tests run everywhere.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rnnkit.datasets import _files, reuters

# Ground truth from a real ``keras.datasets.reuters.load_data`` run.
KERAS_FIRST_TRAIN_50_03 = [
    1, 245, 273, 207, 156, 53, 74, 160, 26, 14, 46, 296, 26, 39, 74, 2979, 3554, 14, 46,
    4689, 4329, 86, 61, 3499, 4795, 14, 61, 451, 4329, 17, 12,
]  # fmt: skip
# The start of Keras's default x_train[0], as printed in many tutorials.
KERAS_DEFAULT_FIRST_TRAIN_HEAD = [1, 27595, 28842, 8, 43, 10, 447, 5, 25, 207, 270, 5]
BIG = 10**6  # a num_words that keeps every word


@pytest.fixture(scope="module")
def reuters_dir() -> Path:
    """The real data folder from RNNKIT_DATA_DIR, or skip (fail if data is required)."""
    value = os.environ.get("RNNKIT_DATA_DIR", "")
    problem = None
    if not value:
        problem = "RNNKIT_DATA_DIR is not set"
    else:
        folder = Path(value)
        has_archive = (folder / "reuters21578.tar.gz").is_file()
        has_sgm = all((folder / name).is_file() for name in _files.REUTERS_FILES)
        if not (has_archive or has_sgm):
            problem = f"RNNKIT_DATA_DIR={value!r} holds no reuters21578.tar.gz or reut2-*.sgm"
    if problem is not None:
        if os.environ.get("RNNKIT_REQUIRE_DATA") == "1":
            pytest.fail(f"Reuters-21578 is required (RNNKIT_REQUIRE_DATA=1) but {problem}")
        pytest.skip(f"Reuters-21578 not available: {problem}")
    return Path(value)


@pytest.fixture(scope="module")
def split_50_03(reuters_dir):
    return reuters.load_data(path=reuters_dir, num_words=30000, maxlen=50, test_split=0.3)


@pytest.fixture(scope="module")
def default_split(reuters_dir):
    return reuters.load_data(path=reuters_dir)


@pytest.fixture(scope="module")
def raw_split(reuters_dir):
    """Word ranks as stored: no start character, no offset, nothing out of range."""
    return reuters.load_data(path=reuters_dir, num_words=BIG, start_char=None, index_from=0)


@pytest.fixture(scope="module")
def modapte(reuters_dir):
    return reuters.load_modapte(path=reuters_dir)


def _all(split):
    (x_train, y_train), (x_test, y_test) = split
    return list(x_train) + list(x_test), np.concatenate([y_train, y_test])


# ------------------------------------------------------------- Keras-style data set


def test_counts_and_topics(reuters_dir, default_split):
    xs, ys = _all(default_split)
    assert len(xs) == 11228
    assert sorted(set(ys.tolist())) == list(range(46))
    corpus = reuters._keras_corpus(reuters_dir)
    assert corpus.label_names == reuters.LABEL_NAMES
    assert len(reuters.get_word_index(reuters_dir)) == 30979


def test_label_names():
    names = reuters.get_label_names()
    assert isinstance(names, tuple) and len(names) == 46 and len(set(names)) == 46
    assert names[:5] == ("cocoa", "grain", "veg-oil", "earn", "acq")


def test_ground_truth_maxlen_50_split_03(split_50_03):
    (x_train, y_train), (x_test, y_test) = split_50_03
    assert (len(x_train), len(x_test)) == (1395, 599)
    assert list(x_train[0]) == KERAS_FIRST_TRAIN_50_03
    longest = max(len(x) for x in x_train)
    padded = np.zeros((len(x_train), longest), dtype=np.int64)  # pad_sequences(padding="post")
    for i, x in enumerate(x_train):
        padded[i, : len(x)] = x
    assert padded.shape == (1395, 49)


def test_majority_label_of_the_maxlen_50_test_split(split_50_03):
    # The project's notes give 452/599 (0.75459) for label 3 here; the rebuilt data,
    # which matches Keras sequence for sequence elsewhere, gives 448/599 (0.74791).
    _, (_, y_test) = split_50_03
    counts = np.bincount(y_test)
    assert counts.argmax() == 3 and reuters.get_label_names()[3] == "earn"
    assert counts[3] == 448


def test_default_split(default_split):
    (x_train, y_train), (x_test, y_test) = default_split
    assert (len(x_train), len(x_test)) == (8982, 2246)
    for x, y in ((x_train, y_train), (x_test, y_test)):
        assert x.dtype == object and x.ndim == 1
        assert y.dtype == np.int64 and y.shape == x.shape
    assert isinstance(x_train[0], list) and all(type(w) is int for w in x_train[0])
    assert x_train[0][: len(KERAS_DEFAULT_FIRST_TRAIN_HEAD)] == KERAS_DEFAULT_FIRST_TRAIN_HEAD
    assert np.bincount(y_train)[3:5].tolist() == [3159, 1949]
    assert np.bincount(y_test)[3:5].tolist() == [813, 474]


def test_same_seed_same_order_other_seed_same_multiset(reuters_dir, default_split):
    again = reuters.load_data(path=reuters_dir)
    for (xa, ya), (xb, yb) in zip(default_split, again, strict=True):
        assert xa.tolist() == xb.tolist() and np.array_equal(ya, yb)
    other = reuters.load_data(path=reuters_dir, seed=114)
    xs, ys = _all(default_split)
    xo, yo = _all(other)
    assert [tuple(x) for x in xs] != [tuple(x) for x in xo]
    assert Counter(zip(map(tuple, xs), ys.tolist(), strict=True)) == Counter(
        zip(map(tuple, xo), yo.tolist(), strict=True)
    )


def test_num_words_maps_rare_words_to_oov(reuters_dir):
    xs, _ = _all(reuters.load_data(path=reuters_dir, num_words=100))
    ids = np.concatenate([np.asarray(x) for x in xs])
    assert np.all((ids < 100) | (ids == 2))
    assert np.count_nonzero(ids == 2) > 0 and ids.max() == 99


def test_skip_top(reuters_dir):
    xs, _ = _all(reuters.load_data(path=reuters_dir, skip_top=10, num_words=1000))
    ids = np.concatenate([np.asarray(x) for x in xs])
    assert np.all(((ids >= 10) & (ids < 1000)) | (ids == 2))
    # As in Keras, the start character (1 < skip_top) is replaced as well.
    assert all(x[0] == 2 for x in xs)


def test_num_words_none_is_the_largest_id(default_split):
    # Keras's quirk, reproduced: the largest id itself falls outside [0, max id).
    xs, _ = _all(default_split)
    ids = np.concatenate([np.asarray(x) for x in xs])
    assert ids.max() == 30979 + 3 - 1


def test_oov_char_none_drops_words(reuters_dir):
    kept = reuters.load_data(path=reuters_dir, num_words=100, oov_char=None)
    marked = reuters.load_data(path=reuters_dir, num_words=100)
    xk, yk = _all(kept)
    xm, ym = _all(marked)
    assert np.array_equal(yk, ym)
    assert all(xa == [w for w in xb if w != 2] for xa, xb in zip(xk, xm, strict=True))
    assert all(w < 100 for x in xk for w in x)


def test_start_char_and_index_from_variants(reuters_dir, raw_split):
    raw, _ = _all(raw_split)
    assert min(min(x) for x in raw if x) == 1  # ranks start at 1
    assert max(max(x) for x in raw if x) == 30979
    shifted, _ = _all(
        reuters.load_data(path=reuters_dir, num_words=BIG, start_char=7, index_from=5)
    )
    assert all(s == [7] + [w + 5 for w in r] for s, r in zip(shifted, raw, strict=True))
    no_start, _ = _all(reuters.load_data(path=reuters_dir, num_words=BIG, start_char=None))
    assert all(s == [w + 3 for w in r] for s, r in zip(no_start, raw, strict=True))


def test_word_index_matches_load_data(reuters_dir, raw_split, default_split):
    index = reuters.get_word_index(reuters_dir)
    assert list(index.values()) == list(range(1, len(index) + 1))
    assert index["the"] == 1 and index["reuter"] == 14 and index["3"] == 9
    words = {rank: word for word, rank in index.items()}
    raw, _ = _all(raw_split)
    shifted, _ = _all(default_split)
    for r, s in zip(raw[:50], shifted[:50], strict=True):
        # rank r appears as id r + 3; only the largest id is out of range (num_words=None)
        assert s == [1] + [w + 3 if w + 3 < len(index) + 3 else 2 for w in r]
    counts = Counter(w for x in raw for w in x)
    ranks = [index[w] for w in ("the", "of", "to", "said")]
    assert [counts[r] for r in ranks] == sorted((counts[r] for r in ranks), reverse=True)
    assert words[14] == "reuter"
    assert index is not reuters.get_word_index(reuters_dir)  # a fresh copy each time


def test_env_dir_is_used_by_default(reuters_dir, split_50_03, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA_DIR", str(reuters_dir))
    (x_train, y_train), _ = reuters.load_data(num_words=30000, maxlen=50, test_split=0.3)
    assert x_train.tolist() == split_50_03[0][0].tolist()
    assert np.array_equal(y_train, split_50_03[0][1])


def test_maxlen_too_small(reuters_dir):
    with pytest.raises(ValueError, match="maxlen=1"):
        reuters.load_data(path=reuters_dir, maxlen=1)


def test_test_split_zero(reuters_dir):
    (x_train, _), (x_test, y_test) = reuters.load_data(path=reuters_dir, test_split=0)
    assert len(x_train) == 11228 and len(x_test) == 0 and y_test.dtype == np.int64


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"num_words": 0}, ValueError, r"num_words must be a positive int or None, got 0"),
        ({"num_words": 1.5}, TypeError, r"num_words .* got 1\.5"),
        ({"num_words": True}, TypeError, r"num_words"),
        ({"skip_top": -1}, ValueError, r"skip_top must be an int >= 0, got -1"),
        ({"maxlen": 0}, ValueError, r"maxlen must be a positive int or None, got 0"),
        ({"maxlen": "50"}, TypeError, r"maxlen .* got '50'"),
        ({"test_split": 1.0}, ValueError, r"test_split must be a float in \[0, 1\), got 1\.0"),
        ({"test_split": -0.1}, ValueError, r"test_split"),
        ({"test_split": float("nan")}, ValueError, r"test_split"),
        ({"test_split": "0.2"}, TypeError, r"test_split .* got '0\.2'"),
        ({"seed": -1}, ValueError, r"seed"),
        ({"seed": 2**32}, ValueError, r"seed"),
        ({"seed": None}, TypeError, r"seed"),
        ({"start_char": -1}, ValueError, r"start_char"),
        ({"oov_char": 2.0}, TypeError, r"oov_char"),
        ({"index_from": None}, TypeError, r"index_from"),
    ],
)
def test_argument_validation(kwargs, error, pattern):
    # Arguments are checked before any data is looked for.
    with pytest.raises(error, match=pattern):
        reuters.load_data(path="/nonexistent/never/read", **kwargs)


def test_numpy_integers_are_accepted(reuters_dir):
    (x_train, _), _ = reuters.load_data(path=reuters_dir, num_words=np.int64(50), seed=np.int32(1))
    assert max(max(x) for x in x_train) < 50


def test_in_process_cache(reuters_dir, default_split):
    before = reuters._keras_corpus_cached.cache_info()
    reuters.get_word_index(reuters_dir)
    after = reuters._keras_corpus_cached.cache_info()
    assert after.hits == before.hits + 1 and after.misses == before.misses


# ------------------------------------------------------------------------- ModApte


def test_modapte_counts(modapte):
    assert len(modapte.categories) == 90
    assert modapte.categories == sorted(modapte.categories)
    # The literature (and NLTK's copy) has 7,769 training stories; the original
    # files give one more "trade" story.
    assert len(modapte.train_texts) == len(modapte.train_labels) == 7770
    assert len(modapte.test_texts) == len(modapte.test_labels) == 3019
    train = Counter(t for labels in modapte.train_labels for t in labels)
    test = Counter(t for labels in modapte.test_labels for t in labels)
    assert (train["earn"], test["earn"]) == (2877, 1087)
    assert (train["acq"], test["acq"]) == (1650, 719)
    assert set(train) == set(test) == set(modapte.categories)


def test_modapte_texts_are_clean(modapte):
    texts = modapte.train_texts + modapte.test_texts
    assert all(text.strip() for text in texts)
    assert not any("&lt;" in t or "&#" in t or "<BODY>" in t for t in texts)
    assert modapte.train_texts[0].startswith("BAHIA COCOA REVIEW\nShowers continued")
    assert modapte.train_labels[0] == ("cocoa",)
    assert all(labels and len(set(labels)) == len(labels) for labels in modapte.train_labels)


def test_modapte_returns_fresh_lists(reuters_dir, modapte):
    modapte.train_texts.clear()
    assert len(reuters.load_modapte(reuters_dir).train_texts) == 7770


def test_parser_on_the_real_files(reuters_dir):
    files = _files.read_reuters(_files.find_reuters(reuters_dir))
    stories = [s for name in files for s in reuters.parse_sgml(files[name])]
    assert len(stories) == 21578
    assert sorted(s.newid for s in stories) == list(range(1, 21579))
    odd = [s for s in reuters.parse_sgml(files["reut2-017.sgm"]) if s.newid == 17980]
    assert len(odd) == 1 and "\u00fc" in odd[0].body  # the collection's one latin-1 byte
    assert Counter(s.topics_attr for s in stories) == {"YES": 13476, "NO": 7059, "BYPASS": 1043}


# -------------------------------------------------------------- data-free parsing

SAMPLE = (
    b'<!DOCTYPE lewis SYSTEM "lewis.dtd">\n'
    b'<REUTERS TOPICS="YES" LEWISSPLIT="TRAIN" CGISPLIT="TRAINING-SET" OLDID="5" NEWID="1">\n'
    b"<DATE>26-FEB-1987 15:01:01.79</DATE>\n"
    b"<TOPICS><D>cocoa</D><D>grain</D></TOPICS>\n"
    b"<PLACES><D>el-salvador</D></PLACES>\n"
    b"<TEXT>&#2;\n<TITLE>BAHIA &amp; COCOA</TITLE>\n"
    b"<DATELINE>    SALVADOR, Feb 26 - </DATELINE><BODY>Showers M\xfcnchen &lt;AB&gt; up.\n"
    b" Reuter\n&#3;</BODY></TEXT>\n</REUTERS>\n"
    b'<REUTERS TOPICS="NO" LEWISSPLIT="TEST" CGISPLIT="TRAINING-SET" OLDID="6" NEWID="2">\n'
    b"<TOPICS></TOPICS>\n"
    b'<TEXT TYPE="BRIEF">&#2;\n<TITLE>NO BODY HERE</TITLE>\n&#3;\n</TEXT>\n</REUTERS>\n'
    b'<REUTERS TOPICS="YES" LEWISSPLIT="TEST" CGISPLIT="TRAINING-SET" OLDID="7" NEWID="3">\n'
    b"<TOPICS><D>earn</D></TOPICS>\n"
    b"<TEXT>&#2;\n<TITLE>NET UP</TITLE><BODY>Shr 3.20 dlrs vs 2.10.\n Reuter\n&#3;</BODY>"
    b"</TEXT>\n</REUTERS>\n"
)


def test_parse_sgml_sample():
    one, two, three = reuters.parse_sgml(SAMPLE)
    assert (one.newid, one.topics_attr, one.lewissplit) == (1, "YES", "TRAIN")
    assert one.topics == ("cocoa", "grain")
    assert one.title == "BAHIA & COCOA"
    assert one.body == "Showers M\u00fcnchen <AB> up.\n Reuter"  # &#3; decodes to nothing
    assert two.topics == () and two.body == "" and two.title == "NO BODY HERE"
    assert two.text_type == "BRIEF" and two.text == "NO BODY HERE"
    assert three.topics == ("earn",) and three.cgisplit == "TRAINING-SET"
    assert reuters.parse_sgml(SAMPLE.decode("latin-1")) == [one, two, three]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no markup at all",
        "<REUTERS",
        "<REUTERS>",
        '<REUTERS NEWID="x"><TOPICS><D>a</D><D>b',
        '<REUTERS NEWID="1"><TEXT><BODY>never closed',
        '<REUTERS NEWID="1"><TEXT><TITLE>t<BODY>b</BODY></TEXT>'
        '<REUTERS NEWID="2"><TOPICS><D>x</D></TOPICS>',
        "</BODY></TEXT></REUTERS><BODY><TOPICS>",
        "<<<>>> &#99999999; &bogus; &#; <D></D>",
        '<REUTERS TOPICS="YES" NEWID="5"><TOPICS><D>earn</D></TOPICS><TEXT>&#5;&#30;x</TEXT>',
    ],
)
def test_parsers_survive_broken_markup(text):
    stories = reuters.parse_sgml(text)
    assert all(isinstance(s, reuters.Story) for s in stories)
    wires = reuters._keras_wires(text)
    assert all(isinstance(t, str) and isinstance(b, str) for t, b in wires)


def test_parse_sgml_recovers_from_missing_closing_tags():
    text = (
        '<REUTERS NEWID="1"><TOPICS><D>a</D><D>b\n<TEXT><TITLE>T\n<BODY>first body</TEXT>\n'
        '<REUTERS NEWID="2"><TOPICS><D>c</D></TOPICS><TEXT><BODY>second</BODY></TEXT></REUTERS>'
    )
    one, two = reuters.parse_sgml(text)
    assert one.newid == 1 and one.topics == ("a", "b")
    assert one.title == "T" and one.body == "first body"
    assert two.newid == 2 and two.topics == ("c",) and two.body == "second"


def test_parse_sgml_type_error():
    with pytest.raises(TypeError, match="data"):
        reuters.parse_sgml(123)  # type: ignore[arg-type]


def test_keras_wires_rules():
    text = (
        "<REUTERS><TOPICS><D>grain</D><D>wheat</D></TOPICS><BODY>A &lt;b&gt; 3</BODY></REUTERS>"
        "<REUTERS><TOPICS></TOPICS><BODY>skipped</BODY></REUTERS>"
        "<REUTERS><TOPICS><D>earn</D></TOPICS><TITLE>no body</TITLE></REUTERS>"
        "<REUTERS><TOPICS></TOPICS><BODY>borrowed</BODY></REUTERS>"
        "<REUTERS><TOPICS><D>earn</D></TOPICS></REUTERS>"
    )
    assert reuters._keras_wires(text) == [
        ("grain", "A &lt;b&gt; 3"),  # first topic, raw text (entities kept)
        ("earn", "borrowed"),  # no body of its own: the next story's
        ("earn", "rn"),  # no body left in the file: the original's off-by-(-1)
    ]


def test_tokenize():
    assert reuters.tokenize("Shr 3.20 dlrs vs <A&B> it's\tOK\n&#3;") == [
        "shr", "3", "20", "dlrs", "vs", "a", "b", "it's", "ok", "3",
    ]  # fmt: skip
    assert reuters.tokenize("  ...  ") == []
    with pytest.raises(TypeError):
        reuters.tokenize(b"bytes")  # type: ignore[arg-type]


def test_python2_dict_emulation():
    # Known values of CPython 2.7 on 64-bit platforms.
    assert reuters._py2_string_hash(b"") == 0
    assert reuters._py2_string_hash(b"a") == 12416037344
    assert reuters._py2_string_hash(b"abc") == 1453079729188098211
    assert reuters._py2_dict_order(["a", "b", "c"]) == ["a", "c", "b"]
    words = [f"w{i}" for i in range(5000)]
    order = reuters._py2_dict_order(words)
    assert sorted(order) == sorted(words) and order != words

"""Sequence-to-sequence task generators: exact ground truth, disjoint splits."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from rnnkit.datasets.seq2seq import CharTable, addition, dates, number_tagging


def test_addition_is_exact_and_disjoint():
    train, test = addition(2000, 500, seed=0)
    for src, tgt in train + test:
        a, b = src.split("+")
        assert int(a) + int(b) == int(tgt) and len(a) <= 3 and len(b) <= 3
    assert not {s for s, _ in train} & {s for s, _ in test}
    assert addition(50, 10, seed=1) == addition(50, 10, seed=1)


def test_dates_parse_back_to_their_iso_target():
    train, test = dates(500, 100, seed=0)
    assert not {s for s, _ in train} & {s for s, _ in test}
    formats = set()
    for src, iso in train:
        day = dt.date.fromisoformat(iso)
        assert str(day.year % 100).zfill(2) in src or str(day.year) in src
        formats.add(len(src.split()))
    assert len(formats) >= 3  # several shapes of writing


def test_tagging_aligns_one_tag_per_character():
    train, _ = number_tagging(200, 10, seed=0)
    for text, tags in train:
        assert len(text) == len(tags)
        for c, t in zip(text, tags):
            assert (t in "BI") == c.isdigit()


def test_char_table_round_trip_and_errors():
    table = CharTable("0123456789+")
    ids = table.encode(["12+7"], length=7, start=True, end=True)
    assert ids.shape == (1, 7) and ids[0, -1] == 0
    assert table.decode(ids[0]) == "12+7"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        table.encode(["1x2"], length=5)
    with pytest.raises(ValueError, match="at most 3"):
        table.encode(["12345"], length=3)
    lenient = CharTable("0123456789", unknown="?")
    assert lenient.decode(lenient.encode(["1x"], 3)[0]) == "1?"
    assert np.all(table.encode([""], 3) == 0)


def test_char_table_round_trip_keeps_every_id():
    table = CharTable("abc12", unknown="?")  # "?" is appended after the sorted characters
    again = CharTable.from_list(table.to_list(), unknown="?")
    assert again.chars == table.chars
    np.testing.assert_array_equal(again.encode(["a?1x"], 4), table.encode(["a?1x"], 4))
    with pytest.raises(ValueError, match="saved character table"):
        CharTable.from_list(["a", "b"])

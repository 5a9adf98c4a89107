"""load_word_vectors: a published vector file (GloVe, fastText) into an embedding matrix,
every line checked and every error naming the file and the line."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.preprocessing.word_vectors import load_word_vectors

pytestmark = pytest.mark.timeout(60)

INDEX = {"the": 1, "cat": 2, "sat": 3, "down": 4}


def write(tmp_path, text: str | bytes, name: str = "vectors.txt"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_glove_and_fasttext_forms(tmp_path):
    glove = write(tmp_path, "the 0.1 0.2 0.3\ncat -1 2e-1 3\nunknown 9 9 9\n. . . 7 7 7\n")
    matrix = load_word_vectors(glove, INDEX)
    assert matrix.shape == (5, 3) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[1], np.float32([0.1, 0.2, 0.3]))
    np.testing.assert_array_equal(matrix[2], np.float32([-1, 0.2, 3]))
    assert not matrix[[0, 3, 4]].any()  # padding and words the file lacks
    fasttext = write(tmp_path, "3 2\nthe 1 2\nsat 3 4\nthe 5 6\n", "wiki.vec")
    matrix = load_word_vectors(fasttext, INDEX, num_words=3)
    assert matrix.shape == (3, 2)  # ids >= num_words left out
    np.testing.assert_array_equal(matrix[1], [5, 6])  # the later line wins
    spaced = load_word_vectors(write(tmp_path, "x 1 1\n. . . 2 3\n", "s.txt"), {". . .": 1})
    np.testing.assert_array_equal(spaced[1], [2, 3])


@pytest.mark.parametrize(
    "content, match",
    [
        (
            "the 0.1 0.2\ncat 0.1\n",
            "line 2 holds 1 values after the word; the file's vectors have 2",
        ),
        ("the 0.1 0.2\ncat 0.1 zero\n", "line 2: 'zero' is not a number"),
        ("the 0.1 nan\n", "line 1: the vector of 'the' is not finite"),
        ("the 0.1 1e39\n", "not finite in float32"),
        ("the " + " ".join(["1"] * 5000) + "\n", "a vector of 5000 values"),
        ("", "holds no word vectors"),
        ("\n\n", "holds no word vectors"),
        ("the\n", "a vector of 0 values"),
        (b"the 0.1 0.2\ncaf\xe9 0.1 0.2\n", "line 2 is not UTF-8 (byte 15 of the file is 0xe9)"),
        ("the 1 2".encode("utf-16"), "line 1 is not UTF-8"),
        (b"the " + b"1" * (2 << 20) + b"\n", "longer than"),
    ],
)
def test_broken_files_name_the_line(tmp_path, content, match):
    path = write(tmp_path, content)
    with pytest.raises(ValueError) as info:
        load_word_vectors(path, INDEX)
    assert str(path) in str(info.value)
    assert match in str(info.value), str(info.value)


def test_bad_arguments_and_bounds(tmp_path):
    path = write(tmp_path, "the 1 2 3\n")
    with pytest.raises(FileNotFoundError):
        load_word_vectors(tmp_path / "missing.txt", INDEX)
    with pytest.raises(TypeError, match="word_index"):
        load_word_vectors(path, ["the"])
    with pytest.raises(ValueError, match="num_words"):
        load_word_vectors(path, INDEX, num_words=0)
    with pytest.raises(ValueError, match="max_bytes"):
        load_word_vectors(path, {"the": 10**9})  # a (1e9, 3) matrix, refused unallocated

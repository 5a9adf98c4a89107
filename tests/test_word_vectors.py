"""PPMI + SVD word vectors (rnnkit.preprocessing.word_vectors)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.preprocessing.word_vectors import ppmi_svd_vectors


def _corpus(n_sentences: int = 300, seed: int = 0) -> list[list[int]]:
    """Words 1 and 2 ("cat", "dog") occur in the same frames; 3 and 4 ("oil", "gas") in
    other frames; every frame word is drawn from its own small set."""
    rng = np.random.default_rng(seed)
    animals_ctx = [10, 11, 12, 13]
    fuel_ctx = [20, 21, 22, 23]
    out = []
    for _ in range(n_sentences):
        if rng.random() < 0.5:
            word, ctx = rng.choice([1, 2]), animals_ctx
        else:
            word, ctx = rng.choice([3, 4]), fuel_ctx
        left, right = rng.choice(ctx, 2), rng.choice(ctx, 2)
        out.append([int(v) for v in (*left, word, *right)])
    return out


def _cos(a, b) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_shape_dtype_and_unit_rows():
    vectors = ppmi_svd_vectors(_corpus(), n_words=30, dim=4, window=2)
    assert vectors.shape == (30, 4) and vectors.dtype == np.float32
    norms = np.linalg.norm(vectors, axis=1)
    seen = [1, 2, 3, 4, 10, 11, 12, 13, 20, 21, 22, 23]
    np.testing.assert_allclose(norms[seen], 1.0, rtol=1e-5)
    unseen = [i for i in range(30) if i not in seen]  # includes the padding id 0
    assert np.all(norms[unseen] == 0)


def test_words_sharing_contexts_are_closer_than_unrelated_words():
    vectors = ppmi_svd_vectors(_corpus(), n_words=30, dim=4, window=2)
    assert _cos(vectors[1], vectors[2]) > 0.9
    assert _cos(vectors[3], vectors[4]) > 0.9
    for a in (1, 2):
        for b in (3, 4):
            assert _cos(vectors[a], vectors[b]) < 0.3
            assert _cos(vectors[a], vectors[b]) < _cos(vectors[1], vectors[2]) - 0.5


def test_deterministic_including_the_randomized_svd():
    # 600 words x 7,000 contexts is above the size where the exact SVD is used
    rng = np.random.default_rng(3)
    corpus = [rng.integers(1, 8000, size=60) for _ in range(2000)]
    first = ppmi_svd_vectors(corpus, n_words=600, dim=16, n_contexts=7000)
    second = ppmi_svd_vectors([list(s) for s in corpus], n_words=600, dim=16, n_contexts=7000)
    np.testing.assert_array_equal(first, second)
    assert np.count_nonzero(np.linalg.norm(first, axis=1)) > 590  # id 0 and unseen: zero


def test_randomized_svd_agrees_with_the_exact_one():
    from rnnkit.preprocessing.word_vectors import _randomized_svd

    rng = np.random.default_rng(0)
    low_rank = rng.standard_normal((800, 6)) @ rng.standard_normal((6, 6000))
    matrix = (low_rank + 0.01 * rng.standard_normal((800, 6000))).astype(np.float32)
    u, s = _randomized_svd(matrix, 6, n_iter=3, seed=0)
    u_exact, s_exact, _ = np.linalg.svd(matrix.astype(np.float64), full_matrices=False)
    np.testing.assert_allclose(s, s_exact[:6], rtol=1e-4)
    np.testing.assert_allclose(np.abs(u.T @ u_exact[:, :6]), np.eye(6), atol=1e-3)


@pytest.fixture
def captured_ppmi(monkeypatch):
    """The PPMI matrix handed to the SVD by the last call."""
    from rnnkit.preprocessing import word_vectors

    captured = {}
    real = word_vectors._randomized_svd

    def spy(matrix, rank, n_iter, seed):
        captured["matrix"] = matrix.copy()
        return real(matrix, rank, n_iter, seed)

    monkeypatch.setattr(word_vectors, "_randomized_svd", spy)
    return captured


def test_ppmi_values_on_a_hand_counted_corpus(captured_ppmi):
    # one sequence [1, 2], window 1, no smoothing: pairs (1,2) and (2,1), each with
    # P(w,c) = 1/2, P(w) = 1/2, P(c) = 1/2, so PMI = log 2
    ppmi_svd_vectors([[1, 2]], n_words=3, dim=1, window=1, alpha=1.0)
    # contexts sorted by frequency (tie: lower id first): columns are ids 1, 2
    expected = np.array([[0, 0], [0, np.log(2)], [np.log(2), 0]], np.float32)
    np.testing.assert_allclose(captured_ppmi["matrix"], expected, rtol=1e-6)


def test_smoothing_raises_the_pmi_of_rare_contexts(captured_ppmi):
    corpus = [[1, 2], [1, 3], [1, 3], [1, 3]]  # context 2 is rarer than context 3
    ppmi_svd_vectors(corpus, n_words=4, dim=1, window=1, alpha=1.0)
    plain = captured_ppmi["matrix"].copy()
    ppmi_svd_vectors(corpus, n_words=4, dim=1, window=1, alpha=0.75)
    smoothed = captured_ppmi["matrix"]
    # columns: 1 (freq 4), 3 (freq 3), 2 (freq 1); rows 2 and 3 only have context 1
    assert smoothed[1, 2] < plain[1, 2]  # P_0.75(rare c) > P(rare c): lower PMI
    assert smoothed[2, 0] > 0 and plain[2, 0] > 0


def test_windows_do_not_cross_sequences_and_ignored_ids_are_skipped(captured_ppmi):
    # 5 and 6 are neighbours only across a sequence boundary or through the padding id 0
    corpus = [[1, 2, 5], [6, 1, 2], [5, 0, 6]] * 5
    vectors = ppmi_svd_vectors(corpus, n_words=7, dim=2, window=1)
    matrix = captured_ppmi["matrix"]  # all four ids equally frequent: columns 1, 2, 5, 6
    assert matrix[5, 3] == 0 and matrix[6, 2] == 0
    assert matrix[5, 1] > 0 and matrix[6, 0] > 0  # their real neighbours 2 and 1
    assert np.all(matrix[0] == 0) and np.all(vectors[0] == 0)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"n_words": 0}, "n_words"),
        ({"dim": 0}, "dim"),
        ({"dim": 2.5}, "dim"),
        ({"dim": 50}, "dim"),  # more than the rows / contexts there are
        ({"window": 0}, "window"),
        ({"n_contexts": -1}, "n_contexts"),
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 1.5}, "alpha"),
        ({"eigenvalue_weight": 2}, "eigenvalue_weight"),
        ({"sequences": "some text"}, "sequences"),
        ({"sequences": [[1, -2, 3]]}, "sequences"),
        ({"sequences": [["a", "b"]]}, "sequences"),
        ({"sequences": [[0, 0], []]}, "sequences"),  # nothing but padding
        ({"sequences": [[1], [2]]}, "sequences"),  # no pair within the window
    ],
)
def test_bad_input_names_the_argument(kwargs, argument):
    args = {"sequences": _corpus(20), "n_words": 30, "dim": 2, **kwargs}
    with pytest.raises(ValueError, match=rf"argument {argument}\b"):
        ppmi_svd_vectors(**args)

"""Word vectors learnt without labels: positive PMI + truncated SVD (Levy & Goldberg).

Count how often each word ``w`` has each context word ``c`` within ``window`` tokens of
it (both sides, every position weighted 1), over a corpus of token-id sequences. Then

    PMI(w, c)  = log( P(w, c) / (P(w) · P_α(c)) ),   P_α(c) = #(c)^α / Σ_c' #(c')^α
    PPMI(w, c) = max(PMI(w, c), 0)                    (0 where the pair was never seen)
    PPMI ≈ U · S · Vᵀ  (rank ``dim``),                vectors = U · S^p, rows scaled to norm 1

with context-distribution smoothing α = 0.75 and eigenvalue weighting p = 0.5 (Levy,
Goldberg & Dagan 2015, "Improving distributional similarity with lessons learned from
word embeddings", TACL 3). The contexts are the ``n_contexts`` most frequent ids, the
matrix is dense (vocabulary × contexts, float32), and the SVD is a seeded randomized
one (Halko, Martinsson & Tropp 2011) with power iterations, so the vectors are the
same on every run. NumPy only.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["ppmi_svd_vectors"]


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(
            f"Received an invalid value for argument {name}, expected an integer >= "
            f"{minimum}, got {value!r}."
        )
    return int(value)


def _flatten(sequences: Iterable[Sequence[int]], window: int) -> np.ndarray:
    """All sequences in one int64 array, each followed by ``window`` separators (-1), so
    that no window reaches from one sequence into the next."""
    parts = []
    sep = np.full(window, -1, np.int64)
    for i, seq in enumerate(sequences):
        arr = np.asarray(seq)
        if arr.size == 0:
            continue
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"Received an invalid value for argument sequences: sequence {i} must be a "
                f"flat sequence of integer token ids, got dtype {arr.dtype} and shape "
                f"{arr.shape}."
            )
        if arr.min() < 0:
            raise ValueError(
                f"Received an invalid value for argument sequences: sequence {i} holds the "
                f"negative id {int(arr.min())}; ids must be >= 0."
            )
        parts.extend((arr.astype(np.int64, copy=False), sep))
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def _randomized_svd(matrix: np.ndarray, rank: int, n_iter: int, seed: int):
    """The top ``rank`` singular triplets of ``matrix`` (Halko et al. 2011, alg. 4.4)."""
    rows, cols = matrix.shape
    if rows * cols <= 4_000_000 or min(rows, cols) <= 2 * rank:
        u, s, _ = np.linalg.svd(matrix.astype(np.float64), full_matrices=False)
        return u[:, :rank], s[:rank]
    rng = np.random.default_rng(seed)
    sketch = min(rank + 10, min(rows, cols))
    q, _ = np.linalg.qr(matrix @ rng.standard_normal((cols, sketch)).astype(matrix.dtype))
    for _ in range(n_iter):
        z, _ = np.linalg.qr(matrix.T @ q)
        q, _ = np.linalg.qr(matrix @ z)
    u_small, s, _ = np.linalg.svd((q.T @ matrix).astype(np.float64), full_matrices=False)
    return (q.astype(np.float64) @ u_small)[:, :rank], s[:rank]


def ppmi_svd_vectors(
    sequences: Iterable[Sequence[int]],
    n_words: int,
    dim: int = 128,
    window: int = 5,
    n_contexts: int = 10000,
    alpha: float = 0.75,
    eigenvalue_weight: float = 0.5,
    ignore_ids: Iterable[int] = (0,),
    n_iter: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """PPMI + SVD word vectors for ids ``0 .. n_words - 1`` from unlabelled text.

    Args:
        sequences: the corpus, an iterable of sequences of integer token ids (e.g. a
            ``Tokenizer``'s ``texts_to_sequences``); ids >= ``n_words`` are ignored.
        n_words: number of rows wanted (vocabulary size), an integer >= 1.
        dim: vector size, an integer >= 1 and at most the number of rows and of
            contexts. Default 128.
        window: context words counted on each side of a word. Default 5.
        n_contexts: only the most frequent ids (ties: lower id first) serve as contexts.
            Default 10,000.
        alpha: context-distribution smoothing exponent, in (0, 1]. Default 0.75.
        eigenvalue_weight: p in U·S^p, in [0, 1]. Default 0.5.
        ignore_ids: ids that are neither words nor contexts (default ``(0,)``, the
            padding id); their rows are zero.
        n_iter: power iterations of the randomized SVD. Default 5.
        seed: seed of the randomized SVD's random projection. Default 0.

    Returns:
        A float32 array of shape ``(n_words, dim)``: one unit-norm row per id that has
        at least one positive-PMI context, and a zero row for every other id (ignored
        ids, ids never seen, ids whose contexts all fall outside the context set).

    Raises:
        ValueError: for an invalid argument (the message names it), or a corpus with
            no pair of words within ``window`` of each other.

    Example:
        >>> corpus = [[1, 2, 3, 4], [1, 5, 3, 4], [6, 7, 8, 6]]
        >>> ppmi_svd_vectors(corpus, n_words=9, dim=2).shape
        (9, 2)
    """
    n_words = _check_int("n_words", n_words, 1)
    dim = _check_int("dim", dim, 1)
    window = _check_int("window", window, 1)
    n_contexts = _check_int("n_contexts", n_contexts, 1)
    n_iter = _check_int("n_iter", n_iter, 0)
    seed = _check_int("seed", seed, 0)
    if not isinstance(alpha, numbers.Real) or not 0 < alpha <= 1:
        raise ValueError(
            f"Received an invalid value for argument alpha, expected a number in (0, 1], "
            f"got {alpha!r}."
        )
    if not isinstance(eigenvalue_weight, numbers.Real) or not 0 <= eigenvalue_weight <= 1:
        raise ValueError(
            f"Received an invalid value for argument eigenvalue_weight, expected a number "
            f"in [0, 1], got {eigenvalue_weight!r}."
        )
    if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Iterable):
        raise ValueError(
            f"Received an invalid value for argument sequences, expected an iterable of "
            f"token-id sequences, got {type(sequences).__name__}."
        )
    ignored = {int(i) for i in ignore_ids}

    tokens = _flatten(sequences, window)
    tokens = np.where(tokens < n_words, tokens, -1)  # out-of-range ids: gaps
    if ignored:
        tokens = np.where(np.isin(tokens, list(ignored)), -1, tokens)
    freq = np.bincount(tokens[tokens >= 0], minlength=n_words)
    n_ctx = min(n_contexts, int(np.count_nonzero(freq)))
    if n_ctx == 0:
        raise ValueError(
            "Received an invalid value for argument sequences: it holds no word ids "
            f"below n_words={n_words} (other than ignore_ids)."
        )
    if dim > min(n_words, max(n_ctx, 1)):
        raise ValueError(
            f"Received an invalid value for argument dim, expected at most "
            f"min(n_words, contexts seen) = {min(n_words, n_ctx)}, got {dim}."
        )
    contexts = np.argsort(-freq, kind="stable")[:n_ctx]
    column = np.full(n_words, -1, np.int64)
    column[contexts] = np.arange(n_ctx)

    # (word, context) pair codes over both directions of every offset in the window
    codes = []
    for offset in range(1, window + 1):
        left, right = tokens[:-offset], tokens[offset:]
        for w, c in ((left, right), (right, left)):
            ok = (w >= 0) & (c >= 0)
            col = column[c[ok]]
            keep = col >= 0
            codes.append(w[ok][keep] * n_ctx + col[keep])
    codes = np.concatenate(codes)
    if codes.size == 0:
        raise ValueError(
            f"Received an invalid value for argument sequences: no two words occur within "
            f"window={window} of each other, so there is nothing to count."
        )
    pairs, counts = np.unique(codes, return_counts=True)
    rows, cols = pairs // n_ctx, pairs % n_ctx
    counts = counts.astype(np.float64)
    row_sum = np.bincount(rows, weights=counts, minlength=n_words)
    col_sum = np.bincount(cols, weights=counts, minlength=n_ctx)
    smoothed = col_sum**alpha
    p_context = smoothed / smoothed.sum()
    total = counts.sum()
    pmi = np.log(counts / total) - np.log(row_sum[rows] / total) - np.log(p_context[cols])
    positive = pmi > 0
    matrix = np.zeros((n_words, n_ctx), np.float32)
    matrix[rows[positive], cols[positive]] = pmi[positive]

    u, s = _randomized_svd(matrix, dim, n_iter, seed)
    # A singular vector's sign is arbitrary: make each column's largest entry positive.
    signs = np.sign(u[np.argmax(np.abs(u), axis=0), np.arange(u.shape[1])])
    signs[signs == 0] = 1
    vectors = u * signs * s**eigenvalue_weight
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    has_context = matrix.any(axis=1)[:, None] & (norms > 0)
    vectors = np.where(has_context, vectors / np.where(norms > 0, norms, 1), 0.0)
    return vectors.astype(np.float32)

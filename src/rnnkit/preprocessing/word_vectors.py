"""Word vectors learnt without labels: positive PMI + truncated SVD (Levy & Goldberg);
and :func:`load_word_vectors`, which reads published ones (GloVe, fastText) from a file.

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

import itertools
import numbers
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["load_word_vectors", "ppmi_svd_vectors"]

#: the widest vectors read from a file (published ones are 50 to 1,024 wide)
MAX_VECTOR_DIM = 4096
#: the longest line of a vector file read (a 4,096-wide line of floats is ~70 KB)
_MAX_LINE_BYTES = 1 << 20


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


def load_word_vectors(
    path,
    word_index: dict[str, int],
    num_words: int | None = None,
    max_bytes: int = 1 << 30,
) -> np.ndarray:
    """An embedding matrix from a text file of word vectors (GloVe, fastText ``.vec``,
    word2vec text), for the words of ``word_index`` — the rows Keras's
    "pre-trained word embeddings" recipe builds by hand.

    Each line is ``word v1 v2 ... vd``, separated by spaces; a first line of two
    integers (``count dim``, fastText and word2vec) is a header. The file is
    untrusted and read one line at a time: strict UTF-8, every line the same width,
    every value a finite number, each error naming the file and the line. A word
    listed twice takes its later line (as the recipe's dict does); words of the file
    not in ``word_index`` are skipped unstored.

    Args:
        path: the text file.
        word_index: word to row id, e.g. a Tokenizer's ``word_index`` (ids >= 1).
        num_words: rows of the matrix (Keras's ``num_words``: ids at or above it are
            left out); default the largest id plus one.
        max_bytes: the largest matrix built (default 1 GiB), checked before it is
            allocated.

    Returns:
        A float32 array (num_words, dim): row ``i`` the vector of the word with id
        ``i``, zero for ids whose word the file lacks (and for row 0, padding).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a line that is not UTF-8, of another width or with a value that
            is not a finite number; vectors wider than 4,096; no vector at all; a
            matrix over ``max_bytes``. The message names the file and the line.
        TypeError: ``word_index`` that is not a dict of str to int.

    Example:
        >>> matrix = load_word_vectors("glove.6B.100d.txt", tok.word_index)  # doctest: +SKIP
        >>> embedding = Embedding(len(matrix), 100, trainable=False)  # doctest: +SKIP
        >>> embedding.ensure_built((None,)); embedding.set_weights([matrix])  # doctest: +SKIP
    """
    import os

    if not isinstance(word_index, dict) or not all(
        isinstance(w, str) and isinstance(i, numbers.Integral) and not isinstance(i, bool)
        for w, i in word_index.items()
    ):
        raise TypeError(
            "Received an invalid value for argument word_index: expected a dict of str to int."
        )
    if any(i < 0 for i in word_index.values()):
        raise ValueError("Received an invalid value for argument word_index: ids must be >= 0.")
    rows = max(word_index.values(), default=0) + 1
    if num_words is not None:
        rows = _check_int("num_words", num_words, 1)
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No word-vector file at {path!r}.")
    matrix = None
    dim = None
    with open(path, "rb") as f:
        offset = 0
        for number in itertools.count(1):
            raw = f.readline(_MAX_LINE_BYTES + 1)
            if not raw:
                break
            where = f"{path!r} line {number}"
            if len(raw) > _MAX_LINE_BYTES:
                raise ValueError(f"{where} is longer than {_MAX_LINE_BYTES:,} bytes.")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"{where} is not UTF-8 (byte {offset + exc.start} of the file is "
                    f"0x{raw[exc.start]:02x})."
                ) from None
            offset += len(raw)
            parts = line.rstrip("\r\n").rstrip(" ").split(" ")
            if parts == [""]:
                continue
            if dim is None:
                if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    continue  # the "count dim" header
                dim = len(parts) - 1
                if not 1 <= dim <= MAX_VECTOR_DIM:
                    raise ValueError(
                        f"{where}: a vector of {dim} values; expected 1 to {MAX_VECTOR_DIM}."
                    )
                if rows * dim * 4 > max_bytes:
                    raise ValueError(
                        f"{path!r}: a ({rows}, {dim}) matrix is {rows * dim * 4:,} bytes, "
                        f"more than max_bytes={max_bytes:,}."
                    )
                matrix = np.zeros((rows, dim), np.float32)
            if len(parts) < dim + 1:
                raise ValueError(
                    f"{where} holds {len(parts) - 1} values after the word; the file's "
                    f"vectors have {dim}."
                )
            word = " ".join(parts[:-dim])  # a few GloVe words hold spaces
            i = word_index.get(word)
            if i is None or i >= rows:
                continue
            try:
                vector = np.array([float(v) for v in parts[-dim:]], np.float64)
            except ValueError:
                bad = next(v for v in parts[-dim:] if not _is_float(v))
                raise ValueError(f"{where}: {bad[:40]!r} is not a number.") from None
            if not np.isfinite(vector).all() or np.abs(vector).max() > np.finfo(np.float32).max:
                raise ValueError(f"{where}: the vector of {word!r} is not finite in float32.")
            matrix[i] = vector
    if matrix is None:
        raise ValueError(f"{path!r} holds no word vectors.")
    return matrix


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True

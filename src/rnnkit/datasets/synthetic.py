"""Synthetic sequence tasks with exact ground truth, generated on the fly."""

from __future__ import annotations

import numpy as np

from ..backend import make_rng
from ..runs import ensure_fits
from ..utils.validation import positive_int


def delayed_recall(
    n_samples: int, delay: int, n_symbols: int = 4, n_distractors: int = 4, seed=None
):
    """Recall the symbol shown at the first step after ``delay`` distractor steps.

    Each sequence has ``delay + 1`` steps of one-hot vectors over ``n_symbols +
    n_distractors`` values: step 0 holds a symbol in [0, n_symbols), the following
    ``delay`` steps hold random distractors; the target is the first symbol. A model
    must carry it through the whole sequence; chance accuracy is 1 / n_symbols.

    Args:
        n_samples: the number of sequences, a positive int.
        delay: the number of distractor steps, a positive int.
        n_symbols: the symbols to recall, default 4.
        n_distractors: the distractor values, default 4.
        seed: int, numpy Generator or None, default None.

    Returns:
        x of shape (n_samples, delay + 1, n_symbols + n_distractors) (float32) and
        integer labels y of shape (n_samples,).

    Raises:
        ValueError: non-positive sizes, or arrays that cannot fit in memory.

    Example:
        >>> from rnnkit.datasets.synthetic import delayed_recall
        >>> x, y = delayed_recall(5, delay=3, seed=0)
        >>> x.shape, x.dtype, y.shape
        ((5, 4, 8), dtype('float32'), (5,))
    """
    n_samples = positive_int(n_samples, "n_samples")
    delay = positive_int(delay, "delay")
    n_symbols = positive_int(n_symbols, "n_symbols")
    n_distractors = positive_int(n_distractors, "n_distractors")
    ensure_fits(
        n_samples * (delay + 1) * (8 + 4 * (n_symbols + n_distractors)),
        f"{n_samples} delayed-recall sequences of {delay + 1} steps",
        "n_samples or delay",
    )
    rng = make_rng(seed)
    y = rng.integers(0, n_symbols, n_samples)
    ids = np.empty((n_samples, delay + 1), np.int64)
    ids[:, 0] = y
    ids[:, 1:] = n_symbols + rng.integers(0, n_distractors, (n_samples, delay))
    x = np.eye(n_symbols + n_distractors, dtype=np.float32)[ids]
    return x, y

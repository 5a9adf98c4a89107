"""Tiny Shakespeare: the 1,115,394-character corpus of char-rnn and nanoGPT.

The file is found as described in :mod:`rnnkit.datasets._files`: an explicit
``path``, then ``$RNNKIT_DATA_DIR/tinyshakespeare/input.txt``, then the per-user
cache, then a download from the karpathy/char-rnn repository (checked against its
sha256). A local copy is accepted after a size check.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
from pathlib import Path

from . import _files

__all__ = ["load_splits", "load_text"]

PathArg = str | os.PathLike[str] | None


@functools.lru_cache(maxsize=4)
def _read_cached(key: tuple[object, ...]) -> str:
    path = str(key[0])
    _files.check_size(Path(path), _files.SHAKESPEARE)
    with open(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text ({exc})") from None


def load_text(path: PathArg = None) -> str:
    """Return the whole tiny Shakespeare corpus as one string.

    Args:
        path: The ``input.txt`` file, or a directory holding ``input.txt`` or
            ``tinyshakespeare/input.txt``; ``None`` uses ``RNNKIT_DATA_DIR``, the
            cache, or a download.

    Returns:
        The text (1,115,394 characters).

    Raises:
        FileNotFoundError: ``path`` does not exist or holds no ``input.txt``.
        ValueError: The file has the wrong size or is not UTF-8 text, or a
            download failed its sha256 check.
        DownloadError: The file had to be downloaded and that failed.

    Example:
        >>> from rnnkit.datasets import shakespeare
        >>> text = shakespeare.load_text()  # doctest: +SKIP
        >>> len(text), text[:9]  # doctest: +SKIP
        (1115394, 'First Cit')
    """
    source = _files.find_shakespeare(path)
    return _read_cached(_files.source_key(source))


def load_splits(path: PathArg = None, val_fraction: float = 0.1) -> tuple[str, str]:
    """Split the corpus by characters into training and validation text, as nanoGPT does.

    The first ``int(n * (1 - val_fraction))`` characters are for training and the
    rest for validation (90 % / 10 % by default).

    Args:
        path: Where the corpus is (as for :func:`load_text`).
        val_fraction: Fraction of the characters kept for validation, in ``[0, 1)``.

    Returns:
        ``(train_text, val_text)``.

    Raises:
        TypeError: ``val_fraction`` is not a real number.
        ValueError: ``val_fraction`` is outside ``[0, 1)``, or the file is invalid
            (see :func:`load_text`).
        FileNotFoundError: ``path`` does not exist or holds no ``input.txt``.
        DownloadError: The file had to be downloaded and that failed.

    Example:
        >>> from rnnkit.datasets import shakespeare
        >>> train_text, val_text = shakespeare.load_splits()  # doctest: +SKIP
        >>> len(train_text), len(val_text)  # doctest: +SKIP
        (1003854, 111540)
    """
    expected = "a float in [0, 1)"
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, numbers.Real):
        raise TypeError(
            f"val_fraction must be {expected}, got {val_fraction!r} ({type(val_fraction).__name__})"
        )
    fraction = float(val_fraction)
    if not (math.isfinite(fraction) and 0.0 <= fraction < 1.0):
        raise ValueError(f"val_fraction must be {expected}, got {val_fraction!r}")
    text = load_text(path)
    cut = int(len(text) * (1 - fraction))
    return text[:cut], text[cut:]

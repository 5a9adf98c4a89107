"""Array utilities with Keras's semantics."""

from __future__ import annotations

import numpy as np

from .validation import as_array


def to_categorical(y, num_classes: int | None = None, dtype="float32") -> np.ndarray:
    """One-hot encode integer class ids: shape (..., num_classes).

    Args:
        y: integer class ids (any shape; a trailing axis of 1 is dropped, as Keras).
        num_classes: number of classes; default max(y) + 1.
        dtype: output dtype.

    Raises:
        ValueError: negative ids, non-integral values, or ids >= num_classes.

    Example:
        >>> to_categorical([0, 2], 3)
        array([[1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    y = as_array(y, "y")
    if np.issubdtype(y.dtype, np.floating):
        if np.any(y != np.round(y)):
            raise ValueError(
                "Received an invalid value for argument y: expected integer class ids."
            )
    y = y.astype(np.int64)
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y[..., 0]
    if y.min() < 0:
        raise ValueError(
            f"Received an invalid value for argument y: class ids must be >= 0, got {y.min()}."
        )
    if num_classes is None:
        num_classes = int(y.max()) + 1
    elif y.max() >= num_classes:
        raise ValueError(
            f"Received an invalid value for argument y: class id {y.max()} is not below "
            f"num_classes={num_classes}."
        )
    out = np.zeros(y.shape + (int(num_classes),), dtype=dtype)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out

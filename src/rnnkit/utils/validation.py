"""Input checks for the public boundary: one clear message, never a NumPy traceback.

Messages follow one pattern: what (the argument or layer), what was expected, what
came. Checks run once where data enters (``fit``, ``predict``, a layer's ``__call__``),
not inside the hot loops.
"""

from __future__ import annotations

import math

import numpy as np


def describe(value) -> str:
    """A short description of a value for error messages.

    Args:
        value: anything.

    Returns:
        Shape and dtype for an array, the length for a list or tuple, else the type
        and repr (cut to 120 characters).

    Example:
        >>> from rnnkit.utils import validation
        >>> validation.describe([1, 2])
        'a list of length 2'
    """
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"{type(value).__name__} {value!r}"[:120]


def as_array(value, argument: str, *, numeric: bool = True, allow_int: bool = True) -> np.ndarray:
    """``value`` as an ndarray; ragged lists and non-numeric data raise clearly.

    Booleans count as numbers, as in Keras (one-hot arrays built with
    ``dtype="bool"``): with ``numeric`` a boolean array comes back as float32 0/1.

    Args:
        value: an array or nested lists.
        argument: the argument named in the error messages.
        numeric: require a numeric (or boolean) dtype, default True; False accepts
            strings too (class labels).
        allow_int: with ``numeric``, accept integer dtypes, default True.

    Returns:
        The array (``value`` itself when it is one and needs no conversion).

    Raises:
        ValueError: ragged nested lists, an object array, or an empty array.
        TypeError: with ``numeric``, a non-numeric dtype (strings), or an integer one
            without ``allow_int``.

    Example:
        >>> from rnnkit.utils import validation
        >>> validation.as_array([[True, False]], "y")
        array([[1., 0.]], dtype=float32)
    """
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except ValueError:
            raise ValueError(
                f"Received an invalid value for argument {argument}: expected a "
                f"rectangular array, got a ragged nested sequence (pad it first, e.g. "
                f"with rnnkit.preprocessing.sequence.pad_sequences)."
            ) from None
    if arr.dtype == object:
        raise ValueError(
            f"Received an invalid value for argument {argument}: expected a "
            f"rectangular numeric array, got an object array of shape {arr.shape} "
            f"(ragged sequences? pad them first with pad_sequences)."
        )
    if numeric and arr.dtype == np.bool_:
        arr = arr.astype(np.float32)
    if numeric and not (
        np.issubdtype(arr.dtype, np.floating)
        or (allow_int and np.issubdtype(arr.dtype, np.integer))
    ):
        raise TypeError(
            f"Received an invalid value for argument {argument}: expected a numeric "
            f"array, got dtype {arr.dtype}."
        )
    if arr.size == 0:
        raise ValueError(
            f"Received an invalid value for argument {argument}: expected a non-empty "
            f"array, got shape {arr.shape}."
        )
    return arr


def check_finite(arr: np.ndarray, argument: str) -> None:
    """No NaN or inf in a float array (other dtypes pass).

    Args:
        arr: the array.
        argument: the argument named in the error message.

    Raises:
        ValueError: a NaN or an inf.

    Example:
        >>> from rnnkit.utils import validation
        >>> import numpy as np
        >>> validation.check_finite(np.array([1.0, 2.0]), "x")  # passes: returns None
    """
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise ValueError(
            f"Received an invalid value for argument {argument}: expected finite "
            f"numbers, got NaN or inf."
        )


def check_rank(arr: np.ndarray, rank: int, argument: str, meaning: str = "") -> None:
    """``arr`` has ``rank`` axes.

    Args:
        arr: the array.
        rank: the number of axes expected.
        argument: what the input goes to (a layer's name), named in the message.
        meaning: the axes' meaning, e.g. ``"(batch, time, features)"``, default none.

    Raises:
        ValueError: another rank, with the shape that came.

    Example:
        >>> from rnnkit.utils import validation
        >>> import numpy as np
        >>> validation.check_rank(np.zeros(3), 2, "Dense", "(batch, features)")
        Traceback (most recent call last):
        ValueError: Input to Dense has the wrong rank: expected 2-D ...
    """
    if arr.ndim != rank:
        hint = f" {meaning}" if meaning else ""
        raise ValueError(
            f"Input to {argument} has the wrong rank: expected {rank}-D{hint}, "
            f"got shape {arr.shape}."
        )


def positive_int(value, argument: str) -> int:
    """``value`` as an int > 0 (a bool is not an int here).

    Args:
        value: the value to check.
        argument: the argument named in the error message.

    Returns:
        ``int(value)``.

    Raises:
        ValueError: not an integer, or not positive.

    Example:
        >>> from rnnkit.utils import validation
        >>> validation.positive_int(3, "units")
        3
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(
            f"Received an invalid value for argument {argument}, expected a positive "
            f"integer, got {value!r}."
        )
    return int(value)


def positive_float(value, argument: str, allow_zero: bool = False) -> float:
    """``value`` as a finite float > 0 (or >= 0 with ``allow_zero``).

    Args:
        value: the value to check.
        argument: the argument named in the error message.
        allow_zero: accept 0, default False.

    Returns:
        ``float(value)``.

    Raises:
        TypeError: not a number.
        ValueError: out of range or not finite.

    Example:
        >>> from rnnkit.utils import validation
        >>> validation.positive_float(0, "clipvalue", allow_zero=True)
        0.0
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"Received an invalid value for argument {argument}, expected a number, got {value!r}."
        ) from None
    if not ((v >= 0 if allow_zero else v > 0) and math.isfinite(v)):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(
            f"Received an invalid value for argument {argument}, expected a {kind} number, "
            f"got {value!r}."
        )
    return v


def unit_interval(value, argument: str) -> float:
    """``value`` as a float in (0, 1].

    Args:
        value: the value to check.
        argument: the argument named in the error message.

    Returns:
        ``float(value)``.

    Raises:
        TypeError: not a number.
        ValueError: outside (0, 1] or not finite.

    Example:
        >>> from rnnkit.utils import validation
        >>> validation.unit_interval(1, "top_p")
        1.0
    """
    v = positive_float(value, argument)
    if v > 1:
        raise ValueError(
            f"Received an invalid value for argument {argument}, expected a number in (0, 1], "
            f"got {value!r}."
        )
    return v


def fraction(value, argument: str, *, low_inclusive=True, high_inclusive=False) -> float:
    """``value`` as a float in [0, 1) (or with the ends included as asked).

    Args:
        value: the value to check.
        argument: the argument named in the error message.
        low_inclusive: 0 allowed, default True.
        high_inclusive: 1 allowed, default False.

    Returns:
        ``float(value)``.

    Raises:
        TypeError: not a number.
        ValueError: outside the interval or not finite.

    Example:
        >>> from rnnkit.utils import validation
        >>> validation.fraction(1, "rate", high_inclusive=True)
        1.0
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"Received an invalid value for argument {argument}, expected a number, got {value!r}."
        ) from None
    ok_low = v >= 0 if low_inclusive else v > 0
    ok_high = v <= 1 if high_inclusive else v < 1
    if not (ok_low and ok_high and np.isfinite(v)):
        lo = "[" if low_inclusive else "("
        hi = "]" if high_inclusive else ")"
        raise ValueError(
            f"Received an invalid value for argument {argument}, expected a number in "
            f"{lo}0, 1{hi}, got {value!r}."
        )
    return v


def check_kwargs(kwargs: dict, allowed: set, owner: str) -> None:
    """No keyword argument outside ``allowed``.

    Args:
        kwargs: the keyword arguments received.
        allowed: the names accepted.
        owner: the class or function named in the message.

    Raises:
        TypeError: unknown names, listed with the allowed ones.

    Example:
        >>> from rnnkit.utils import validation
        >>> validation.check_kwargs({"name": "d"}, {"name"}, "Dense")  # passes
    """
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise TypeError(
            f"{owner} got unexpected keyword argument(s) {unknown}; allowed are {sorted(allowed)}."
        )

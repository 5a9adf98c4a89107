"""Weight and activity penalties with Keras 3's names and formulas.

A regularizer is a penalty ``R(w)`` added to the training loss, with its gradient
``dR/dw`` added to the weight's gradient after the backward pass:

* ``L1(l1)``: R = l1·Σ|w|,   dR/dw = l1·sign(w);
* ``L2(l2)``: R = l2·Σw²,    dR/dw = 2·l2·w  (Keras 3 has no ½);
* ``L1L2(l1, l2)``: the sum of both.

Layers take them as ``kernel_regularizer``, ``recurrent_regularizer``,
``bias_regularizer``, ``embeddings_regularizer`` and ``activity_regularizer`` (a
penalty on the layer's output, divided by the batch size as Keras 3 does).

Example:
    >>> from rnnkit import layers, regularizers
    >>> dense = layers.Dense(4, kernel_regularizer=regularizers.L2(1e-4))
"""

from __future__ import annotations

import math

import numpy as np

from .utils import registry


class Regularizer:
    """Base class: ``__call__(w) -> float`` and ``gradient(w) -> array``.

    Subclasses implement both (the base class raises ``NotImplementedError``) and, when
    they take arguments, ``get_config``.

    Example:
        >>> import numpy as np
        >>> from rnnkit.regularizers import Regularizer
        >>> class Sum(Regularizer):
        ...     def __call__(self, w):
        ...         return float(np.sum(w))
        ...     def gradient(self, w):
        ...         return np.ones_like(w)
        >>> Sum()(np.array([1.0, 2.0]))
        3.0
    """

    def __call__(self, w) -> float:
        raise NotImplementedError

    def gradient(self, w: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _factor(value, argument: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"Received an invalid value for argument {argument}, expected a number, got {value!r}."
        ) from None
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(
            f"Received an invalid value for argument {argument}, expected a finite number "
            f">= 0, got {value!r}."
        )
    return v


class L1L2(Regularizer):
    """R(w) = l1·Σ|w| + l2·Σw².

    Args:
        l1: the L1 factor, default 0.
        l2: the L2 factor, default 0.

    Raises:
        TypeError: a factor that is not a number.
        ValueError: a factor that is not finite or is negative.

    Example:
        >>> import numpy as np
        >>> from rnnkit.regularizers import L1L2
        >>> reg = L1L2(l1=0.1, l2=0.5)
        >>> reg(np.array([1.0, -2.0]))
        2.8
        >>> reg.gradient(np.array([1.0, -2.0]))
        array([ 1.1, -2.1])
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = _factor(l1, "l1")
        self.l2 = _factor(l2, "l2")

    def __call__(self, w) -> float:
        w = np.asarray(w)
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.sum(np.abs(w), dtype=np.float64))
        if self.l2:
            total += self.l2 * float(np.sum(np.square(w, dtype=np.float64)))
        return total

    def gradient(self, w: np.ndarray) -> np.ndarray:
        w = np.asarray(w)
        grad = np.zeros_like(w)
        if self.l1:
            grad += w.dtype.type(self.l1) * np.sign(w)
        if self.l2:
            grad += w.dtype.type(2.0 * self.l2) * w
        return grad

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """R(w) = l1·Σ|w| (Keras's default factor 0.01).

    Args:
        l1: the L1 factor, default 0.01.

    Raises:
        TypeError: ``l1`` not a number.
        ValueError: ``l1`` not finite or negative.

    Example:
        >>> import numpy as np
        >>> from rnnkit.regularizers import L1
        >>> L1(0.5)(np.array([1.0, -2.0]))
        1.5
    """

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(L1L2):
    """R(w) = l2·Σw² (Keras's default factor 0.01).

    Args:
        l2: the L2 factor, default 0.01.

    Raises:
        TypeError: ``l2`` not a number.
        ValueError: ``l2`` not finite or negative.

    Example:
        >>> import numpy as np
        >>> from rnnkit.regularizers import L2
        >>> L2(0.5)(np.array([1.0, -2.0]))
        2.5
    """

    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self) -> dict:
        return {"l2": self.l2}


# Keras's lower-case aliases
l1 = L1
l2 = L2
l1_l2 = L1L2

_REGISTRY = {"L1": L1, "L2": L2, "L1L2": L1L2, "l1": L1, "l2": L2, "l1_l2": L1L2}


def get(identifier, argument: str = "regularizer") -> Regularizer | None:
    """A regularizer from a name (``"l2"``), a config dict, or an instance.

    Args:
        identifier: None, a ``Regularizer`` (both returned as they are), a registry name
            (``"L2"``, ``"l1_l2"``, ...: a new instance with the defaults), or a
            ``{"class_name": ..., "config": {...}}`` dict as ``serialize`` writes.
        argument: the argument named in the error message, default ``"regularizer"``.

    Returns:
        The regularizer, or None.

    Raises:
        ValueError: an unknown name or class, naming ``argument``.

    Example:
        >>> from rnnkit import regularizers
        >>> regularizers.get("l2")
        L2(l2=0.01)
    """
    return registry.resolve(identifier, _REGISTRY, Regularizer, argument)


def serialize(regularizer: Regularizer | None) -> dict | None:
    """The config dict a regularizer is saved as, the one ``get`` reads back.

    Args:
        regularizer: a ``Regularizer``, or None.

    Returns:
        ``{"class_name": ..., "config": {...}}``, or None for None.

    Example:
        >>> from rnnkit import regularizers
        >>> regularizers.serialize(regularizers.L1L2(l1=0.1))
        {'class_name': 'L1L2', 'config': {'l1': 0.1, 'l2': 0.0}}
    """
    return registry.serialize(regularizer)


__all__ = ["L1", "L1L2", "L2", "Regularizer", "get", "l1", "l1_l2", "l2", "serialize"]

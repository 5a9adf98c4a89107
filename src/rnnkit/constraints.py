"""Weight constraints with Keras 3's names and formulas, applied after each optimizer
step (the projection Keras's optimizers make):

* ``MaxNorm(max_value=2, axis=0)``: w · clip(‖w‖, 0, max_value) / (ε + ‖w‖);
* ``MinMaxNorm(min_value=0, max_value=1, rate=1, axis=0)``:
  w · (rate · clip(‖w‖, min_value, max_value) + (1 - rate) · ‖w‖) / (ε + ‖w‖);
* ``NonNeg()``: w · [w ≥ 0];
* ``UnitNorm(axis=0)``: w / (ε + ‖w‖);

with ‖w‖ the L2 norm along ``axis`` (axis 0 of a (inputs, units) kernel: the weights
into each unit) and ε = 1e-7, Keras's ``backend.epsilon()``.

Layers take them as ``kernel_constraint``, ``recurrent_constraint``,
``bias_constraint`` and ``embeddings_constraint``.

Example:
    >>> from rnnkit import constraints, layers
    >>> dense = layers.Dense(4, kernel_constraint=constraints.MaxNorm(3))
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .utils import registry

EPSILON = 1e-7


class Constraint:
    """Base class: ``__call__(w) -> the projected array`` (same shape and dtype).

    The base class itself is the identity; subclasses override ``__call__`` and, when
    they take arguments, ``get_config``.

    Example:
        >>> import numpy as np
        >>> from rnnkit.constraints import Constraint
        >>> Constraint()(np.array([-1.0, 2.0]))
        array([-1.,  2.])
    """

    def __call__(self, w: np.ndarray) -> np.ndarray:
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _axis(axis):
    """An int, or a tuple of distinct ints (a list, as Keras's docs write it, too)."""
    if isinstance(axis, (list, tuple)):
        if not axis or not all(_is_int(a) for a in axis):
            raise TypeError(
                f"Received an invalid value for argument axis, expected an int or a "
                f"non-empty tuple of ints, got {axis!r}."
            )
        if len(set(int(a) for a in axis)) != len(axis):
            raise ValueError(
                f"Received an invalid value for argument axis, expected distinct axes, "
                f"got {axis!r}."
            )
        return tuple(int(a) for a in axis)
    if not _is_int(axis):
        raise TypeError(
            f"Received an invalid value for argument axis, expected an int or a tuple of "
            f"ints, got {axis!r}."
        )
    return int(axis)


def _number(value, argument: str, *, positive: bool) -> float:
    """A finite number (> 0 with ``positive``, else >= 0): not a bool, a string or None."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"Received an invalid value for argument {argument}, expected a number, got {value!r}."
        )
    v = float(value)
    if not (math.isfinite(v) and (v > 0 if positive else v >= 0)):
        kind = "positive" if positive else "non-negative"
        raise ValueError(
            f"Received an invalid value for argument {argument}, expected a finite {kind} "
            f"number, got {value!r}."
        )
    return v


def _norms(w: np.ndarray, axis, owner: str) -> np.ndarray:
    axes = axis if isinstance(axis, tuple) else (axis,)
    if any(not -w.ndim <= a < w.ndim for a in axes) or len({a % w.ndim for a in axes}) != len(axes):
        raise ValueError(
            f"{owner}(axis={axis!r}) cannot apply to a weight of shape {w.shape} ({w.ndim} axes)."
        )
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


class MaxNorm(Constraint):
    """Rescale each slice along ``axis`` whose L2 norm exceeds ``max_value``.

    Args:
        max_value: the largest norm allowed, a positive finite number, default 2 (0
            would zero every weight: refused).
        axis: the axis (or axes) the norms run along, default 0.

    Raises:
        ValueError: ``max_value`` not a positive finite number; repeated axes; when
            applied, an ``axis`` the weight does not have.
        TypeError: ``max_value`` not a number, or an ``axis`` that is not an int or a
            tuple of ints.

    Example:
        >>> import numpy as np
        >>> from rnnkit.constraints import MaxNorm
        >>> np.round(MaxNorm(1.0)(np.array([[3.0], [4.0]])), 4)
        array([[0.6],
               [0.8]])
    """

    def __init__(self, max_value: float = 2, axis=0):
        self.max_value = _number(max_value, "max_value", positive=True)
        self.axis = _axis(axis)

    def __call__(self, w):
        norms = _norms(w, self.axis, "MaxNorm")
        desired = np.clip(norms, 0, self.max_value)
        return (w * (desired / (EPSILON + norms))).astype(w.dtype, copy=False)

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Move each slice's L2 norm along ``axis`` into [min_value, max_value], by the
    share ``rate`` of the way (Keras's constraint): the norm becomes
    rate · clip(‖w‖, min_value, max_value) + (1 - rate) · ‖w‖.

    Args:
        min_value: the smallest norm, a finite number >= 0, default 0.
        max_value: the largest norm, a finite number >= ``min_value`` and > 0, default
            1.
        rate: the share of the way to the interval taken at each step, in (0, 1]
            (1: strict; 0 would do nothing: refused), default 1.
        axis: the axis (or axes) the norms run along, default 0.

    Raises:
        ValueError: a value out of its range, ``max_value < min_value``, repeated
            axes, or, when applied, an ``axis`` the weight does not have.
        TypeError: a value that is not a number, or an ``axis`` that is not an int or
            a tuple of ints.

    Example:
        >>> import numpy as np
        >>> from rnnkit.constraints import MinMaxNorm
        >>> np.round(MinMaxNorm(2.0, 3.0)(np.array([[0.6], [0.8]])), 4)  # norm 1 -> 2
        array([[1.2],
               [1.6]])
    """

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis=0):
        self.min_value = _number(min_value, "min_value", positive=False)
        self.max_value = _number(max_value, "max_value", positive=True)
        if self.max_value < self.min_value:
            raise ValueError(
                f"Received an invalid value for argument max_value, expected a number >= "
                f"min_value={min_value!r}, got {max_value!r}."
            )
        self.rate = _number(rate, "rate", positive=True)
        if self.rate > 1:
            raise ValueError(
                f"Received an invalid value for argument rate, expected a number in (0, 1], "
                f"got {rate!r}."
            )
        self.axis = _axis(axis)

    def __call__(self, w):
        norms = _norms(w, self.axis, "MinMaxNorm")
        desired = (
            self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        )
        return (w * (desired / (EPSILON + norms))).astype(w.dtype, copy=False)

    def get_config(self) -> dict:
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


class NonNeg(Constraint):
    """Set negative weights to zero (-0.0: the weight times 0).

    Example:
        >>> import numpy as np
        >>> from rnnkit.constraints import NonNeg
        >>> NonNeg()(np.array([-1.0, 2.0]))
        array([-0.,  2.])
    """

    def __call__(self, w):
        return (w * (w >= 0)).astype(w.dtype, copy=False)


class UnitNorm(Constraint):
    """Scale each slice along ``axis`` to L2 norm 1.

    Args:
        axis: the axis (or axes) the norms run along, default 0.

    Raises:
        TypeError: an ``axis`` that is not an int or a tuple of ints.
        ValueError: repeated axes, or, when applied, an ``axis`` the weight does not
            have.

    Example:
        >>> import numpy as np
        >>> from rnnkit.constraints import UnitNorm
        >>> np.round(UnitNorm()(np.array([[3.0], [4.0]])), 4)
        array([[0.6],
               [0.8]])
    """

    def __init__(self, axis=0):
        self.axis = _axis(axis)

    def __call__(self, w):
        return (w / (EPSILON + _norms(w, self.axis, "UnitNorm"))).astype(w.dtype, copy=False)

    def get_config(self) -> dict:
        return {"axis": self.axis}


# Keras's lower-case aliases
max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm

_REGISTRY = {
    "MaxNorm": MaxNorm,
    "MinMaxNorm": MinMaxNorm,
    "NonNeg": NonNeg,
    "UnitNorm": UnitNorm,
    "max_norm": MaxNorm,
    "min_max_norm": MinMaxNorm,
    "non_neg": NonNeg,
    "unit_norm": UnitNorm,
}


def get(identifier, argument: str = "constraint") -> Constraint | None:
    """A constraint from a name (``"non_neg"``), a config dict, or an instance.

    Args:
        identifier: None, a ``Constraint`` (both returned as they are), a
            ``Constraint`` class or a registry name (``"MaxNorm"``, ``"max_norm"``,
            ...: a new instance with the defaults), or a ``{"class_name": ...,
            "config": {...}}`` dict as ``serialize`` writes.
        argument: the argument named in the error message, default ``"constraint"``.

    Returns:
        The constraint, or None.

    Raises:
        ValueError: an unknown name or class, naming ``argument``.

    Example:
        >>> from rnnkit import constraints
        >>> constraints.get({"class_name": "MaxNorm", "config": {"max_value": 3}})
        MaxNorm(max_value=3.0, axis=0)
    """
    if isinstance(identifier, type) and issubclass(identifier, Constraint):
        return identifier()  # the class itself, as Keras takes it: its defaults
    return registry.resolve(identifier, _REGISTRY, Constraint, argument)


def serialize(constraint: Constraint | None) -> dict | None:
    """The config dict a constraint is saved as, the one ``get`` reads back.

    Args:
        constraint: a ``Constraint``, or None.

    Returns:
        ``{"class_name": ..., "config": {...}}``, or None for None.

    Example:
        >>> from rnnkit import constraints
        >>> constraints.serialize(constraints.UnitNorm(axis=1))
        {'class_name': 'UnitNorm', 'config': {'axis': 1}}
    """
    return registry.serialize(constraint)


__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "get",
    "max_norm",
    "min_max_norm",
    "non_neg",
    "serialize",
    "unit_norm",
]

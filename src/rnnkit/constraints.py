"""Weight constraints with Keras 3's names and formulas, applied after each optimizer
step (the projection Keras's optimizers make):

* ``MaxNorm(max_value=2, axis=0)``: w · clip(‖w‖, 0, max_value) / (ε + ‖w‖);
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


def _axis(axis):
    if isinstance(axis, (list, tuple)):
        return tuple(int(a) for a in axis)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(
            f"Received an invalid value for argument axis, expected an int or a tuple of "
            f"ints, got {axis!r}."
        )
    return int(axis)


def _norms(w: np.ndarray, axis) -> np.ndarray:
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


class MaxNorm(Constraint):
    """Rescale each slice along ``axis`` whose L2 norm exceeds ``max_value``.

    Args:
        max_value: the largest norm allowed, default 2.
        axis: the axis (or axes) the norms run along, default 0.

    Raises:
        ValueError: ``max_value`` not a positive finite number.
        TypeError: an ``axis`` that is not an int or a tuple of ints.

    Example:
        >>> import numpy as np
        >>> from rnnkit.constraints import MaxNorm
        >>> np.round(MaxNorm(1.0)(np.array([[3.0], [4.0]])), 4)
        array([[0.6],
               [0.8]])
    """

    def __init__(self, max_value: float = 2, axis=0):
        value = float(max_value)
        if not (np.isfinite(value) and value > 0):
            raise ValueError(
                f"Received an invalid value for argument max_value, expected a positive "
                f"number, got {max_value!r}."
            )
        self.max_value = value
        self.axis = _axis(axis)

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = np.clip(norms, 0, self.max_value)
        return (w * (desired / (EPSILON + norms))).astype(w.dtype, copy=False)

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}


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
        return (w / (EPSILON + _norms(w, self.axis))).astype(w.dtype, copy=False)

    def get_config(self) -> dict:
        return {"axis": self.axis}


# Keras's lower-case aliases
max_norm = MaxNorm
non_neg = NonNeg
unit_norm = UnitNorm

_REGISTRY = {
    "MaxNorm": MaxNorm,
    "NonNeg": NonNeg,
    "UnitNorm": UnitNorm,
    "max_norm": MaxNorm,
    "non_neg": NonNeg,
    "unit_norm": UnitNorm,
}


def get(identifier, argument: str = "constraint") -> Constraint | None:
    """A constraint from a name (``"non_neg"``), a config dict, or an instance.

    Args:
        identifier: None, a ``Constraint`` (both returned as they are), a registry name
            (``"MaxNorm"``, ``"max_norm"``, ...: a new instance with the defaults), or a
            ``{"class_name": ..., "config": {...}}`` dict as ``serialize`` writes.
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
    "NonNeg",
    "UnitNorm",
    "get",
    "max_norm",
    "non_neg",
    "serialize",
    "unit_norm",
]

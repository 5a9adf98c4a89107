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

EPSILON = 1e-7


class Constraint:
    """Base class: ``__call__(w) -> the projected array`` (same shape and dtype)."""

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
        ValueError: ``max_value`` not a positive number. TypeError: a bad ``axis``.
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
    """Set negative weights to zero."""

    def __call__(self, w):
        return (w * (w >= 0)).astype(w.dtype, copy=False)


class UnitNorm(Constraint):
    """Scale each slice along ``axis`` to L2 norm 1.

    Args:
        axis: default 0.
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

    Raises:
        ValueError: an unknown name or class, naming ``argument``.
    """
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, str) and identifier in _REGISTRY:
        return _REGISTRY[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in _REGISTRY:
        return _REGISTRY[identifier["class_name"]].from_config(identifier.get("config", {}))
    raise ValueError(
        f"Received an invalid value for argument {argument}, expected one of "
        f"{sorted(_REGISTRY)} (a name, a config dict or an instance), got {identifier!r}."
    )


def serialize(constraint: Constraint | None) -> dict | None:
    if constraint is None:
        return None
    return {"class_name": type(constraint).__name__, "config": constraint.get_config()}


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

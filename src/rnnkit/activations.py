"""Activation functions by name, each with the derivative the cells need.

Every activation here offers ``forward(z)`` and ``grad(y)``: the derivative dy/dz
written in terms of the output ``y`` (tanh: 1 - y², sigmoid: y(1 - y), relu: [y > 0]),
so a cell keeps only its outputs for the backward pass.
Softmax is the exception: its backward is a Jacobian-vector product, ``vjp``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class Activation:
    """A named element-wise function with its derivative.

    Args:
        name: registry name.
        forward: z -> y.
        grad: y -> dy/dz, element-wise, in terms of the output.
    """

    def __init__(self, name: str, forward: Callable, grad: Callable | None):
        self.name = name
        self.forward = forward
        self.grad = grad

    def __call__(self, z):
        return self.forward(z)

    def vjp(self, dy, y):
        """dL/dz from dL/dy for this activation, given its output y."""
        return dy * self.grad(y)

    def __repr__(self) -> str:
        return f"<activation {self.name}>"


def sigmoid(z):
    """Logistic sigmoid, finite for any float input (no overflow warnings)."""
    z = np.asarray(z)
    out = np.empty_like(z, dtype=np.result_type(z, np.float32))
    pos = z >= 0
    np.exp(-z, out=out, where=pos)
    np.add(out, 1, out=out, where=pos)
    np.reciprocal(out, out=out, where=pos)
    neg = ~pos
    ez = np.exp(z, where=neg, out=np.zeros_like(out))
    np.divide(ez, 1 + ez, out=out, where=neg)
    return out


def softmax(z, axis: int = -1):
    """Softmax along ``axis``, shifted by the maximum so it never overflows."""
    shifted = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(z, axis: int = -1):
    """log(softmax(z)) computed without forming softmax (stable for |z| ~ 1e4)."""
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _softmax_vjp(dy, y):
    return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))


def _hard_sigmoid(z):
    return np.clip(0.2 * z + 0.5, 0.0, 1.0)


_REGISTRY: dict[str, Activation] = {
    "tanh": Activation("tanh", np.tanh, lambda y: 1.0 - y * y),
    "sigmoid": Activation("sigmoid", sigmoid, lambda y: y * (1.0 - y)),
    "relu": Activation("relu", lambda z: np.maximum(z, 0), lambda y: (y > 0).astype(y.dtype)),
    "linear": Activation("linear", lambda z: z, lambda y: np.ones_like(y)),
    "hard_sigmoid": Activation(
        "hard_sigmoid", _hard_sigmoid, lambda y: ((y > 0) & (y < 1)).astype(y.dtype) * 0.2
    ),
    "softmax": Activation("softmax", softmax, None),
}
_REGISTRY["softmax"].vjp = _softmax_vjp  # type: ignore[method-assign]
_REGISTRY[None] = _REGISTRY["linear"]  # type: ignore[index]


def get(identifier) -> Activation:
    """Look up an activation by name (``"tanh"``), or pass one through.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if isinstance(identifier, Activation):
        return identifier
    if identifier is None or isinstance(identifier, str):
        key = identifier.lower() if isinstance(identifier, str) else None
        if key in _REGISTRY:
            return _REGISTRY[key]
    raise ValueError(
        f"Received an invalid value for argument activation, expected one of "
        f"{sorted(k for k in _REGISTRY if k)}, got {identifier!r}."
    )


def serialize(activation: Activation) -> str:
    return activation.name

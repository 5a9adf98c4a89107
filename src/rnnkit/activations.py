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

    Calling the activation applies ``forward``.

    Args:
        name: registry name.
        forward: z -> y.
        grad: y -> dy/dz, element-wise, in terms of the output; None when the backward
            is not element-wise (softmax, which overrides ``vjp``).
        forward_into: (z, out) -> None, ``forward`` written into ``out``; default None
            (``into`` then copies the result of ``forward``).
        tanh_form: (a, c, b) with forward(z) = c·tanh(a·z) + b, default None.

    Example:
        >>> import numpy as np
        >>> from rnnkit import activations
        >>> tanh = activations.get("tanh")
        >>> y = tanh(np.array([0.0, 1.0]))
        >>> np.round(tanh.grad(y), 4)
        array([1.  , 0.42])
    """

    def __init__(
        self,
        name: str,
        forward: Callable,
        grad: Callable | None,
        forward_into: Callable | None = None,
        tanh_form: tuple[float, float, float] | None = None,
    ):
        self.name = name
        self.forward = forward
        self.grad = grad
        self._forward_into = forward_into
        # (a, c, b) with forward(z) = c·tanh(a·z) + b, for the cells that apply several
        # gate activations in one pass (sigmoid(z) = ½·tanh(z/2) + ½); None if no such form
        self.tanh_form = tanh_form

    def __call__(self, z):
        return self.forward(z)

    def into(self, z, out):
        """``forward(z)`` written into the float array ``out`` (a view is fine; ``out``
        may be ``z``); returns ``out``. The same values as ``forward``, without a
        temporary array for the activations that have an in-place form."""
        if self._forward_into is not None:
            self._forward_into(z, out)
        else:
            out[...] = self.forward(z)
        return out

    def inplace(self, z):
        """``forward`` applied to ``z`` in place; returns ``z``."""
        return self.into(z, z)

    def grad_into(self, y, out):
        """``grad(y)`` written into ``out`` (which may not be ``y``); returns ``out``.
        For the tanh-form activations (tanh, sigmoid) without a temporary array:
        with t = (y - b)/c, dy/dz = a·c·(1 - t²)."""
        form = self.tanh_form
        if form is None:
            np.copyto(out, self.grad(y))
            return out
        a, c, b = form
        if b:
            np.subtract(y, b, out=out)
        else:
            np.copyto(out, y)
        out *= out
        np.subtract(c * c, out, out=out)  # c² - (y - b)² = c²(1 - t²)
        out *= a / c
        return out

    def vjp(self, dy, y):
        """dL/dz from dL/dy for this activation, given its output y."""
        return dy * self.grad(y)

    def __repr__(self) -> str:
        return f"<activation {self.name}>"


def sigmoid(z, out=None):
    """Logistic sigmoid 1 / (1 + e^-z), finite for any float input (no overflow warnings).

    For z below about -88 (float32) e^-z overflows to inf and the result is the correct
    limit 0; the warning that overflow would raise is silenced. Four vectorised passes,
    in place in ``out`` when given (it may be ``z`` itself).

    Args:
        z: array-like of floats.
        out: a float array of ``z``'s shape to write into, default None (a new array,
            float32 or wider).

    Returns:
        The sigmoid of ``z`` (``out`` when given).

    Example:
        >>> import numpy as np
        >>> from rnnkit.activations import sigmoid
        >>> sigmoid(np.array([-1000.0, 0.0]))
        array([0. , 0.5])
    """
    z = np.asarray(z)
    if out is None:
        out = np.empty_like(z, dtype=np.result_type(z, np.float32))
    with np.errstate(over="ignore"):
        np.negative(z, out=out)
        np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)
    return out


def softmax(z, axis: int = -1):
    """Softmax along ``axis``, shifted by the maximum so it never overflows (one new
    array, the rest in place: it runs over every logit of a 10,000-word output).

    Args:
        z: array of logits.
        axis: the axis that sums to 1, default -1.

    Returns:
        A new array of ``z``'s shape.

    Example:
        >>> import numpy as np
        >>> from rnnkit.activations import softmax
        >>> softmax(np.array([1000.0, 1000.0]))
        array([0.5, 0.5])
    """
    e = np.subtract(z, np.max(z, axis=axis, keepdims=True))
    np.exp(e, out=e)
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def log_softmax(z, axis: int = -1):
    """log(softmax(z)) computed without forming softmax (stable for |z| ~ 1e4).

    Args:
        z: array of logits.
        axis: the axis softmax normalises over, default -1.

    Returns:
        A new array of ``z``'s shape.

    Example:
        >>> import numpy as np
        >>> from rnnkit.activations import log_softmax
        >>> np.round(log_softmax(np.array([0.0, 0.0])), 4)
        array([-0.6931, -0.6931])
    """
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _softmax_vjp(dy, y):
    return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))


def _hard_sigmoid(z):
    """Keras 3's hard sigmoid, relu6(z + 3) / 6 = clip(z / 6 + 1/2, 0, 1): slope 1/6 on
    (-3, 3). (Keras 2 and the first rnnkit used slope 0.2 on (-2.5, 2.5), which differs
    by up to 0.09 and would give another model from the same saved weights.)"""
    return np.clip(z / 6.0 + 0.5, 0.0, 1.0)


_REGISTRY: dict[str, Activation] = {
    "tanh": Activation(
        "tanh",
        np.tanh,
        lambda y: 1.0 - y * y,
        lambda z, out: np.tanh(z, out=out),
        tanh_form=(1.0, 1.0, 0.0),
    ),
    "sigmoid": Activation(
        "sigmoid", sigmoid, lambda y: y * (1.0 - y), sigmoid, tanh_form=(0.5, 0.5, 0.5)
    ),
    "relu": Activation(
        "relu",
        lambda z: np.maximum(z, 0),
        lambda y: (y > 0).astype(y.dtype),
        lambda z, out: np.maximum(z, 0, out=out),
    ),
    "linear": Activation(
        "linear", lambda z: z, lambda y: np.ones_like(y), lambda z, out: np.copyto(out, z)
    ),
    "hard_sigmoid": Activation(
        "hard_sigmoid", _hard_sigmoid, lambda y: ((y > 0) & (y < 1)).astype(y.dtype) / 6.0
    ),
    "softmax": Activation("softmax", softmax, None),
}
_REGISTRY["softmax"].vjp = _softmax_vjp  # type: ignore[method-assign]
_REGISTRY[None] = _REGISTRY["linear"]  # type: ignore[index]


def get(identifier) -> Activation:
    """Look up an activation by name (``"tanh"``), or pass one through.

    Args:
        identifier: a name (case-insensitive: tanh, sigmoid, relu, linear, hard_sigmoid,
            softmax), None (linear), or an ``Activation``, returned as is.

    Returns:
        The ``Activation``.

    Raises:
        ValueError: for an unknown name, listing the known ones.

    Example:
        >>> from rnnkit import activations
        >>> activations.get("ReLU")
        <activation relu>
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
    """The name an activation is saved under, the one ``get`` reads back.

    Args:
        activation: an ``Activation``.

    Returns:
        Its registry name.

    Example:
        >>> from rnnkit import activations
        >>> activations.serialize(activations.get(None))
        'linear'
    """
    return activation.name

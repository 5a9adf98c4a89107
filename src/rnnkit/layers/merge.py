"""Layers that merge several inputs: Concatenate and Add (functional models)."""

from __future__ import annotations

import numpy as np

from ..utils import validation
from .base import Layer


class _Merge(Layer):
    supports_masking = True

    def __call__(self, inputs, training=False, mask=None, **kwargs):
        from ..models.functional import call_symbolic, is_symbolic

        if is_symbolic(inputs):
            return call_symbolic(self, inputs, **kwargs)
        arrays = self.check_input(inputs)
        self.ensure_built(tuple(a.shape[1:] for a in arrays))
        return self.forward(arrays, training=training, mask=mask)

    def check_input(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(
                f"Layer {self.name!r} expects a list of at least 2 arrays, got "
                f"{validation.describe(inputs)}."
            )
        return [
            validation.as_array(a, f"layer {self.name!r} input {i}").astype(self.dtype)
            for i, a in enumerate(inputs)
        ]


class Concatenate(_Merge):
    """Joins inputs along ``axis`` (default the last, the features).

    Args:
        axis: the axis to join along, counted as in NumPy (negative from the end);
            default -1. The inputs' other axes must agree.
        **kwargs: the :class:`Layer` arguments (name, dtype, ...).

    Raises:
        ValueError: inputs whose shapes differ off ``axis``.

    Example:
        >>> from rnnkit import Input
        >>> a, b = Input((5, 3)), Input((5, 2))
        >>> Concatenate()([a, b]).shape
        (None, 5, 5)
    """

    def __init__(self, axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def compute_output_shape(self, input_shape):
        shapes = [list(s) for s in input_shape]
        axis = self.axis if self.axis < 0 else self.axis - 1  # sample shapes have no batch
        out = list(shapes[0])
        sizes = [s[axis] for s in shapes]
        out[axis] = None if None in sizes else sum(sizes)
        for s in shapes[1:]:
            rest_a = [d for i, d in enumerate(out) if i != axis % len(out)]
            rest_b = [d for i, d in enumerate(s) if i != axis % len(s)]
            if len(s) != len(out) or any(
                a is not None and b is not None and a != b for a, b in zip(rest_a, rest_b)
            ):
                raise ValueError(
                    f"Layer {self.name!r}: shapes {input_shape} cannot be joined on axis "
                    f"{self.axis}."
                )
        return tuple(out)

    def forward(self, inputs, training=False, mask=None):
        self._sizes = [a.shape[self.axis] for a in inputs]
        return np.concatenate(inputs, axis=self.axis)

    def backward(self, dy):
        cuts = np.cumsum(self._sizes)[:-1]
        return np.split(dy, cuts, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Add(_Merge):
    """Element-wise sum of inputs of one shape; the gradient reaches each input whole.

    Args:
        **kwargs: the :class:`Layer` arguments (name, dtype, ...).

    Raises:
        ValueError: inputs of different shapes.

    Example:
        >>> from rnnkit import Input
        >>> a, b = Input((4,)), Input((4,))
        >>> Add()([a, b]).shape
        (None, 4)
    """

    def compute_output_shape(self, input_shape):
        if any(tuple(s) != tuple(input_shape[0]) for s in input_shape):
            raise ValueError(f"Layer {self.name!r}: inputs of different shapes {input_shape}.")
        return tuple(input_shape[0])

    def forward(self, inputs, training=False, mask=None):
        self._n = len(inputs)
        return np.sum(inputs, axis=0)

    def backward(self, dy):
        return [dy] * self._n

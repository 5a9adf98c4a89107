"""``Input`` and ``InputLayer``: where a model's data comes in, as in Keras 3.

``Input(shape)`` returns a symbolic tensor (see :mod:`rnnkit.models.functional`) made by
an ``InputLayer``. A functional ``Model`` lists its input layers in ``model.layers``; a
``Sequential`` that starts with ``Input`` takes its input shape from it and does not
list it, exactly as Keras 3 does, so ``model.layers[i]`` names the same layer in both.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from .base import Layer


class InputLayer(Layer):
    """The layer behind :func:`Input`: the identity, with no weights.

    Args:
        shape: the shape of one sample, without the batch axis (``None`` for a length
            that varies), e.g. ``(None, 8)`` for sequences of 8 features.
        batch_size: accepted as Keras has it; rnnkit batches are never fixed.
        dtype: the dtype of the data (default :func:`rnnkit.backend.floatx`).
        batch_shape: the shape with its batch axis, instead of ``shape``.
        name: the layer's name (default ``input_layer``, ``input_layer_1``…).

    Raises:
        TypeError: ``shape`` not a tuple or list of ints / None.
        ValueError: both or neither of ``shape`` and ``batch_shape``; sparse or ragged.

    Example:
        >>> layer = InputLayer(shape=(None, 3))
        >>> layer.output.shape
        (None, None, 3)
    """

    def __init__(
        self,
        shape=None,
        batch_size=None,
        dtype=None,
        sparse=None,
        batch_shape=None,
        input_tensor=None,
        optional=False,
        name=None,
        ragged=None,
        **kwargs,
    ):
        from ..models.functional import SymbolicTensor, next_node_id

        if sparse or ragged:
            raise ValueError(
                "Received an invalid value for argument sparse/ragged: rnnkit has dense "
                "arrays only."
            )
        if input_tensor is not None:
            raise ValueError(
                "Received an invalid value for argument input_tensor: rnnkit makes its "
                "own symbolic tensors; pass shape instead."
            )
        if "input_shape" in kwargs and shape is None:  # Keras 2's spelling
            shape = kwargs.pop("input_shape")
        if (shape is None) == (batch_shape is None):
            raise ValueError(
                "InputLayer needs exactly one of shape (one sample) and batch_shape "
                f"(with the batch axis); got shape={shape!r}, batch_shape={batch_shape!r}."
            )
        if batch_shape is not None:
            shape = _shape(batch_shape, "batch_shape")[1:]
        shape = _shape(shape, "shape")
        if kwargs:
            raise TypeError(f"InputLayer got unexpected keyword argument(s) {sorted(kwargs)}.")
        # not Layer.__init__: it draws a generator from the global one, and an input
        # (which has no weights) must not shift the seeds of the layers made after it
        self.name = name or backend.unique_name("input_layer")
        self.input_shape_arg = None
        self.dtype = _dtype(dtype)
        self.trainable = True
        self.params = {}
        self.grads = {}
        self.rng = None
        self.seed = None
        self.implementation = None
        self.weight_regularizers = {}
        self.weight_constraints = {}
        self.activity_regularizer = None
        self._activity_outputs = None
        self.sample_shape = shape
        self.batch_size = batch_size
        self.optional = bool(optional)
        self.built = True
        self.input_shape = shape
        # created in the same count as the graph's nodes: a model lists its layers in
        # the order they came into being, input layers included, as Keras does
        self.creation_id = next_node_id()
        self.output_tensor = SymbolicTensor(shape, None, 0, self.name, dtype=self.dtype)
        self.output_tensor.input_layer = self

    @property
    def output(self):
        return self.output_tensor

    @property
    def input(self):
        return self.output_tensor

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False, mask=None):
        return x

    def backward(self, dy):
        return dy

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "batch_shape": [None, *self.sample_shape],
            "dtype": self.dtype.name,
        }

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        config.pop("trainable", None)
        return cls(**config)


def Input(  # noqa: N802 (Keras's name)
    shape=None,
    batch_size=None,
    dtype=None,
    sparse=None,
    batch_shape=None,
    name=None,
    tensor=None,
    optional=False,
    ragged=None,
):
    """A model input: a symbolic tensor of the given sample shape, as ``keras.Input``.

    Args:
        shape: one sample's shape, without the batch axis; ``None`` for a variable
            length, e.g. ``Input(shape=(None,))`` for token ids of any length.
        batch_size, dtype, sparse, batch_shape, name, tensor, optional, ragged: as
            :class:`InputLayer` (``tensor`` must be None).

    Returns:
        A symbolic tensor whose ``shape`` includes the batch axis, ``(None, *shape)``.

    Raises:
        TypeError, ValueError: as :class:`InputLayer`.

    Example:
        >>> import rnnkit as keras
        >>> inputs = keras.Input(shape=(10, 3))
        >>> inputs.shape
        (None, 10, 3)
    """
    layer = InputLayer(
        shape=shape,
        batch_size=batch_size,
        dtype=dtype,
        sparse=sparse,
        batch_shape=batch_shape,
        input_tensor=tensor,
        optional=optional,
        name=name,
        ragged=ragged,
    )
    return layer.output_tensor


def _shape(shape, argument: str) -> tuple:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(
        s is None or (isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0)
        for s in shape
    ):
        raise TypeError(
            f"Received an invalid value for argument {argument}, expected a tuple of "
            f"non-negative ints or None, got {shape!r}."
        )
    return tuple(None if s is None else int(s) for s in shape)


def _dtype(dtype) -> np.dtype:
    """Inputs may be integer (token ids) or boolean as well as float, as in Keras."""
    if dtype is None:
        return backend.resolve_dtype(None)
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"Received an invalid value for argument dtype, expected a NumPy dtype such as "
            f"'float32' or 'int32', got {dtype!r}."
        ) from None

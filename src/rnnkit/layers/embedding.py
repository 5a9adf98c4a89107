"""Embedding: token ids to dense vectors, optionally masking id 0."""

from __future__ import annotations

import numpy as np

from .. import initializers
from ..optimizers import RowSparse, _kernels_for
from ..utils import validation
from .base import Layer


def _row_gradient(ids: np.ndarray, dy: np.ndarray, input_dim: int):
    """(rows, values): the sorted unique ids and, for each, the sum of the rows of
    ``dy`` that used it, in the order of ``ids`` (the floats ``np.add.at`` on a dense
    table gives). The accelerator's loop when it runs this dtype; ``np.unique`` and
    ``np.add.at`` over the rows used otherwise."""
    dy = np.ascontiguousarray(dy)
    kernels = _kernels_for(dy)
    if kernels is not None:
        return kernels.embedding_row_grad(ids, dy, input_dim)
    rows, inverse = np.unique(ids, return_inverse=True)
    values = np.zeros((rows.size, dy.shape[1]), dy.dtype)
    np.add.at(values, inverse.ravel(), dy)
    return rows, values


class Embedding(Layer):
    """Maps integer ids in [0, input_dim) to rows of a (input_dim, output_dim) matrix.

    Its gradient is row-sparse (:class:`rnnkit.optimizers.RowSparse`): only the rows
    of the ids a batch used, summed over their uses; ``np.asarray(grad)`` or
    ``grad.to_dense()`` gives the dense table when something needs it. The
    optimizers update from it with their dense semantics (the same result as the
    dense gradient), ``"lazy_adam"`` (:class:`rnnkit.optimizers.LazyAdam`) moving only
    the rows used. Tied to a ``TiedDense`` output layer, whose gradient reaches every
    row, the gradient is a dense array.

    Args:
        input_dim: vocabulary size (largest id + 1), a positive int.
        output_dim: vector size, a positive int.
        embeddings_initializer: default ``"uniform"`` (±0.05, as Keras).
        mask_zero: treat id 0 as padding: a mask is passed to later layers, so
            recurrent layers skip padded steps and the loss ignores them.
        input_length: accepted for Keras compatibility (the fixed sequence length).

    Raises:
        TypeError: on input that is not integer token ids.
        ValueError: on ids outside [0, input_dim).

    Example:
        >>> emb = Embedding(1000, 8)
        >>> y = emb(np.array([[4, 7, 4]]))
        >>> y.shape
        (1, 3, 8)
        >>> _ = emb.backward(np.ones_like(y))
        >>> g = emb.grads["embeddings"]
        >>> g.rows, float(g.values[0, 0])  # the rows used; id 4 twice
        (array([4, 7]), 2.0)
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer="uniform",
        mask_zero: bool = False,
        input_length=None,
        **kwargs,
    ):
        if input_length is not None and "input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)
        self.input_dim = validation.positive_int(input_dim, "input_dim")
        self.output_dim = validation.positive_int(output_dim, "output_dim")
        self.embeddings_initializer = initializers.get(
            embeddings_initializer, "embeddings_initializer"
        )
        self.mask_zero = bool(mask_zero)
        self.tied_grad: np.ndarray | None = None  # gradient handed over by a TiedDense
        self.input_length = input_length

    @property
    def supports_masking(self):
        return True

    def build(self, input_shape):
        self.params = {
            "embeddings": self.embeddings_initializer(
                (self.input_dim, self.output_dim), self.dtype, self.rng
            )
        }
        # no gradient yet: a read-only zero view, no (input_dim, output_dim) array (a
        # frozen embedding in front of every trainable layer is never run backward)
        emb = self.params["embeddings"]
        self.grads = {"embeddings": np.broadcast_to(np.zeros((), emb.dtype), emb.shape)}
        super().build(input_shape)

    def check_input(self, x):
        x = validation.as_array(x, f"layer {self.name!r}")
        return self.check_ids(x)

    def check_ids(self, x):
        """Ids must be integers (or integral floats) in [0, input_dim)."""
        if np.issubdtype(x.dtype, np.floating):
            if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
                raise TypeError(
                    f"Input to layer {self.name!r} must be integer token ids; got "
                    f"non-integral values of dtype {x.dtype}."
                )
        elif not np.issubdtype(x.dtype, np.integer):
            raise TypeError(
                f"Input to layer {self.name!r} must be integer token ids; got dtype {x.dtype}."
            )
        lo, hi = x.min(), x.max()
        if lo < 0 or hi >= self.input_dim:
            raise ValueError(
                f"Input to layer {self.name!r} has token ids outside [0, {self.input_dim}) "
                f"(input_dim={self.input_dim}): got min {lo}, max {hi}."
            )
        return x.astype(np.int64, copy=False)

    def compute_mask(self, x, mask):
        if not self.mask_zero:
            return mask
        step_mask = np.asarray(x) != 0
        return step_mask if mask is None else (step_mask & mask)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def forward(self, x, training=False, mask=None):
        self._ids = np.asarray(x, dtype=np.int64)
        return self.params["embeddings"][self._ids]

    def backward(self, dy):
        emb = self.params["embeddings"]
        if not self.trainable and self.tied_grad is None:
            # frozen (e.g. pretrained vectors): no scatter-add, no (input_dim, output_dim)
            # array per step; a read-only zero view stands for the unused gradient
            self.grads["embeddings"] = np.broadcast_to(np.zeros((), emb.dtype), emb.shape)
            return None
        rows, values = _row_gradient(
            self._ids.ravel(),
            dy.reshape(-1, self.output_dim).astype(emb.dtype, copy=False),
            self.input_dim,
        )
        if self.tied_grad is not None:  # the share of a TiedDense output layer: dense
            grad = np.array(self.tied_grad, dtype=emb.dtype, order="C")
            grad[rows] += values
            self.tied_grad = None
            self.grads["embeddings"] = grad
        else:
            self.grads["embeddings"] = RowSparse(rows, values, emb.shape)
        return None  # integer input: no gradient

    def get_config(self):
        config = super().get_config()
        config.update(
            input_dim=self.input_dim,
            output_dim=self.output_dim,
            embeddings_initializer=initializers.serialize(self.embeddings_initializer),
            mask_zero=self.mask_zero,
        )
        return config

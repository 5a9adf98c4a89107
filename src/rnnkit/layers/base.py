"""The one contract between layers.

Every layer:
  * ``build(input_shape)`` creates its weights (``input_shape`` excludes the batch);
  * ``forward(x, training=False, mask=None)`` computes its output and keeps what its
    backward needs;
  * ``backward(dy) -> dx`` returns the gradient for its input and fills the gradients
    of its weights, under the same names as the weights; while its
    ``input_grad_needed`` is False (a model training sets it on the first layer that
    has trainable weights, when nothing in front of it learns) it may skip dx and
    return None;
  * ``compute_output_shape`` / ``compute_mask`` say what leaves it;
  * ``weights()`` / ``gradients()`` list (name, array) pairs in Keras's
    ``get_weights()`` order, which models, optimizers, savers and the gradient checker
    use — they never reach inside a layer.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..utils import validation

_COMMON_KWARGS = {"name", "input_shape", "input_dim", "batch_input_shape", "dtype", "trainable"}


class Layer:
    """Base class of all layers.

    Args:
        name: the layer's name; Keras-style unique default (``dense``, ``dense_1``…).
        input_shape: the shape of one sample (no batch axis), for the first layer
            of a model, as in Keras.
        input_dim: shorthand for ``input_shape=(input_dim,)``.
        dtype: float dtype of the weights; default :func:`rnnkit.backend.floatx`.
        trainable: whether the optimizer updates this layer's weights.
    """

    supports_masking = False
    #: False while the caller will not read backward's dx (see the module docstring)
    input_grad_needed = True

    def __init__(self, **kwargs):
        validation.check_kwargs(kwargs, _COMMON_KWARGS, type(self).__name__)
        self.name = kwargs.get("name") or backend.unique_name(_snake(type(self).__name__))
        shape = kwargs.get("input_shape")
        if shape is None and kwargs.get("batch_input_shape") is not None:
            shape = tuple(kwargs["batch_input_shape"])[1:]
        if shape is None and kwargs.get("input_dim") is not None:
            shape = (validation.positive_int(kwargs["input_dim"], "input_dim"),)
        if shape is not None:
            if isinstance(shape, (int, np.integer)):
                shape = (shape,)
            shape = tuple(None if s is None else int(s) for s in shape)
        self.input_shape_arg: tuple | None = shape
        self.dtype = backend.resolve_dtype(kwargs.get("dtype"))
        self.trainable = bool(kwargs.get("trainable", True))
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.built = False
        self.input_shape: tuple | None = None
        self.rng = backend.child_rng()

    # ---- building ---------------------------------------------------------------
    def build(self, input_shape: tuple) -> None:
        self.input_shape = tuple(input_shape)
        self.built = True

    def ensure_built(self, input_shape: tuple) -> None:
        if not self.built:
            self.build(tuple(input_shape))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def compute_mask(self, x, mask):
        """The mask leaving this layer: passed through if the layer supports masking."""
        return mask if self.supports_masking else None

    # ---- running ----------------------------------------------------------------
    def __call__(self, x, training: bool = False, mask=None, **kwargs):
        """Run the layer eagerly on an array (builds it on first use), or — called on
        symbolic tensors from ``rnnkit.models.Input`` — add it to a model graph."""
        from ..models.functional import call_symbolic, is_symbolic

        if is_symbolic(x):
            return call_symbolic(self, x, **kwargs)
        x = self.check_input(x)
        self.ensure_built(x.shape[1:])
        return self.forward(x, training=training, mask=mask, **kwargs)

    def check_input(self, x):
        x = validation.as_array(x, f"layer {self.name!r}")
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(self.dtype)
        return x

    def forward(self, x, training: bool = False, mask=None):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    # ---- weights ----------------------------------------------------------------
    def weights(self) -> list[tuple[str, np.ndarray]]:
        """(name, array) pairs in get_weights() order."""
        return list(self.params.items())

    def gradients(self) -> list[np.ndarray]:
        """Gradients of :meth:`weights`, same order, from the last backward pass."""
        return [self.grads[name] for name in self.params]

    def trainable_weights(self) -> list[tuple[str, np.ndarray]]:
        return self.weights() if self.trainable else []

    def get_weights(self) -> list[np.ndarray]:
        return [w.copy() for _, w in self.weights()]

    def set_weights(self, weights) -> None:
        """Load arrays in get_weights() order; shapes must match exactly.

        Raises:
            ValueError: wrong count or shape, naming the layer and the weight.
        """
        current = self.weights()
        weights = list(weights)
        if len(weights) != len(current):
            raise ValueError(
                f"Layer {self.name!r} expects {len(current)} weight arrays "
                f"({[n for n, _ in current]}), got {len(weights)}."
            )
        for (name, target), value in zip(current, weights):
            value = np.asarray(value)
            if value.shape != target.shape:
                raise ValueError(
                    f"Layer {self.name!r} weight {name!r}: expected shape {target.shape}, "
                    f"got {value.shape}."
                )
            target[...] = value

    def count_params(self) -> int:
        return int(sum(w.size for _, w in self.weights()))

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name}
        if self.input_shape_arg is not None:
            config["input_shape"] = list(self.input_shape_arg)
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if (
            ch.isupper()
            and i
            and (not name[i - 1].isupper() or (i + 1 < len(name) and name[i + 1].islower()))
        ):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)

"""Losses by name, each with its gradient; masks and sample weights for sequences.

A loss turns (y_true, y_pred) into one number per entry — per sample for
(batch, classes) outputs, per step for (batch, time, classes) — then reduces them
the way Keras does: the weighted sum divided by the number of entries, or by the
number of unmasked entries when a mask is given.

The cross-entropies also offer ``from_logits`` forms. A model whose last layer ends
in softmax (or sigmoid) trained with categorical (or binary) cross-entropy uses
them: the loss is computed from the logits with log-sum-exp, and the gradient
dL/dz = p - y skips the division by p that makes the unfused gradient blow up for
tiny probabilities.
"""

from __future__ import annotations

import numpy as np

from .activations import log_softmax, sigmoid, softmax

_EPS = 1e-7


class Loss:
    """Base class. Subclasses implement ``entries_and_grad``.

    Calling a loss, ``loss(y_true, y_pred, sample_weight=None, mask=None)``, returns the
    reduced value as a float; ``value_and_grad`` returns the gradient with it.
    ``y_pred`` must be a NumPy array (its dtype is the gradient's); ``sample_weight``
    has the batch shape (or the batch and time shape), ``mask`` the entries' shape.

    Args:
        from_logits: treat y_pred as logits (pre-softmax / pre-sigmoid), default False.
            Only the cross-entropies read it.

    Example:
        >>> import numpy as np
        >>> from rnnkit import losses
        >>> mse = losses.MeanSquaredError()
        >>> mse.value_and_grad(np.array([[1.0, 2.0]]), np.array([[1.0, 4.0]]))
        (2.0, array([[0., 2.]]))
        >>> mask = np.array([[1.0], [0.0]])
        >>> mse(np.zeros((2, 1, 1)), np.ones((2, 1, 1)), mask=mask)
        1.0
    """

    name = "loss"
    fusable_activation: str | None = None  # the output activation it can fuse with

    def __init__(self, from_logits: bool = False):
        self.from_logits = bool(from_logits)

    def __call__(self, y_true, y_pred, sample_weight=None, mask=None) -> float:
        return self.value_and_grad(y_true, y_pred, sample_weight, mask)[0]

    def value_and_grad(self, y_true, y_pred, sample_weight=None, mask=None, logits=False):
        """Reduced loss and its gradient w.r.t. y_pred (or the logits, if ``logits``)."""
        from_logits = self.from_logits or logits
        values, grad = self.entries_and_grad(y_true, y_pred, from_logits)
        weights = _entry_weights(values.shape, sample_weight, mask)
        denom = values.size if mask is None else max(float(np.sum(mask)), 1.0)
        total = float(np.sum(values * weights)) / denom
        scale = (weights / denom).astype(grad.dtype)
        if np.may_share_memory(grad, y_pred) or not grad.flags.writeable:
            grad = np.array(grad)  # a subclass's view: scale a copy, never the input
        grad *= scale.reshape(scale.shape + (1,) * (grad.ndim - scale.ndim))
        return total, grad

    def entries_and_grad(self, y_true, y_pred, from_logits):
        """Per-entry losses (y_pred's shape without its last axis) and the gradient of
        each entry w.r.t. y_pred (or the logits), as a new array."""
        raise NotImplementedError

    def get_config(self):
        return {"from_logits": self.from_logits}


def _entry_weights(shape, sample_weight, mask):
    w = np.ones(shape)
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=float)
        w = w * sw.reshape(sw.shape + (1,) * (len(shape) - sw.ndim))
    if mask is not None:
        w = w * np.asarray(mask, dtype=float)
    return w


class CategoricalCrossentropy(Loss):
    """-Σ_k y_k log p_k for one-hot (or soft) targets of y_pred's shape.

    Probabilities are clipped to [1e-7, 1 - 1e-7]; the gradient is 0 where they are.

    Args:
        from_logits: y_pred holds logits, softmax taken inside, default False.

    Example:
        >>> import numpy as np
        >>> from rnnkit import losses
        >>> loss = losses.CategoricalCrossentropy()
        >>> round(loss(np.array([[0.0, 1.0]]), np.array([[0.5, 0.5]])), 4)
        0.6931
    """

    name = "categorical_crossentropy"
    fusable_activation = "softmax"

    def entries_and_grad(self, y_true, y_pred, from_logits):
        y = np.asarray(y_true, dtype=y_pred.dtype)
        if from_logits:
            logp = log_softmax(y_pred)
            values = -np.sum(y * logp, axis=-1)
            grad = softmax(y_pred) * np.sum(y, axis=-1, keepdims=True) - y
            return values, grad
        p = np.clip(y_pred, _EPS, 1 - _EPS)
        values = -np.sum(y * np.log(p), axis=-1)
        inside = (y_pred > _EPS) & (y_pred < 1 - _EPS)
        return values, np.where(inside, -y / p, 0.0).astype(y_pred.dtype)


class SparseCategoricalCrossentropy(Loss):
    """-log p_label for integer labels (shape of y_pred without its last axis).

    Labels with a trailing axis of 1, (batch, 1) or (batch, time, 1), are read too.

    Args:
        from_logits: y_pred holds logits, softmax taken inside, default False.

    Example:
        >>> import numpy as np
        >>> from rnnkit import losses
        >>> loss = losses.SparseCategoricalCrossentropy(from_logits=True)
        >>> round(loss(np.array([0]), np.array([[0.0, 0.0]])), 4)
        0.6931
    """

    name = "sparse_categorical_crossentropy"
    fusable_activation = "softmax"

    def entries_and_grad(self, y_true, y_pred, from_logits):
        labels = np.asarray(y_true).astype(np.int64)
        if labels.ndim == y_pred.ndim:  # (batch, 1) or (batch, time, 1) labels
            labels = labels[..., 0]
        if from_logits:
            # one exponential pass: e = exp(z - max), -log p_label = log Σe - (z_label - max),
            # and the gradient softmax - onehot made in place from e
            grad = np.subtract(y_pred, np.max(y_pred, axis=-1, keepdims=True))
            picked = np.take_along_axis(grad, labels[..., None], axis=-1)[..., 0]
            np.exp(grad, out=grad)
            total = np.sum(grad, axis=-1, keepdims=True)
            values = np.log(total[..., 0]) - picked
            grad /= total
            np.put_along_axis(
                grad,
                labels[..., None],
                np.take_along_axis(grad, labels[..., None], axis=-1) - 1.0,
                axis=-1,
            )
            return values, grad
        onehot = np.zeros_like(y_pred)
        np.put_along_axis(onehot, labels[..., None], 1.0, axis=-1)
        p = np.clip(y_pred, _EPS, 1 - _EPS)
        picked = np.take_along_axis(p, labels[..., None], axis=-1)[..., 0]
        inside = (y_pred > _EPS) & (y_pred < 1 - _EPS)
        return -np.log(picked), np.where(inside, -onehot / p, 0.0).astype(y_pred.dtype)


class BinaryCrossentropy(Loss):
    """Mean over the last axis of -(y log p + (1 - y) log(1 - p)).

    Args:
        from_logits: y_pred holds logits, sigmoid taken inside, default False.

    Example:
        >>> import numpy as np
        >>> from rnnkit import losses
        >>> round(losses.BinaryCrossentropy()(np.array([[1.0]]), np.array([[0.5]])), 4)
        0.6931
    """

    name = "binary_crossentropy"
    fusable_activation = "sigmoid"

    def entries_and_grad(self, y_true, y_pred, from_logits):
        y = np.asarray(y_true, dtype=y_pred.dtype).reshape(y_pred.shape)
        d = y_pred.shape[-1]
        if from_logits:
            z = y_pred
            per = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
            return per.mean(axis=-1), (sigmoid(z) - y) / d
        p = np.clip(y_pred, _EPS, 1 - _EPS)
        per = -(y * np.log(p) + (1 - y) * np.log(1 - p))
        inside = (y_pred > _EPS) & (y_pred < 1 - _EPS)
        grad = np.where(inside, (p - y) / (p * (1 - p)), 0.0) / d
        return per.mean(axis=-1), grad.astype(y_pred.dtype)


class MeanSquaredError(Loss):
    """Mean over the last axis of (y - ŷ)².

    Args:
        from_logits: accepted for a uniform signature and ignored, default False.

    Example:
        >>> import numpy as np
        >>> from rnnkit import losses
        >>> losses.MeanSquaredError()(np.array([[1.0, 2.0]]), np.array([[1.0, 4.0]]))
        2.0
    """

    name = "mean_squared_error"

    def entries_and_grad(self, y_true, y_pred, from_logits):
        y = np.asarray(y_true, dtype=y_pred.dtype).reshape(y_pred.shape)
        diff = y_pred - y
        return np.mean(diff * diff, axis=-1), 2.0 * diff / y_pred.shape[-1]


class MeanAbsoluteError(Loss):
    """Mean over the last axis of |y - ŷ|.

    Args:
        from_logits: accepted for a uniform signature and ignored, default False.

    Example:
        >>> import numpy as np
        >>> from rnnkit import losses
        >>> losses.MeanAbsoluteError()(np.array([[1.0, 2.0]]), np.array([[1.0, 4.0]]))
        1.0
    """

    name = "mean_absolute_error"

    def entries_and_grad(self, y_true, y_pred, from_logits):
        y = np.asarray(y_true, dtype=y_pred.dtype).reshape(y_pred.shape)
        diff = y_pred - y
        return np.mean(np.abs(diff), axis=-1), np.sign(diff) / y_pred.shape[-1]


_REGISTRY = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
}


def get(identifier) -> Loss:
    """A loss from a name (``"categorical_crossentropy"``, ``"mse"``) or an instance.

    Args:
        identifier: a ``Loss`` (returned as is), a ``Loss`` subclass (instantiated with
            its defaults) or a name, case-insensitive.

    Returns:
        The loss.

    Raises:
        ValueError: for an unknown name, listing the known ones.

    Example:
        >>> from rnnkit import losses
        >>> losses.get("MAE").name
        'mean_absolute_error'
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str) and identifier.lower() in _REGISTRY:
        return _REGISTRY[identifier.lower()]()
    raise ValueError(
        f"Received an invalid value for argument loss, expected one of {sorted(_REGISTRY)} "
        f"or a Loss instance, got {identifier!r}."
    )


def serialize(loss: Loss) -> dict:
    """The config dict a loss is saved as, the one ``deserialize`` reads back.

    Args:
        loss: a ``Loss``.

    Returns:
        ``{"class_name": loss.name, "config": loss.get_config()}``.

    Example:
        >>> from rnnkit import losses
        >>> losses.serialize(losses.get("mse"))
        {'class_name': 'mean_squared_error', 'config': {'from_logits': False}}
    """
    return {"class_name": loss.name, "config": loss.get_config()}


def deserialize(spec) -> Loss:
    """The loss a ``serialize`` dict describes, or ``get(spec)`` for anything else.

    Args:
        spec: a ``{"class_name": name, "config": {...}}`` dict, or what ``get`` takes.

    Returns:
        The loss.

    Raises:
        ValueError: an unknown ``class_name`` (or what ``get`` raises).

    Example:
        >>> from rnnkit import losses
        >>> spec = {"class_name": "binary_crossentropy", "config": {"from_logits": True}}
        >>> losses.deserialize(spec).from_logits
        True
    """
    if isinstance(spec, dict):
        cls = _REGISTRY.get(spec.get("class_name"))
        if cls is None:
            raise ValueError(f"Unknown loss {spec.get('class_name')!r}.")
        return cls(**spec.get("config", {}))
    return get(spec)

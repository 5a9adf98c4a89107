"""BatchNormalization and LayerNormalization over the last axis, as Keras 3's.

Both normalise x̂ = (x - μ) / √(σ² + ε) and return y = γ·x̂ + β; they differ in what
μ and σ² are taken over. With the weights w of the entries averaged (1, or the time
mask), N = Σ w, and g = dL/dx̂ = γ·dL/dy, the backward pass is

    dx = (1/√(σ² + ε)) · (g - w·Σg/N - w·x̂·Σ(g·x̂)/N),
    dγ = Σ dL/dy·x̂,   dβ = Σ dL/dy,

(Σ over the entries μ and σ² are taken over), which is the usual formula for w = 1.
"""

from __future__ import annotations

import numpy as np

from .. import initializers
from .base import Layer


def _positive(value, argument: str) -> float:
    v = float(value)
    if not (np.isfinite(v) and v > 0):
        raise ValueError(
            f"Received an invalid value for argument {argument}, expected a positive "
            f"number, got {value!r}."
        )
    return v


def _check_last_axis(layer, axis, input_shape) -> None:
    rank = len(input_shape) + 1  # with the batch axis
    if axis not in (-1, rank - 1):
        raise ValueError(
            f"Layer {layer.name!r}: only axis=-1 (the features) is implemented; got "
            f"axis={axis!r} for {rank}-D input."
        )
    if input_shape[-1] is None:
        raise ValueError(
            f"Layer {layer.name!r} needs a known last dimension, got input shape "
            f"{tuple(input_shape)}."
        )


def _normalized_backward(g, xhat, inv_std, weights, axes):
    """dL/dx from g = dL/dx̂ for moments over ``axes`` with entry weights ``weights``
    (None: every entry counts once)."""
    if weights is None:
        n = np.prod([g.shape[a] for a in axes])
        mean_g = g.sum(axis=axes, keepdims=True) / n
        mean_gx = (g * xhat).sum(axis=axes, keepdims=True) / n
        return inv_std * (g - mean_g - xhat * mean_gx)
    # the sums run over every entry: a masked entry's x̂ still moves with μ and σ
    n = np.maximum(weights.sum(axis=axes, keepdims=True), 1)
    mean_g = g.sum(axis=axes, keepdims=True) / n
    mean_gx = (g * xhat).sum(axis=axes, keepdims=True) / n
    return inv_std * (g - weights * mean_g - weights * xhat * mean_gx)


class BatchNormalization(Layer):
    """Normalise each feature by the batch's statistics (training) or by their moving
    averages (inference), then scale by γ and shift by β.

    Training: μ and σ² (the biased variance) over every axis but the last — the batch
    and, for (batch, time, features), the unmasked steps — and
    ``moving = moving·momentum + batch_value·(1 - momentum)``. Inference: the moving
    mean and variance, which are weights (saved, loaded) but not trained.

    Args:
        axis: only -1 (the features).
        momentum: of the moving averages, default 0.99.
        epsilon: added to the variance, default 1e-3.
        center: learn β, default True.
        scale: learn γ, default True.
        beta_initializer, gamma_initializer: default zeros and ones.
        moving_mean_initializer, moving_variance_initializer: default zeros and ones.
        **kwargs: the :class:`Layer` arguments (``beta_regularizer``,
            ``gamma_constraint``, …).

    Raises:
        ValueError: an axis other than the last, a bad momentum or epsilon.

    Example:
        >>> bn = BatchNormalization()
        >>> x = np.random.default_rng(0).random((8, 3))
        >>> np.abs(bn(x, training=True).mean(axis=0)).round(6)
        array([0., 0., 0.], dtype=float32)
    """

    supports_masking = True

    def __init__(
        self,
        axis=-1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        synchronized: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.axis = int(axis)
        self.momentum = float(momentum)
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(
                f"Received an invalid value for argument momentum, expected a number in "
                f"[0, 1], got {momentum!r}."
            )
        self.epsilon = _positive(epsilon, "epsilon")
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer, "beta_initializer")
        self.gamma_initializer = initializers.get(gamma_initializer, "gamma_initializer")
        self.moving_mean_initializer = initializers.get(
            moving_mean_initializer, "moving_mean_initializer"
        )
        self.moving_variance_initializer = initializers.get(
            moving_variance_initializer, "moving_variance_initializer"
        )

    def build(self, input_shape):
        _check_last_axis(self, self.axis, input_shape)
        f = (int(input_shape[-1]),)
        params = {}
        if self.scale:
            params["gamma"] = self.gamma_initializer(f, self.dtype, self.rng)
        if self.center:
            params["beta"] = self.beta_initializer(f, self.dtype, self.rng)
        params["moving_mean"] = self.moving_mean_initializer(f, self.dtype, self.rng)
        params["moving_variance"] = self.moving_variance_initializer(f, self.dtype, self.rng)
        self.params = params
        self.grads = {k: np.zeros_like(v) for k, v in params.items()}
        super().build(input_shape)

    # the moving statistics are weights (get_weights order as Keras: gamma, beta,
    # moving_mean, moving_variance) but no optimizer may touch them
    def _trained(self) -> list[str]:
        return [n for n in ("gamma", "beta") if n in self.params]

    def trainable_weights(self):
        return [(n, self.params[n]) for n in self._trained()] if self.trainable else []

    def gradients(self):
        return [self.grads[n] for n in self._trained()]

    def forward(self, x, training=False, mask=None):
        axes = tuple(range(x.ndim - 1))
        weights = None
        if training and mask is not None and x.ndim == 3:
            weights = np.asarray(mask, x.dtype)[..., None]
        if training:
            if weights is None:
                mean = x.mean(axis=axes, keepdims=True)
                var = np.square(x - mean).mean(axis=axes, keepdims=True)
            else:
                n = np.maximum(weights.sum(axis=axes, keepdims=True), 1)
                mean = (weights * x).sum(axis=axes, keepdims=True) / n
                var = (weights * np.square(x - mean)).sum(axis=axes, keepdims=True) / n
            m = self.momentum
            mm, mv = self.params["moving_mean"], self.params["moving_variance"]
            mm[...] = mm * m + mean.reshape(-1) * (1 - m)
            mv[...] = mv * m + var.reshape(-1) * (1 - m)
        else:
            mean = self.params["moving_mean"]
            var = self.params["moving_variance"]
        inv_std = (1.0 / np.sqrt(var + self.epsilon)).astype(x.dtype, copy=False)
        xhat = (x - mean) * inv_std
        self._cache = (xhat, inv_std, weights, axes, bool(training))
        y = xhat * self.params["gamma"] if self.scale else xhat.copy()
        if self.center:
            y += self.params["beta"]
        return y

    def backward(self, dy):
        xhat, inv_std, weights, axes, training = self._cache
        if self.scale:
            self.grads["gamma"] = (dy * xhat).sum(axis=axes)
        if self.center:
            self.grads["beta"] = dy.sum(axis=axes)
        if not self.input_grad_needed:
            return None
        g = dy * self.params["gamma"] if self.scale else dy
        if not training:  # fixed statistics: an affine map per feature
            return g * inv_std
        return _normalized_backward(g, xhat, inv_std, weights, axes)

    def get_config(self):
        config = super().get_config()
        config.update(
            axis=self.axis,
            momentum=self.momentum,
            epsilon=self.epsilon,
            center=self.center,
            scale=self.scale,
            beta_initializer=initializers.serialize(self.beta_initializer),
            gamma_initializer=initializers.serialize(self.gamma_initializer),
            moving_mean_initializer=initializers.serialize(self.moving_mean_initializer),
            moving_variance_initializer=initializers.serialize(self.moving_variance_initializer),
        )
        return config


class LayerNormalization(Layer):
    """Normalise each sample (each step of a sequence) over its features, then scale
    by γ and shift by β; the same in training and inference.

    Args:
        axis: only -1 (the features).
        epsilon: added to the variance, default 1e-3.
        center: learn β, default True.
        scale: learn γ, default True.
        beta_initializer, gamma_initializer: defaults zeros, ones.
        **kwargs: the :class:`Layer` arguments.

    Raises:
        ValueError: an axis other than the last, a bad epsilon.

    Example:
        >>> ln = LayerNormalization()
        >>> float(abs(ln(np.array([[1.0, 2.0, 3.0]])).sum()).round(6))
        0.0
    """

    supports_masking = True

    def __init__(
        self,
        axis=-1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        rms_scaling: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if rms_scaling:
            raise ValueError(
                "Received an invalid value for argument rms_scaling: only False (mean and "
                "variance) is implemented."
            )
        self.axis = int(axis) if not isinstance(axis, (list, tuple)) else axis
        self.epsilon = _positive(epsilon, "epsilon")
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer, "beta_initializer")
        self.gamma_initializer = initializers.get(gamma_initializer, "gamma_initializer")

    def build(self, input_shape):
        axis = self.axis
        if isinstance(axis, (list, tuple)):
            axis = axis[0] if len(axis) == 1 else None
        _check_last_axis(self, axis, input_shape)
        self.axis = int(axis)
        f = (int(input_shape[-1]),)
        self.params = {}
        if self.scale:
            self.params["gamma"] = self.gamma_initializer(f, self.dtype, self.rng)
        if self.center:
            self.params["beta"] = self.beta_initializer(f, self.dtype, self.rng)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        super().build(input_shape)

    def forward(self, x, training=False, mask=None):
        mean = x.mean(axis=-1, keepdims=True)
        var = np.square(x - mean).mean(axis=-1, keepdims=True)
        inv_std = 1.0 / np.sqrt(var + x.dtype.type(self.epsilon))
        xhat = (x - mean) * inv_std
        self._cache = (xhat, inv_std)
        y = xhat * self.params["gamma"] if self.scale else xhat.copy()
        if self.center:
            y += self.params["beta"]
        return y

    def backward(self, dy):
        xhat, inv_std = self._cache
        axes = tuple(range(dy.ndim - 1))
        if self.scale:
            self.grads["gamma"] = (dy * xhat).sum(axis=axes)
        if self.center:
            self.grads["beta"] = dy.sum(axis=axes)
        if not self.input_grad_needed:
            return None
        g = dy * self.params["gamma"] if self.scale else dy
        return _normalized_backward(g, xhat, inv_std, None, (dy.ndim - 1,))

    def get_config(self):
        config = super().get_config()
        config.update(
            axis=self.axis,
            epsilon=self.epsilon,
            center=self.center,
            scale=self.scale,
            beta_initializer=initializers.serialize(self.beta_initializer),
            gamma_initializer=initializers.serialize(self.gamma_initializer),
        )
        return config

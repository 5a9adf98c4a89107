"""Feed-forward layers: Dense, Activation, Dropout, Flatten, RepeatVector, Masking."""

from __future__ import annotations

import numbers

import numpy as np

from .. import activations, initializers
from ..utils import validation
from .base import Layer


class Dense(Layer):
    """y = activation(x·kernel + bias), applied to the last axis.

    On (batch, time, features) input it is applied at every step with the same
    weights (the notes' o_t = g(V·s_t)), and passes the time mask on.

    Args:
        units: output size, a positive int.
        activation: name, default None (linear).
        use_bias: a bool, default True.
        kernel_initializer: default ``"glorot_uniform"``.
        bias_initializer: default ``"zeros"``.

    Raises:
        ValueError: ``units`` not a positive int, or an unknown activation or
            initializer.
        TypeError: ``use_bias`` not a bool.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> layers.Dense(5)(np.ones((2, 3, 4), np.float32)).shape
        (2, 3, 5)
    """

    supports_masking = True

    def __init__(
        self,
        units: int,
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = validation.positive_int(units, "units")
        self.activation = activations.get(activation)
        if not isinstance(use_bias, (bool, np.bool_)):  # bool("False") is True
            raise TypeError(
                f"Received an invalid value for argument use_bias, expected True or False, "
                f"got {use_bias!r}."
            )
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")

    def build(self, input_shape):
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ValueError(
                f"Layer {self.name!r} needs a known last dimension, got input shape "
                f"{tuple(input_shape)}."
            )
        fan_in = int(input_shape[-1])
        self.params = {
            "kernel": self.kernel_initializer((fan_in, self.units), self.dtype, self.rng)
        }
        if self.use_bias:
            self.params["bias"] = self.bias_initializer((self.units,), self.dtype, self.rng)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        super().build(input_shape)

    def check_input(self, x):
        x = super().check_input(x)
        if self.built and x.shape[-1] != self.input_shape[-1]:
            raise ValueError(
                f"Input to layer {self.name!r} has last dimension {x.shape[-1]}; expected "
                f"{self.input_shape[-1]}."
            )
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False, mask=None):
        self._x = x
        kernel = self.kernel
        # one matrix product over all leading axes (a 3-D x @ W loops over the batch)
        z = (x.reshape(-1, x.shape[-1]) @ kernel).reshape(x.shape[:-1] + (kernel.shape[1],))
        if self.use_bias:
            z += self.params["bias"]
        self.logits = z
        self._y = self.activation(z)
        return self._y

    def backward(self, dy):
        return self.backward_logits(self.activation.vjp(dy, self._y))

    def backward_logits(self, dz):
        """Backward from dL/d(pre-activation), skipping the activation (the fused
        softmax / sigmoid cross-entropy path)."""
        x2 = self._x.reshape(-1, self._x.shape[-1])
        dz2 = dz.reshape(-1, dz.shape[-1])
        self.accumulate_kernel_grad(x2.T @ dz2)
        if self.use_bias:
            self.grads["bias"] = dz2.sum(axis=0)
        if not self.input_grad_needed:
            return None
        return (dz2 @ self.kernel.T).reshape(dz.shape[:-1] + (self.kernel.shape[0],))

    @property
    def kernel(self) -> np.ndarray:
        """The (inputs, units) weight matrix used by forward and backward."""
        return self.params["kernel"]

    def accumulate_kernel_grad(self, grad: np.ndarray) -> None:
        self.grads["kernel"] = grad

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            activation=self.activation.name,
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
        )
        return config


class TiedDense(Dense):
    """An output layer whose kernel is an Embedding's matrix, transposed: weight tying
    (Press & Wolf 2017; Inan et al. 2017). y = activation(x·Eᵀ + b) for x of the
    embedding's size. Only the bias is this layer's own; the gradient of Eᵀ goes back
    into the embedding's gradient, so the shared matrix learns from both ends.

    Args:
        embedding: the Embedding layer to share (it must come earlier in the model and
            run backward after this layer, as in any Sequential language model).
        activation: default ``"softmax"``.
        use_bias: default True.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> embedding = layers.Embedding(10, 4)
        >>> h = embedding(np.array([[1, 2]]))
        >>> layers.TiedDense(embedding)(h).shape
        (1, 2, 10)
    """

    def __init__(self, embedding, activation="softmax", use_bias: bool = True, **kwargs):
        from .embedding import Embedding

        if not isinstance(embedding, Embedding):
            raise ValueError(
                f"Received an invalid value for argument embedding, expected an Embedding "
                f"layer, got {embedding!r}."
            )
        super().__init__(embedding.input_dim, activation=activation, use_bias=use_bias, **kwargs)
        self.embedding = embedding

    def build(self, input_shape):
        if input_shape[-1] != self.embedding.output_dim:
            raise ValueError(
                f"Layer {self.name!r} ties to {self.embedding.name!r}: its input needs "
                f"{self.embedding.output_dim} features (the embedding size), got "
                f"{input_shape[-1]}."
            )
        self.params = {}
        if self.use_bias:
            self.params["bias"] = self.bias_initializer((self.units,), self.dtype, self.rng)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        Layer.build(self, input_shape)

    @property
    def kernel(self) -> np.ndarray:
        return self.embedding.params["embeddings"].T

    def accumulate_kernel_grad(self, grad: np.ndarray) -> None:
        emb = self.embedding  # handed to the embedding, which adds it in its backward
        emb.tied_grad = grad.T if emb.tied_grad is None else emb.tied_grad + grad.T

    def get_config(self):
        config = Layer.get_config(self)
        config.update(
            embedding=self.embedding.name, activation=self.activation.name, use_bias=self.use_bias
        )
        return config


class Activation(Layer):
    """Applies an activation function by name (``"softmax"``, ``"tanh"``, …).

    Args:
        activation: the name (see :mod:`rnnkit.activations`) or an activation.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> layers.Activation("relu")(np.array([[-1.0, 2.0]]))
        array([[0., 2.]], dtype=float32)
    """

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def forward(self, x, training=False, mask=None):
        self.logits = x
        self._y = self.activation(x)
        return self._y

    def backward(self, dy):
        return self.activation.vjp(dy, self._y)

    def backward_logits(self, dz):
        return dz

    def get_config(self):
        config = super().get_config()
        config["activation"] = self.activation.name
        return config


class Dropout(Layer):
    """Sets a fraction ``rate`` of inputs to zero during training (inverted dropout:
    survivors are scaled by 1/(1 - rate), so inference is the identity).

    Args:
        rate: in [0, 1).
        noise_shape: optional shape of the mask, broadcast over the input; e.g.
            ``(None, 1, features)`` drops the same features at every step.
        seed: optional int for this layer's generator.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> layers.Dropout(0.5)(np.ones((1, 4)))  # not training: the identity
        array([[1., 1., 1., 1.]], dtype=float32)
    """

    supports_masking = True

    def __init__(self, rate: float, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = validation.fraction(rate, "rate")
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def forward(self, x, training=False, mask=None):
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        shape = x.shape
        if self.noise_shape is not None:
            shape = tuple(x.shape[i] if s is None else s for i, s in enumerate(self.noise_shape))
        keep = 1.0 - self.rate
        self._mask = (self.rng.random(shape) < keep).astype(x.dtype) / x.dtype.type(keep)
        return x * self._mask

    def backward(self, dy):
        return dy if self._mask is None else dy * self._mask

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, noise_shape=self.noise_shape, seed=self.seed)
        return config


class SpatialDropout1D(Dropout):
    """Dropout of whole feature channels of (batch, time, features): one mask per
    sequence, the same at every step (Keras's SpatialDropout1D).

    Args:
        rate: the fraction of channels dropped, in [0, 1).
        seed: optional int for this layer's generator.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> layers.SpatialDropout1D(0.5)(np.ones((2, 3, 4))).shape
        (2, 3, 4)
    """

    def __init__(self, rate: float, seed=None, **kwargs):
        super().__init__(rate, noise_shape=None, seed=seed, **kwargs)

    def forward(self, x, training=False, mask=None):
        self.noise_shape = (x.shape[0], 1, x.shape[2])
        return super().forward(x, training=training, mask=mask)

    def get_config(self):
        config = super().get_config()
        config.pop("noise_shape")
        return config


class Flatten(Layer):
    """Flattens each sample to one axis: (batch, a, b) -> (batch, a·b).

    Backward reshapes the gradient back to the input's shape.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> layers.Flatten()(np.ones((2, 3, 4))).shape
        (2, 12)
    """

    def forward(self, x, training=False, mask=None):
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self._shape)

    def compute_output_shape(self, input_shape):
        if any(s is None for s in input_shape):
            return (None,)
        return (int(np.prod(input_shape)),)


class RepeatVector(Layer):
    """Repeats a (batch, features) input n times: (batch, n, features).

    Args:
        n: the number of repeats, a positive int.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> layers.RepeatVector(3)(np.ones((2, 4))).shape
        (2, 3, 4)
    """

    def __init__(self, n: int, **kwargs):
        super().__init__(**kwargs)
        self.n = validation.positive_int(n, "n")

    def check_input(self, x):
        x = super().check_input(x)
        validation.check_rank(x, 2, f"layer {self.name!r}", "(batch, features)")
        return x

    def forward(self, x, training=False, mask=None):
        return np.repeat(x[:, None, :], self.n, axis=1)

    def backward(self, dy):
        return dy.sum(axis=1)

    def compute_output_shape(self, input_shape):
        return (self.n,) + tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["n"] = self.n
        return config


class Masking(Layer):
    """Masks time steps whose features all equal ``mask_value``; later recurrent
    layers skip them (the state is carried) and the loss ignores them.

    Args:
        mask_value: the value that marks a padded step, a number, default 0.

    Raises:
        TypeError: ``mask_value`` not a number.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> x = np.array([[[0.0, 0.0], [1.0, 2.0]]])
        >>> layers.Masking()(x).shape  # the output is the input; the mask goes along
        (1, 2, 2)
    """

    supports_masking = True

    def __init__(self, mask_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, (bool, np.bool_)) or not isinstance(mask_value, numbers.Real):
            raise TypeError(
                f"Received an invalid value for argument mask_value, expected a number, got "
                f"{mask_value!r}."
            )
        self.mask_value = float(mask_value)

    def compute_mask(self, x, mask):
        step_mask = np.any(x != self.mask_value, axis=-1)
        return step_mask if mask is None else (step_mask & mask)

    def forward(self, x, training=False, mask=None):
        keep = self.compute_mask(x, mask)
        self._keep = keep[..., None]
        return x * self._keep

    def backward(self, dy):
        return dy * self._keep

    def get_config(self):
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config


class ReLU(Activation):
    """max(x, 0) as a layer (Keras's ``ReLU`` with its defaults: no max_value, no
    negative slope, threshold 0).

    Args:
        max_value: None only (accepted for Keras's signature).
        negative_slope: 0 only.
        threshold: 0 only.

    Raises:
        ValueError: another max_value, negative_slope or threshold.

    Example:
        >>> ReLU()(np.array([[-1.0, 2.0]]))
        array([[0., 2.]], dtype=float32)
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        if max_value is not None or negative_slope or threshold:
            raise ValueError(
                "Received an invalid value for argument max_value / negative_slope / "
                f"threshold: only the plain ReLU is implemented, got max_value={max_value!r}, "
                f"negative_slope={negative_slope!r}, threshold={threshold!r}."
            )
        kwargs.pop("activation", None)
        super().__init__("relu", **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("activation")
        return config

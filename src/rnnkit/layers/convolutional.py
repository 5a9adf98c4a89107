"""Conv1D: a convolution over the time axis of (batch, time, channels), as Keras's.

With kernel W of shape (kernel_size, channels, filters), stride s, dilation d and the
input x padded to xp (see ``padding``), output step t is

    z[t] = Σ_j xp[t·s + j·d] · W[j] + b,      y = activation(z),

and backward, for dz = dL/dz (the activation's vjp of dy):

    dW[j] = Σ_t xp[t·s + j·d]ᵀ · dz[t],   db = Σ_t dz[t],   dxp[t·s + j·d] += dz[t] · W[j]ᵀ,

with dx the unpadded part of dxp. Both are one matrix product per kernel tap over
all samples and steps at once.
"""

from __future__ import annotations

import numpy as np

from .. import activations, initializers
from ..utils import validation
from .base import Layer

_PADDINGS = ("valid", "same", "causal")


def _one_int(value, argument: str) -> int:
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(
                f"Received an invalid value for argument {argument}, expected an int or a "
                f"tuple of one int, got {value!r}."
            )
        value = value[0]
    return validation.positive_int(value, argument)


def conv_output_length(length, kernel_size: int, padding: str, stride: int, dilation: int = 1):
    """The number of output steps for ``length`` input steps (None stays None).

    Args:
        length: the number of input steps, or None.
        kernel_size: the window length.
        padding: ``"valid"``, ``"same"`` or ``"causal"`` (any other value is read as
            ``"valid"``: ``Conv1D`` checks it before).
        stride: the step between windows.
        dilation: the spacing of the window's taps, default 1.

    Returns:
        The number of output steps (0 when the window is longer than the padded input),
        or None.

    Example:
        >>> from rnnkit.layers.convolutional import conv_output_length
        >>> conv_output_length(10, 3, "valid", 1), conv_output_length(10, 3, "same", 2)
        (8, 5)
    """
    if length is None:
        return None
    span = dilation * (kernel_size - 1) + 1
    if padding == "same":
        return -(-length // stride)
    if padding == "causal":
        length += span - 1
    return max(0, (length - span) // stride + 1)


def conv_padding(length: int, kernel_size: int, padding: str, stride: int, dilation: int = 1):
    """(steps added before, steps added after) for ``padding``, as TensorFlow / Keras:
    "same" puts the odd step after.

    Args:
        length: the number of input steps.
        kernel_size: the window length.
        padding: ``"valid"``, ``"same"`` or ``"causal"`` (any other value is read as
            ``"valid"``: ``Conv1D`` checks it before).
        stride: the step between windows.
        dilation: the spacing of the window's taps, default 1.

    Returns:
        (before, after), ints.

    Example:
        >>> from rnnkit.layers.convolutional import conv_padding
        >>> conv_padding(10, 4, "same", 1), conv_padding(10, 3, "causal", 1, dilation=2)
        ((1, 2), (4, 0))
    """
    span = dilation * (kernel_size - 1) + 1
    if padding == "causal":
        return span - 1, 0
    if padding == "same":
        out = -(-length // stride)
        total = max((out - 1) * stride + span - length, 0)
        return total // 2, total - total // 2
    return 0, 0


class Conv1D(Layer):
    """1-D convolution over time (Keras's ``Conv1D``, ``data_format="channels_last"``).

    Args:
        filters: the number of output channels, a positive int.
        kernel_size: the window length, an int (or a tuple of one int).
        strides: the step between windows, default 1.
        padding: ``"valid"`` (no padding, default), ``"same"`` (zeros so that the
            output has ceil(time / strides) steps) or ``"causal"`` (zeros before the
            sequence only: output step t sees inputs up to t).
        data_format: only ``"channels_last"`` (batch, time, channels).
        dilation_rate: the spacing of the kernel's taps, default 1.
        groups: only 1.
        activation: name, default None (linear).
        use_bias: default True.
        kernel_initializer: default ``"glorot_uniform"``.
        bias_initializer: default ``"zeros"``.
        **kwargs: the :class:`Layer` arguments (name, regularizers, constraints…).

    Raises:
        ValueError: a bad argument, naming it; an input too short for the kernel.

    Example:
        >>> conv = Conv1D(8, 3, padding="same", activation="relu")
        >>> conv(np.zeros((2, 10, 4))).shape
        (2, 10, 8)
    """

    def __init__(
        self,
        filters: int,
        kernel_size,
        strides=1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate=1,
        groups: int = 1,
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = validation.positive_int(filters, "filters")
        self.kernel_size = _one_int(kernel_size, "kernel_size")
        self.strides = _one_int(strides, "strides")
        self.dilation_rate = _one_int(dilation_rate, "dilation_rate")
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in _PADDINGS:
            raise ValueError(
                f"Received an invalid value for argument padding, expected one of "
                f"{list(_PADDINGS)}, got {padding!r}."
            )
        self.padding = padding
        if data_format not in (None, "channels_last"):
            raise ValueError(
                f"Received an invalid value for argument data_format, expected "
                f"'channels_last' (batch, time, channels), got {data_format!r}."
            )
        if groups != 1:
            raise ValueError(
                f"Received an invalid value for argument groups, expected 1 (grouped "
                f"convolutions are not implemented), got {groups!r}."
            )
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                f"Input to layer {self.name!r} must be 3-D (batch, time, channels) with a "
                f"known number of channels; got a sample shape of {tuple(input_shape)}."
            )
        channels = int(input_shape[-1])
        self.params = {
            "kernel": self.kernel_initializer(
                (self.kernel_size, channels, self.filters), self.dtype, self.rng
            )
        }
        if self.use_bias:
            self.params["bias"] = self.bias_initializer((self.filters,), self.dtype, self.rng)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        super().build(input_shape)

    def check_input(self, x):
        x = super().check_input(x)
        validation.check_rank(x, 3, f"layer {self.name!r}", "(batch, time, channels)")
        if self.built and x.shape[-1] != self.input_shape[-1]:
            raise ValueError(
                f"Input to layer {self.name!r} has {x.shape[-1]} channels; expected "
                f"{self.input_shape[-1]}."
            )
        return x

    def compute_output_shape(self, input_shape):
        steps = conv_output_length(
            input_shape[0], self.kernel_size, self.padding, self.strides, self.dilation_rate
        )
        return (steps, self.filters)

    def compute_mask(self, x, mask):
        return None  # steps are mixed: no step of the output is padding

    def _tap(self, j: int, steps: int) -> slice:
        """The padded input steps that kernel tap j meets, one per output step."""
        start = j * self.dilation_rate
        return slice(start, start + (steps - 1) * self.strides + 1, self.strides)

    def forward(self, x, training=False, mask=None):
        length = x.shape[1]
        steps = conv_output_length(
            length, self.kernel_size, self.padding, self.strides, self.dilation_rate
        )
        if steps == 0:
            raise ValueError(
                f"Input to layer {self.name!r} has {length} steps, fewer than the kernel's "
                f"span of {self.dilation_rate * (self.kernel_size - 1) + 1} (padding='valid')."
            )
        before, after = conv_padding(
            length, self.kernel_size, self.padding, self.strides, self.dilation_rate
        )
        xp = np.pad(x, ((0, 0), (before, after), (0, 0))) if before or after else x
        kernel = self.params["kernel"]
        z = np.zeros((x.shape[0], steps, self.filters), np.result_type(x, kernel))
        for j in range(self.kernel_size):
            z += xp[:, self._tap(j, steps), :] @ kernel[j]
        if self.use_bias:
            z += self.params["bias"]
        self._xp, self._pad, self._length = xp, (before, after), length
        self._y = self.activation(z)
        return self._y

    def backward(self, dy):
        dz = self.activation.vjp(dy, self._y)
        xp, steps = self._xp, dz.shape[1]
        kernel = self.params["kernel"]
        dz2 = dz.reshape(-1, self.filters)
        grad = np.empty_like(kernel)
        for j in range(self.kernel_size):
            taps = xp[:, self._tap(j, steps), :]
            grad[j] = taps.reshape(-1, taps.shape[-1]).T @ dz2
        self.grads["kernel"] = grad
        if self.use_bias:
            self.grads["bias"] = dz2.sum(axis=0)
        if not self.input_grad_needed:
            return None
        dxp = np.zeros(xp.shape, dz.dtype)
        for j in range(self.kernel_size):
            dxp[:, self._tap(j, steps), :] += dz @ kernel[j].T
        before, _ = self._pad
        return dxp[:, before : before + self._length, :]

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            activation=self.activation.name,
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
        )
        return config

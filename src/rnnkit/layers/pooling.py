"""Pooling over time, aware of masks: padded steps never win a max or count in a mean."""

from __future__ import annotations

import numpy as np

from ..utils import validation
from .base import Layer


class _GlobalPooling1D(Layer):
    supports_masking = True

    def check_input(self, x):
        x = super().check_input(x)
        validation.check_rank(x, 3, f"layer {self.name!r}", "(batch, time, features)")
        return x

    def compute_mask(self, x, mask):
        return None  # time is gone

    def compute_output_shape(self, input_shape):
        return (input_shape[-1],)

    def _valid(self, x, mask):
        if mask is None:
            return np.ones(x.shape[:2], bool)
        valid = np.asarray(mask, bool).copy()
        empty = ~valid.any(axis=1)
        valid[empty] = True  # an all-padding row pools over everything, never NaN
        return valid


class GlobalMaxPooling1D(_GlobalPooling1D):
    """Max over the time axis of (batch, time, features), skipping masked steps:
    (batch, time, features) -> (batch, features). A sample whose steps are all masked
    pools over all of them. Backward sends each output's gradient to the step that held
    the maximum.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> layers.GlobalMaxPooling1D()(np.arange(6.0).reshape(1, 3, 2))
        array([[4., 5.]], dtype=float32)
    """

    def forward(self, x, training=False, mask=None):
        valid = self._valid(x, mask)[:, :, None]
        # the max over valid steps without a masked copy of x, then the first valid step
        # that holds it (what argmax of the masked copy picks) from two boolean arrays, a
        # quarter of x's size each in float32 (bench/NOTES.md row 31)
        y = np.max(x, axis=1, where=valid, initial=-np.inf)
        winner = np.equal(x, y[:, None, :])
        winner &= valid
        self._arg = np.argmax(winner, axis=1)  # (batch, features)
        self._shape = x.shape
        return y.astype(x.dtype, copy=False)  # NaN in a row's valid steps stays NaN

    def backward(self, dy):
        return self.add_backward(dy, np.zeros(self._shape, dy.dtype))

    def add_backward(self, dy, dx):
        """Add dL/dx for dL/dy to ``dx`` in place (each output came from one step, the
        argmax: one entry of dx per output); returns ``dx``."""
        at = self._arg[:, None, :]
        won = np.take_along_axis(dx, at, axis=1)
        won += dy[:, None, :]
        np.put_along_axis(dx, at, won, axis=1)
        return dx


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Mean over the unmasked steps of (batch, time, features): (batch, time,
    features) -> (batch, features). A sample whose steps are all masked averages all of
    them. Backward shares each output's gradient equally among the steps counted.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> layers.GlobalAveragePooling1D()(np.arange(6.0).reshape(1, 3, 2))
        array([[2., 3.]], dtype=float32)
    """

    def forward(self, x, training=False, mask=None):
        valid = self._valid(x, mask).astype(x.dtype)
        self._weights = valid / valid.sum(axis=1, keepdims=True)  # (batch, time)
        return np.matmul(self._weights[:, None, :], x)[:, 0, :]

    def backward(self, dy):
        return self._weights[:, :, None] * dy[:, None, :]


class GlobalMaxAveragePooling1D(_GlobalPooling1D):
    """Max and mean over time, concatenated: (batch, 2·features). Not a Keras layer;
    the usual "concat pooling" head of a text classifier in one Sequential step.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> layers.GlobalMaxAveragePooling1D()(np.arange(6.0).reshape(1, 3, 2))
        array([[4., 5., 2., 3.]], dtype=float32)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._max = GlobalMaxPooling1D(name=self.name + "/max")
        self._avg = GlobalAveragePooling1D(name=self.name + "/avg")

    def compute_output_shape(self, input_shape):
        return (2 * input_shape[-1],)

    def forward(self, x, training=False, mask=None):
        self._f = x.shape[-1]
        return np.concatenate(
            [self._max.forward(x, mask=mask), self._avg.forward(x, mask=mask)], -1
        )

    def backward(self, dy):
        # the max's gradient added into the mean's: one (batch, time, features) array
        # at the backward pass's peak instead of three (bench/NOTES.md row 31)
        return self._max.add_backward(dy[:, : self._f], self._avg.backward(dy[:, self._f :]))


class _Pooling1D(Layer):
    """Pooling over windows of the time axis of (batch, time, features); the window
    starts are t·strides in the input padded as for a convolution (see
    :mod:`rnnkit.layers.convolutional`)."""

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        from .convolutional import _one_int

        super().__init__(**kwargs)
        self.pool_size = _one_int(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else _one_int(strides, "strides")
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in ("valid", "same"):
            raise ValueError(
                f"Received an invalid value for argument padding, expected 'valid' or "
                f"'same', got {padding!r}."
            )
        self.padding = padding
        if data_format not in (None, "channels_last"):
            raise ValueError(
                f"Received an invalid value for argument data_format, expected "
                f"'channels_last' (batch, time, features), got {data_format!r}."
            )

    def check_input(self, x):
        x = super().check_input(x)
        validation.check_rank(x, 3, f"layer {self.name!r}", "(batch, time, features)")
        return x

    def compute_mask(self, x, mask):
        return None

    def compute_output_shape(self, input_shape):
        from .convolutional import conv_output_length

        steps = conv_output_length(input_shape[0], self.pool_size, self.padding, self.strides)
        return (steps, input_shape[-1])

    def _windows(self, x, fill):
        """(padded x, output steps, tap slices): tap j of window t is step t·s + j."""
        from .convolutional import conv_output_length, conv_padding

        length = x.shape[1]
        steps = conv_output_length(length, self.pool_size, self.padding, self.strides)
        if steps == 0:
            raise ValueError(
                f"Input to layer {self.name!r} has {length} steps, fewer than pool_size="
                f"{self.pool_size} (padding='valid')."
            )
        before, after = conv_padding(length, self.pool_size, self.padding, self.strides)
        xp = x
        if before or after:
            xp = np.pad(x, ((0, 0), (before, after), (0, 0)), constant_values=fill)
        taps = [
            slice(j, j + (steps - 1) * self.strides + 1, self.strides)
            for j in range(self.pool_size)
        ]
        self._pad, self._length, self._padded_shape = (before, after), length, xp.shape
        return xp, steps, taps

    def _unpad(self, dxp):
        before = self._pad[0]
        return dxp[:, before : before + self._length, :]

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=self.pool_size, strides=self.strides, padding=self.padding)
        return config


class MaxPooling1D(_Pooling1D):
    """The maximum over each window: y[t] = max_j x[t·s + j] (padding never wins).

    Args:
        pool_size: the window length, default 2.
        strides: the step between windows, default ``pool_size``.
        padding: ``"valid"`` (default) or ``"same"`` (ceil(time / strides) outputs).
        data_format: only ``"channels_last"``.

    Backward: each output's gradient goes to the step that held its maximum (the first
    one on a tie); overlapping windows add up.

    Example:
        >>> MaxPooling1D(2)(np.arange(8.0).reshape(1, 4, 2)).shape
        (1, 2, 2)
    """

    def forward(self, x, training=False, mask=None):
        xp, _, taps = self._windows(x, -np.inf)
        y = xp[:, taps[0], :].copy()
        arg = np.zeros(y.shape, np.int16)
        for j in range(1, self.pool_size):
            tap = xp[:, taps[j], :]
            better = tap > y
            np.copyto(y, tap, where=better)
            arg[better] = j
        self._arg, self._taps = arg, taps
        return y

    def backward(self, dy):
        dxp = np.zeros(self._padded_shape, dy.dtype)
        for j, tap in enumerate(self._taps):
            dxp[:, tap, :] += np.where(self._arg == j, dy, 0)
        return self._unpad(dxp)


class AveragePooling1D(_Pooling1D):
    """The mean over each window: y[t] = Σ_j x[t·s + j] / n[t], with n[t] the number
    of the window's steps inside the sequence (padding is not counted, as in Keras).

    Args:
        pool_size, strides, padding, data_format: as :class:`MaxPooling1D`.

    Example:
        >>> AveragePooling1D(2)(np.ones((1, 4, 3))).shape
        (1, 2, 3)
    """

    def forward(self, x, training=False, mask=None):
        xp, steps, taps = self._windows(x, 0.0)
        inside = np.zeros(xp.shape[1], x.dtype)
        inside[self._pad[0] : self._pad[0] + x.shape[1]] = 1
        count = sum(inside[tap] for tap in taps)  # (steps,)
        self._scale = (1.0 / count).astype(x.dtype)[None, :, None]
        total = np.zeros((x.shape[0], steps, x.shape[2]), x.dtype)
        for tap in taps:
            total += xp[:, tap, :]
        self._taps = taps
        return total * self._scale

    def backward(self, dy):
        share = dy * self._scale
        dxp = np.zeros(self._padded_shape, dy.dtype)
        for tap in self._taps:
            dxp[:, tap, :] += share
        return self._unpad(dxp)

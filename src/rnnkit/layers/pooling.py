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
    """Max over the time axis of (batch, time, features), skipping masked steps."""

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
    """Mean over the unmasked steps of (batch, time, features)."""

    def forward(self, x, training=False, mask=None):
        valid = self._valid(x, mask).astype(x.dtype)
        self._weights = valid / valid.sum(axis=1, keepdims=True)  # (batch, time)
        return np.matmul(self._weights[:, None, :], x)[:, 0, :]

    def backward(self, dy):
        return self._weights[:, :, None] * dy[:, None, :]


class GlobalMaxAveragePooling1D(_GlobalPooling1D):
    """Max and mean over time, concatenated: (batch, 2·features). Not a Keras layer;
    the usual "concat pooling" head of a text classifier in one Sequential step."""

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

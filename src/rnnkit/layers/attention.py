"""Attention over a sequence of values (an encoder's outputs), masked over padding.

Both layers take ``[query, values]``: query (batch, Tq, dq) — or (batch, dq) for one
query — and values (batch, Tv, dv), plus an optional values mask (batch, Tv). They
return the context, a weighted mean of the values, (batch, Tq, dv), and keep the
attention weights (batch, Tq, Tv) in ``attention_weights`` for plotting.

    scores   e_ij = score(q_i, v_j)          (masked steps: -inf)
    weights  a_ij = softmax_j(e_ij)
    context  c_i  = Σ_j a_ij · v_j
"""

from __future__ import annotations

import numpy as np

from .. import initializers
from ..utils import validation
from .base import Layer

_NEG = -1e30  # "minus infinity" for masked scores, finite so that 0 · it stays 0


class _Attention(Layer):
    supports_masking = True

    def check_input(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(
                f"Layer {self.name!r} expects a list [query, values], got "
                f"{validation.describe(inputs)}."
            )
        q = validation.as_array(inputs[0], f"layer {self.name!r} query").astype(self.dtype)
        v = validation.as_array(inputs[1], f"layer {self.name!r} values").astype(self.dtype)
        validation.check_rank(v, 3, f"layer {self.name!r} values", "(batch, time, features)")
        if q.ndim not in (2, 3) or q.shape[0] != v.shape[0]:
            raise ValueError(
                f"Layer {self.name!r}: query must be (batch, dq) or (batch, Tq, dq) with the "
                f"values' batch {v.shape[0]}, got shape {q.shape}."
            )
        return [q, v]

    def __call__(self, inputs, training=False, mask=None):
        from ..models.functional import call_symbolic, is_symbolic

        if is_symbolic(inputs):
            return call_symbolic(self, inputs)
        q, v = self.check_input(inputs)
        self.ensure_built((q.shape[1:], v.shape[1:]))
        return self.forward([q, v], training=training, mask=mask)

    def forward(self, inputs, training=False, mask=None):
        q, v = inputs
        self._single = q.ndim == 2
        q = q[:, None, :] if self._single else q
        self._q, self._v = q, v
        scores = self._scores(q, v)  # (B, Tq, Tv)
        if mask is not None:
            keep = np.asarray(mask, bool)
            if keep.shape != v.shape[:2]:
                raise ValueError(
                    f"Mask for layer {self.name!r} must have shape {v.shape[:2]}, got {keep.shape}."
                )
            empty = ~keep.any(axis=1)
            keep = keep.copy()
            keep[empty] = True  # an all-padding row attends uniformly, never NaN
            scores = np.where(keep[:, None, :], scores, _NEG)
        scores = scores - scores.max(axis=-1, keepdims=True)
        a = np.exp(scores)
        a /= a.sum(axis=-1, keepdims=True)
        self.attention_weights = a[:, 0] if self._single else a
        self._a = a
        context = a @ v
        return context[:, 0] if self._single else context

    def backward(self, dy):
        dc = dy[:, None, :] if self._single else dy
        a, v = self._a, self._v
        da = dc @ v.transpose(0, 2, 1)
        dv = a.transpose(0, 2, 1) @ dc
        ds = a * (da - np.sum(da * a, axis=-1, keepdims=True))
        dq, dv_scores = self._scores_backward(ds)
        dq = dq[:, 0] if self._single else dq
        return [dq, dv + dv_scores]

    def compute_output_shape(self, input_shape):
        q_shape, v_shape = input_shape
        return tuple(q_shape[:-1]) + (v_shape[-1],)


class DotAttention(_Attention):
    """Luong et al. (2015) multiplicative attention.

    Args:
        score: ``"dot"`` — e_ij = q_i·v_j (query and values of equal size), or
            ``"general"`` — e_ij = q_i·W·v_j with a learned W (dq, dv).
        scale: multiply dot scores by 1/sqrt(d) (scaled dot product). Default False.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> query, values = np.ones((2, 3, 4)), np.ones((2, 5, 4))
        >>> layers.DotAttention(scale=True)([query, values]).shape
        (2, 3, 4)
    """

    def __init__(
        self, score: str = "dot", scale: bool = False, kernel_initializer="glorot_uniform", **kwargs
    ):
        super().__init__(**kwargs)
        if score not in ("dot", "general"):
            raise ValueError(
                f"Received an invalid value for argument score, expected 'dot' or 'general', "
                f"got {score!r}."
            )
        self.score, self.scale = score, bool(scale)
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")

    def build(self, input_shape):
        q_shape, v_shape = input_shape
        dq, dv = q_shape[-1], v_shape[-1]
        if self.score == "dot" and dq != dv:
            raise ValueError(
                f"Layer {self.name!r}: dot scores need query and values of equal size, got "
                f"{dq} and {dv}; use score='general'."
            )
        if self.score == "general":
            self.params = {"kernel": self.kernel_initializer((dq, dv), self.dtype, self.rng)}
            self.grads = {"kernel": np.zeros_like(self.params["kernel"])}
        self._factor = 1.0 / np.sqrt(dv) if self.scale else 1.0
        super().build(input_shape)

    def _scores(self, q, v):
        self._qw = q @ self.params["kernel"] if self.score == "general" else q
        return (self._qw @ v.transpose(0, 2, 1)) * self._factor

    def _scores_backward(self, ds):
        ds = ds * self._factor
        dqw = ds @ self._v
        dv = ds.transpose(0, 2, 1) @ self._qw
        if self.score == "general":
            w = self.params["kernel"]
            q = self._q
            self.grads["kernel"] = q.reshape(-1, q.shape[-1]).T @ dqw.reshape(-1, w.shape[1])
            return dqw @ w.T, dv
        return dqw, dv

    def get_config(self):
        return {**super().get_config(), "score": self.score, "scale": self.scale}


class BahdanauAttention(_Attention):
    """Bahdanau et al. (2015) additive attention:
    e_ij = vᵀ·tanh(q_i·W_q + v_j·W_k), with learned W_q (dq, units), W_k (dv, units)
    and v (units,).

    Args:
        units: size of the hidden scoring layer, a positive int.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> query, values = np.ones((2, 3, 4)), np.ones((2, 5, 6))
        >>> layers.BahdanauAttention(8)([query, values]).shape
        (2, 3, 6)
    """

    def __init__(self, units: int, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.units = validation.positive_int(units, "units")
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")

    def build(self, input_shape):
        q_shape, v_shape = input_shape
        init, dt, rng = self.kernel_initializer, self.dtype, self.rng
        self.params = {
            "query_kernel": init((q_shape[-1], self.units), dt, rng),
            "key_kernel": init((v_shape[-1], self.units), dt, rng),
            "score_vector": init((self.units, 1), dt, rng)[:, 0].copy(),
        }
        self.grads = {k: np.zeros_like(w) for k, w in self.params.items()}
        super().build(input_shape)

    def _scores(self, q, v):
        p = self.params
        self._e = np.tanh(
            (q @ p["query_kernel"])[:, :, None, :] + (v @ p["key_kernel"])[:, None, :, :]
        )  # (B, Tq, Tv, units)
        return self._e @ p["score_vector"]

    def _scores_backward(self, ds):
        p, e, q, v = self.params, self._e, self._q, self._v
        self.grads["score_vector"] = np.einsum("bqk,bqku->u", ds, e)
        dpre = ds[..., None] * p["score_vector"] * (1.0 - e * e)
        dq_proj = dpre.sum(axis=2)  # (B, Tq, units)
        dk_proj = dpre.sum(axis=1)  # (B, Tv, units)
        self.grads["query_kernel"] = q.reshape(-1, q.shape[-1]).T @ dq_proj.reshape(-1, self.units)
        self.grads["key_kernel"] = v.reshape(-1, v.shape[-1]).T @ dk_proj.reshape(-1, self.units)
        return dq_proj @ p["query_kernel"].T, dk_proj @ p["key_kernel"].T

    def get_config(self):
        return {**super().get_config(), "units": self.units}

"""The GRU cell in the PyTorch / cuDNN formulation (Keras ``reset_after=True``).

Gates in Keras's order z (update), r (reset), h~ (candidate). The recurrent
projection carries its own bias b', and the reset gate multiplies it after the
product, which is what cuDNN computes:

    z_t  = σ(x_t·U_z + b_z + h_{t-1}·W_z + b'_z)
    r_t  = σ(x_t·U_r + b_r + h_{t-1}·W_r + b'_r)
    h~_t = tanh(x_t·U_h + b_h + r_t ⊙ (h_{t-1}·W_h + b'_h))
    h_t  = z_t ⊙ h_{t-1} + (1 - z_t) ⊙ h~_t

Bias shape (2, 3·H): row 0 is b (input), row 1 is b' (recurrent), as Keras stores it.
Backward, for dL/dh_t:

    dz_t   = dh ⊙ (h_{t-1} - h~_t);   dh~ = dh ⊙ (1 - z_t);   dh_t-1 (direct) = dh ⊙ z_t
    da_h   = dh~ ⊙ tanh'(h~_t)                      (pre-activation of h~)
    dr_t   = da_h ⊙ (h_{t-1}·W_h + b'_h)
    dz_in  = [dz ⊙ σ'(z), dr ⊙ σ'(r), da_h]         (gradient of the input projection)
    dz_rec = [dz ⊙ σ'(z), dr ⊙ σ'(r), da_h ⊙ r_t]   (gradient of h_{t-1}·W + b')
    dh_t-1 += dz_rec · Wᵀ
"""

from __future__ import annotations

import numpy as np

from .. import activations
from .base import Cell


class GRUCell(Cell):
    """One step of the GRU in the cuDNN formulation (the module's equations), gates
    z, r, h~ fused in U (I, 3·H) and W (H, 3·H), with a (2, 3·H) bias (input and
    recurrent rows); ``rnnkit.layers.GRU`` unrolls it. One state, ``h``.

    Args:
        units: H, a positive int.
        activation: for the candidate h~, a name or function
            (:mod:`rnnkit.activations`). Default ``"tanh"``.
        recurrent_activation: σ, for the gates z and r. Default ``"sigmoid"``.
        **kwargs: ``use_bias``, ``kernel_initializer``, ``recurrent_initializer``,
            ``bias_initializer`` of :class:`Cell`.

    Raises:
        ValueError: ``units`` is not a positive int.

    Example:
        >>> cell = GRUCell(3)
        >>> cell.build(2, np.float32, np.random.default_rng(0))
        >>> cell.params["kernel"].shape, cell.params["bias"].shape, cell.state_names
        ((2, 9), (2, 9), ('h',))
    """

    n_gates = 3
    state_names = ("h",)
    gates_in_projection = True

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", **kwargs):
        super().__init__(units, activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)

    def bias_shape(self):
        return (2, 3 * self.units)

    def input_bias(self):
        return self.params["bias"][0]

    def allocate(self, steps, batch, dtype):
        # "gates" (z, r, h~) is the caller's input-projection buffer
        return {"rec_h": np.empty((steps, batch, self.units), dtype)}  # h_{t-1}·W_h + b'_h

    def forward_step(self, t, xw_t, states, h_rec, cache, out=None):
        (h_prev,) = states
        u, sig, act = self.units, self.recurrent_activation, self.activation
        rec = h_rec @ self.params["recurrent_kernel"]
        if self.use_bias:
            rec = rec + self.params["bias"][1]
        z = sig(xw_t[:, :u] + rec[:, :u])
        r = sig(xw_t[:, u : 2 * u] + rec[:, u : 2 * u])
        rec_h = rec[:, 2 * u :]
        h_tilde = act(xw_t[:, 2 * u :] + r * rec_h)
        h = z * h_prev + (1 - z) * h_tilde
        cache["gates"][t] = np.concatenate([z, r, h_tilde], axis=1)  # over xw_t, read
        cache["rec_h"][t] = rec_h
        return (h,)

    def backward_step(self, t, dstates, states_prev, cache, out=None):
        (dh,) = dstates
        (h_prev,) = states_prev
        u, sig, act = self.units, self.recurrent_activation, self.activation
        g, rec_h = cache["gates"][t], cache["rec_h"][t]
        z, r, h_tilde = g[:, :u], g[:, u : 2 * u], g[:, 2 * u :]
        dz = dh * (h_prev - h_tilde)
        dh_tilde = dh * (1 - z)
        da_h = dh_tilde * act.grad(h_tilde)
        dr = da_h * rec_h
        dz_in = np.concatenate([dz * sig.grad(z), dr * sig.grad(r), da_h], axis=1)
        dz_rec = np.concatenate([dz_in[:, : 2 * u], da_h * r], axis=1)
        dh_rec = dz_rec @ self.params["recurrent_kernel"].T
        return dz_in, dz_rec, dh_rec, (dh * z,)

    def recurrent_grad_buffer(self, cache):
        return cache["rec_h"]  # step t reads rec_h[t] before its dz_rec block goes there

    def recurrent_grad_columns(self):
        return slice(2 * self.units, 3 * self.units)  # dz_rec = dxw but for the h~ block

    def weight_grads(self, x_flat, dxw_flat, hrec_flat, dzrec_flat):
        """As :meth:`Cell.weight_grads`, with ``dzrec_flat`` the h~ block of dz_rec
        (dz_rec's z and r blocks are dxw's): dW and db' by blocks."""
        u = self.units
        self.grad_product("kernel", x_flat.T, dxw_flat)
        hrec_t = hrec_flat.T
        dw = self.grad_buffer("recurrent_kernel")
        np.matmul(hrec_t, dxw_flat[:, : 2 * u], out=dw[:, : 2 * u])
        np.matmul(hrec_t, dzrec_flat, out=dw[:, 2 * u :])
        if self.use_bias:
            db = self.grad_buffer("bias")
            np.sum(dxw_flat, axis=0, out=db[0])
            db[1, : 2 * u] = db[0, : 2 * u]
            np.sum(dzrec_flat, axis=0, out=db[1, 2 * u :])

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = self.recurrent_activation.name
        return config

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
    n_gates = 3
    state_names = ("h",)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", **kwargs):
        super().__init__(units, activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)

    def bias_shape(self):
        return (2, 3 * self.units)

    def input_bias(self):
        return self.params["bias"][0]

    def allocate(self, steps, batch, dtype):
        u = self.units
        return {
            "gates": np.empty((steps, batch, 3 * u), dtype),  # z, r, h~ after σ / tanh
            "rec_h": np.empty((steps, batch, u), dtype),  # h_{t-1}·W_h + b'_h
        }

    def forward_step(self, t, xw_t, states, h_rec, cache):
        (h_prev,) = states
        u = self.units
        rec = h_rec @ self.params["recurrent_kernel"]
        if self.use_bias:
            rec += self.params["bias"][1]
        g = cache["gates"][t]
        sig, act = self.recurrent_activation, self.activation
        g[:, : 2 * u] = sig(xw_t[:, : 2 * u] + rec[:, : 2 * u])  # z_t, r_t
        r = g[:, u : 2 * u]
        cache["rec_h"][t] = rec[:, 2 * u :]
        g[:, 2 * u :] = act(xw_t[:, 2 * u :] + r * rec[:, 2 * u :])  # h~_t
        z, h_tilde = g[:, :u], g[:, 2 * u :]
        h = z * h_prev + (1.0 - z) * h_tilde
        return (h,)

    def backward_step(self, t, dstates, states_prev, cache):
        (dh,) = dstates
        (h_prev,) = states_prev
        u = self.units
        g, rec_h = cache["gates"][t], cache["rec_h"][t]
        z, r, h_tilde = g[:, :u], g[:, u : 2 * u], g[:, 2 * u :]
        sig, act = self.recurrent_activation, self.activation

        dz = dh * (h_prev - h_tilde)
        da_h = dh * (1.0 - z) * act.grad(h_tilde)
        dr = da_h * rec_h
        dxw = np.empty_like(g)
        dxw[:, :u] = dz * sig.grad(z)
        dxw[:, u : 2 * u] = dr * sig.grad(r)
        dxw[:, 2 * u :] = da_h
        dzrec = dxw.copy()
        dzrec[:, 2 * u :] *= r
        dh_rec = dzrec @ self.params["recurrent_kernel"].T
        return dxw, dzrec, dh_rec, (dh * z,)

    def weight_grads(self, x_flat, dxw_flat, hrec_flat, dzrec_flat):
        self.grads["kernel"] = x_flat.T @ dxw_flat
        self.grads["recurrent_kernel"] = hrec_flat.T @ dzrec_flat
        if self.use_bias:
            self.grads["bias"] = np.stack([dxw_flat.sum(axis=0), dzrec_flat.sum(axis=0)])

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = self.recurrent_activation.name
        return config

"""The Elman cell of the notes.

    s_t = f(x_t·U + s_{t-1}·W + b)

with f in {tanh, relu, sigmoid, linear}. The layer's output at step t is s_t
(the notes' o_t = g(V·s_t) is a Dense layer on top). Backward, for dL/ds_t:

    dz_t      = dL/ds_t ⊙ f'(z_t)        (f' from s_t: tanh 1 - s², relu [s > 0])
    dL/ds_t-1 = dz_t · Wᵀ                 (the factor that vanishes or explodes)
    dU += x_tᵀ·dz_t,  dW += s_{t-1}ᵀ·dz_t,  db += Σ dz_t   (the layer sums over t)
"""

from __future__ import annotations

from .base import Cell


class SimpleRNNCell(Cell):
    n_gates = 1
    state_names = ("h",)
    same_input_and_recurrent_grads = True
    output_in_cache = True  # cache["h"] (s_t, read by backward) is the loop's state buffer

    def allocate(self, steps, batch, dtype):
        return {}  # the caller provides cache["h"]

    def forward_step(self, t, xw_t, states, h_rec, cache, out=None):
        s = self.activation(xw_t + h_rec @ self.params["recurrent_kernel"])
        return (s,)

    def backward_step(self, t, dstates, states_prev, cache, out=None):
        (ds,) = dstates
        dz = ds * self.activation.grad(cache["h"][t])
        ds_prev = dz @ self.params["recurrent_kernel"].T
        return dz, dz, ds_prev, (None,)

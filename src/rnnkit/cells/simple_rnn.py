"""The Elman cell of the notes.

    s_t = f(x_t·U + s_{t-1}·W + b)

with f in {tanh, relu, sigmoid, linear}. The layer's output at step t is s_t
(the notes' o_t = g(V·s_t) is a Dense layer on top). Backward, for dL/ds_t:

    dz_t      = dL/ds_t ⊙ f'(z_t)        (f' from s_t: tanh 1 - s², relu [s > 0])
    dL/ds_t-1 = dz_t · Wᵀ                 (the factor that vanishes or explodes)
    dU += x_tᵀ·dz_t,  dW += s_{t-1}ᵀ·dz_t,  db += Σ dz_t   (the layer sums over t)
"""

from __future__ import annotations

import numpy as np

from .base import DH_BUFFERS, Cell


class SimpleRNNCell(Cell):
    n_gates = 1
    state_names = ("h",)
    same_input_and_recurrent_grads = True
    output_in_cache = True  # cache["h"] (s_t, read by backward) is the loop's state buffer

    def allocate(self, steps, batch, dtype):
        return {}  # the caller provides cache["h"]

    def forward_step(self, t, xw_t, states, h_rec, cache, out=None):
        s = cache["h"][t] if out is None else out[0]  # the same memory in the time loop
        self.recurrent_product(h_rec, s)
        s += xw_t  # z_t, then s_t = f(z_t) in place
        return (self.activation.inplace(s),)

    def _default_activations(self):
        return self.activation.name == "tanh"

    def row_step(self, x_t, states, out):
        plan = self._row_plan(x_t.dtype)
        if plan is None:
            return False
        kernels, p = plan[0], self.params
        b = self._input_bias_or_zeros()
        kernels.simple_rnn_row_step(x_t, p["kernel"], b, states[0], p["recurrent_kernel"], out[0])
        return True

    def backward_step(self, t, dstates, states_prev, cache, out=None):
        (ds,) = dstates
        h = cache["h"][t]
        if out is None:
            dz = self.activation.grad(h)
            dz *= ds
            return dz, dz, self.recurrent_product_t(dz, np.empty(ds.shape, dz.dtype)), (None,)
        dz = self.activation.grad_into(h, out[0])
        dz *= ds
        # dh_{t-1} in one of two reused buffers (Cell.scratch), alternating between steps
        dh = self.scratch(DH_BUFFERS[t & 1], ds.shape, dz.dtype)
        dh_rec = self.recurrent_product_t(dz, dh)
        return dz, dz, dh_rec, (None,)

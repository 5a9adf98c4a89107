"""The LSTM cell of the notes (seeds/003), gates fused into one weight matrix.

With [h_{t-1}, x_t] split into the input part (kernel U) and the recurrent part
(recurrent kernel W), and the gates in Keras's order i, f, C~, o:

    i_t  = σ(x_t·U_i + h_{t-1}·W_i + b_i)          input gate
    f_t  = σ(x_t·U_f + h_{t-1}·W_f + b_f)          forget gate
    C~_t = tanh(x_t·U_c + h_{t-1}·W_c + b_c)       candidate cell state
    o_t  = σ(x_t·U_o + h_{t-1}·W_o + b_o)          output gate
    C_t  = f_t ⊙ C_{t-1} + i_t ⊙ C~_t
    h_t  = o_t ⊙ tanh(C_t)

Backward, for dL/dh_t and dL/dC_t arriving from later steps, line by line:

    do     = dh ⊙ tanh(C_t)
    dC     = dC_t + dh ⊙ o_t ⊙ tanh'(C_t)
    df     = dC ⊙ C_{t-1};   di = dC ⊙ C~_t;   dC~ = dC ⊙ i_t
    dC_t-1 = dC ⊙ f_t
    dz     = [di ⊙ σ'(i), df ⊙ σ'(f), dC~ ⊙ tanh'(C~), do ⊙ σ'(o)]
    dh_t-1 = dz · Wᵀ
"""

from __future__ import annotations

import numpy as np

from .. import activations
from .base import DC_BUFFERS, DH_BUFFERS, Cell


class LSTMCell(Cell):
    n_gates = 4
    state_names = ("h", "c")
    same_input_and_recurrent_grads = True
    gates_in_projection = True

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        unit_forget_bias: bool = True,
        **kwargs,
    ):
        super().__init__(units, activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    def init_bias(self, dtype, rng):
        bias = super().init_bias(dtype, rng)
        if self.unit_forget_bias:  # Jozefowicz et al. 2015; Keras's default
            h = self.units
            bias[h : 2 * h] = 1.0
        return bias

    def allocate(self, steps, batch, dtype):
        h = self.units
        # "gates" (i, f, C~, o after σ / tanh) is the caller's input-projection buffer
        return {"act_c": np.empty((steps, batch, h), dtype)}  # tanh(C_t)

    def forward_step(self, t, xw_t, states, h_rec, cache, out=None):
        h_prev, c_prev = states
        u = self.units
        z = cache["gates"][t]  # the buffer of xw_t itself (gates_in_projection)
        rec = self.recurrent_product(h_rec, self.scratch("h·W", z.shape, z.dtype))
        kernels = self.fused_kernels(z.dtype)
        if kernels is not None:  # the lines below as one compiled loop (cells.fused)
            h, c = (np.empty_like(c_prev), np.empty_like(c_prev)) if out is None else out
            kernels.lstm_forward(z, rec, c_prev, c, cache["act_c"][t], h)
            return h, c
        np.add(xw_t, rec, out=z)  # z = x_t·U + h_{t-1}·W + b, over x_t·U + b
        sig, act = self.recurrent_activation, self.activation
        affine = self._gate_tanh_form(z.dtype)
        if affine is not None:  # all four gates in four passes: c·tanh(a·z) + b
            a, c, b = affine
            z *= a
            np.tanh(z, out=z)
            z *= c
            z += b
        else:
            sig.inplace(z[:, : 2 * u])  # i_t, f_t
            act.inplace(z[:, 2 * u : 3 * u])  # C~_t
            sig.inplace(z[:, 3 * u :])  # o_t
        i, f, c_tilde, o = z[:, :u], z[:, u : 2 * u], z[:, 2 * u : 3 * u], z[:, 3 * u :]
        h, c = (None, None) if out is None else out
        c = np.multiply(f, c_prev, out=c)
        c += np.multiply(i, c_tilde, out=self.scratch("i*c~", i.shape, i.dtype))
        act_c = act.into(c, cache["act_c"][t])  # tanh(C_t)
        h = np.multiply(o, act_c, out=h)
        return h, c

    def row_step(self, x_t, states, out):
        plan = self._row_plan(x_t.dtype)
        if plan is None:
            return False
        kernels, (xw, rec, act_c), p = plan[0], plan[1], self.params
        (h_prev, c_prev), (h, c) = states, out
        b = self._input_bias_or_zeros()
        w = p["recurrent_kernel"]
        kernels.lstm_row_step(x_t, p["kernel"], b, h_prev, c_prev, w, xw, rec, act_c, c, h)
        return True

    def _gate_tanh_form(self, dtype):
        """Per-column (a, c, b) such that the gate activations of z = [i, f, C~, o] are
        c·tanh(a·z) + b, when both activations have such a form (sigmoid and tanh,
        the defaults); else None. Cached: it depends only on the cell and the dtype."""
        cached = getattr(self, "_tanh_form_cache", None)
        if cached is not None and cached[0] == (dtype, self.units):
            return cached[1]
        forms = [self.recurrent_activation.tanh_form] * 2 + [self.activation.tanh_form]
        forms.append(self.recurrent_activation.tanh_form)
        value = None
        if all(f is not None for f in forms):
            u = self.units
            value = tuple(
                np.concatenate([np.full(u, f[k], dtype) for f in forms]) for k in range(3)
            )
        self._tanh_form_cache = ((dtype, self.units), value)
        return value

    def backward_step(self, t, dstates, states_prev, cache, out=None):
        dh, dc_next = dstates
        c_prev = states_prev[1]
        gates, act_c = cache["gates"][t], cache["act_c"][t]
        sig, act = self.recurrent_activation, self.activation
        if out is not None and sig.name == "sigmoid" and act.name == "tanh":
            return self._backward_step_default(t, dh, dc_next, c_prev, gates, act_c, out[0])

        u = self.units
        i, f, c_tilde, o = (
            gates[:, :u],
            gates[:, u : 2 * u],
            gates[:, 2 * u : 3 * u],
            gates[:, 3 * u :],
        )
        dc = act.grad(act_c)  # dC = dC_t + dh ⊙ o_t ⊙ tanh'(C_t)
        dc *= dh
        dc *= o
        if dc_next is not None:
            dc += dc_next
        dz = np.empty_like(gates)  # (not out[0] itself: that may hold the gates read here)
        np.multiply(dc, c_tilde, out=dz[:, :u])  # di
        np.multiply(dc, c_prev, out=dz[:, u : 2 * u])  # df
        np.multiply(dc, i, out=dz[:, 2 * u : 3 * u])  # dC~
        np.multiply(dh, act_c, out=dz[:, 3 * u :])  # do = dh ⊙ tanh(C_t)
        dz[:, : 2 * u] *= sig.grad(gates[:, : 2 * u])  # di ⊙ σ'(i), df ⊙ σ'(f)
        dz[:, 2 * u : 3 * u] *= act.grad(c_tilde)  # dC~ ⊙ tanh'(C~)
        dz[:, 3 * u :] *= sig.grad(o)  # do ⊙ σ'(o)
        dc *= f  # dC_t-1
        if out is not None:
            np.copyto(out[0], dz)
            dz = out[0]
        dh_rec = self.recurrent_product_t(dz, np.empty(dc.shape, dz.dtype))
        return dz, dz, dh_rec, (None, dc)

    def _backward_step_default(self, t, dh, dc_next, c_prev, gates, act_c, dz):
        """backward_step for σ gates and tanh (the defaults), the same lines with the
        derivatives written from the outputs (σ' = y(1 - y), tanh' = 1 - y²) into one
        reused (B, 4H) buffer and one multiplication of dz; dC and dh_{t-1} go into
        reused buffers that alternate between steps (this step reads the other). With
        the numba accelerator, the element-wise lines are one compiled loop. ``dz`` may
        be the gates' own buffer (the time loop's): the gates are read before it is
        written."""
        shape, dtype = act_c.shape, act_c.dtype
        dc = self.scratch(DC_BUFFERS[t & 1], shape, dtype)  # dL/dC_{t-1} on return
        kernels = self.fused_kernels(dtype)
        if kernels is not None:  # the lines below as one compiled loop (cells.fused)
            if dc_next is None:
                dc_next = self.scratch("zeros", shape, dtype)
                dc_next.fill(0.0)
            if not np.may_share_memory(dz, gates):  # the kernel works in place
                np.copyto(dz, gates)
            kernels.lstm_backward(dh, dc_next, c_prev, dz, act_c, dc)
        else:
            self._backward_numpy(dh, dc_next, c_prev, gates, act_c, dz, dc)
        dh_rec = self.recurrent_product_t(dz, self.scratch(DH_BUFFERS[t & 1], shape, dtype))
        return dz, dz, dh_rec, (None, dc)

    def _backward_numpy(self, dh, dc_next, c_prev, gates, act_c, dz, dc):
        """The reference element-wise lines of the default backward step: fills dz and
        dc (dL/dC_{t-1}). Everything is formed in a scratch buffer while the gates are
        intact, then copied into dz (which may be the gates' buffer)."""
        u = self.units
        i, f, c_tilde, o = (
            gates[:, :u],
            gates[:, u : 2 * u],
            gates[:, 2 * u : 3 * u],
            gates[:, 3 * u :],
        )
        deriv = self.scratch("deriv", gates.shape, gates.dtype)
        np.subtract(1.0, gates, out=deriv)
        deriv *= gates  # σ'(i), σ'(f), σ'(o) (and C~'s block, overwritten next)
        d_i, d_f, d_cand, d_o = (deriv[:, k * u : (k + 1) * u] for k in range(4))
        np.multiply(c_tilde, c_tilde, out=d_cand)
        np.subtract(1.0, d_cand, out=d_cand)  # tanh'(C~)
        d_i *= c_tilde  # di/dC = C~ ⊙ σ'(i)
        d_f *= c_prev  # df/dC = C_{t-1} ⊙ σ'(f)
        d_cand *= i  # dC~/dC = i ⊙ tanh'(C~)
        d_o *= act_c  # do/dh = tanh(C_t) ⊙ σ'(o)
        d_o *= dh

        np.multiply(act_c, act_c, out=dc)  # dC = dC_t + dh ⊙ o_t ⊙ tanh'(C_t)
        np.subtract(1.0, dc, out=dc)
        dc *= dh
        dc *= o
        if dc_next is not None:
            dc += dc_next
        deriv.reshape(-1, 4, u)[:, :3] *= dc[:, None, :]  # [di, df, dC~] ⊙ their σ'/tanh'
        dc *= f  # dC_t-1
        np.copyto(dz, deriv)  # dz = [di ⊙ σ'(i), df ⊙ σ'(f), dC~ ⊙ tanh'(C~), do ⊙ σ'(o)]

    def get_config(self):
        config = super().get_config()
        config.update(
            recurrent_activation=self.recurrent_activation.name,
            unit_forget_bias=self.unit_forget_bias,
        )
        return config

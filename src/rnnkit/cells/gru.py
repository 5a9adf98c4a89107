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
from .base import DH_BUFFERS, DIRECT_BUFFERS, Cell


class GRUCell(Cell):
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
        u = self.units
        # "gates" (z, r, h~ after σ / tanh) is the caller's input-projection buffer
        return {"rec_h": np.empty((steps, batch, u), dtype)}  # h_{t-1}·W_h + b'_h

    def forward_step(self, t, xw_t, states, h_rec, cache, out=None):
        (h_prev,) = states
        u = self.units
        w = self.params["recurrent_kernel"]
        rec = self.scratch("rec", (h_rec.shape[0], w.shape[1]), w.dtype)
        rec = self.recurrent_product(h_rec, rec)
        kernels = self.fused_kernels(w.dtype)
        if kernels is not None:  # the lines below as one compiled loop (cells.fused)
            h = np.empty_like(h_prev) if out is None else out[0]
            g = cache["gates"][t]  # the buffer of xw_t itself (gates_in_projection)
            kernels.gru_forward(g, rec, self._rec_bias(), h_prev, cache["rec_h"][t], h)
            return (h,)
        if self.use_bias:
            rec += self.params["bias"][1]
        g = cache["gates"][t]  # holds xw_t (the same buffer): overwritten with the gates
        sig, act = self.recurrent_activation, self.activation
        np.add(xw_t[:, : 2 * u], rec[:, : 2 * u], out=g[:, : 2 * u])
        sig.inplace(g[:, : 2 * u])  # z_t, r_t
        z, r, h_tilde = g[:, :u], g[:, u : 2 * u], g[:, 2 * u :]
        rec_h = rec[:, 2 * u :]
        cache["rec_h"][t] = rec_h
        if not np.may_share_memory(g, xw_t):  # (called with a separate gates buffer)
            h_tilde[...] = xw_t[:, 2 * u :]
        rec_h *= r
        h_tilde += rec_h  # x_t·U_h + b_h + r_t ⊙ (h_{t-1}·W_h + b'_h)
        act.inplace(h_tilde)  # h~_t
        h = np.subtract(h_prev, h_tilde, out=None if out is None else out[0])
        # h_t = h~_t + z_t ⊙ (h_{t-1} - h~_t)
        h *= z
        h += h_tilde
        return (h,)

    def _rec_bias(self):
        """b' (3H,), zeros without a bias (for the fused kernel)."""
        if self.use_bias:
            return self.params["bias"][1]
        w = self.params["recurrent_kernel"]
        return self._zeros(w.shape[1], w.dtype)

    def row_step(self, x_t, states, out):
        plan = self._row_plan(x_t.dtype)
        if plan is None:
            return False
        kernels, (xw, rec, rec_h), p = plan[0], plan[1], self.params
        b, b_rec = self._input_bias_or_zeros(), self._rec_bias()
        w = p["recurrent_kernel"]
        kernels.gru_row_step(x_t, p["kernel"], b, states[0], w, b_rec, xw, rec, rec_h, out[0])
        return True

    def recurrent_grad_buffer(self, cache):
        return cache["rec_h"]  # step t reads rec_h[t] before writing its dz_rec block there

    def recurrent_grad_columns(self):
        return slice(2 * self.units, 3 * self.units)  # dz_rec = dxw but for the h~ block

    def backward_step(self, t, dstates, states_prev, cache, out=None):
        (dh,) = dstates
        (h_prev,) = states_prev
        u = self.units
        g, rec_h = cache["gates"][t], cache["rec_h"][t]
        z, r, h_tilde = g[:, :u], g[:, u : 2 * u], g[:, 2 * u :]
        sig, act = self.recurrent_activation, self.activation

        # with ``out`` (the time loop), temporaries live in reused buffers (Cell.scratch);
        # dh_{t-1} and the direct gradient alternate between two, this step reading the other
        reuse = out is not None
        dtype, shape = g.dtype, h_tilde.shape

        def buf(name, shp):
            return self.scratch(name, shp, dtype) if reuse else np.empty(shp, dtype)

        kernels = self.fused_kernels(dtype)
        if kernels is not None:  # the lines below as one compiled loop (cells.fused)
            dxw = np.empty_like(g) if out is None else out[0]
            if not np.may_share_memory(dxw, g):  # the kernel works in place
                np.copyto(dxw, g)
            dzrec = buf("dzrec", g.shape)
            direct = buf(DIRECT_BUFFERS[t & 1], shape)
            kernels.gru_backward(dh, h_prev, dxw, rec_h, dzrec, direct)
            dh_rec = self.recurrent_product_t(dzrec, buf(DH_BUFFERS[t & 1], shape))
            if out is not None:
                np.copyto(out[1], dzrec[:, 2 * u :])
                dzrec = out[1]
            return dxw, dzrec, dh_rec, (direct,)
        # formed in a scratch buffer while the gates are intact (out[0] may hold them)
        dxw = buf("dxw", g.shape)
        dz, dr, da_h = dxw[:, :u], dxw[:, u : 2 * u], dxw[:, 2 * u :]
        np.subtract(h_prev, h_tilde, out=dz)
        dz *= dh  # dz = dh ⊙ (h_{t-1} - h~_t)
        np.subtract(1.0, z, out=da_h)
        da_h *= dh
        da_h *= act.grad_into(h_tilde, buf("dact", shape))  # ⊙ tanh'(h~_t): da_h
        np.multiply(da_h, rec_h, out=dr)  # dr = da_h ⊙ (h_{t-1}·W_h + b'_h)
        gates_zr = g[:, : 2 * u]
        dxw[:, : 2 * u] *= sig.grad_into(gates_zr, buf("dsig", gates_zr.shape))  # ⊙ σ'
        dzrec = buf("dzrec", g.shape)  # this step's own; the loop keeps only its h~ block
        dzrec[:, : 2 * u] = dxw[:, : 2 * u]
        np.multiply(da_h, r, out=dzrec[:, 2 * u :])
        dh_rec = self.recurrent_product_t(dzrec, buf(DH_BUFFERS[t & 1], shape))
        direct = np.multiply(dh, z, out=buf(DIRECT_BUFFERS[t & 1], shape))
        if out is not None:
            np.copyto(out[0], dxw)
            np.copyto(out[1], dzrec[:, 2 * u :])
            dxw, dzrec = out
        return dxw, dzrec, dh_rec, (direct,)

    def weight_grads(self, x_flat, dxw_flat, hrec_flat, dzrec_flat):
        u = self.units
        self.grad_product("kernel", x_flat.T, dxw_flat)
        hrec_t = hrec_flat.T
        dw = self.grad_buffer("recurrent_kernel")
        db = self.grad_buffer("bias") if self.use_bias else None
        if dzrec_flat.shape[1] == u:  # only the h~ block: the rest is dxw's
            np.matmul(hrec_t, dxw_flat[:, : 2 * u], out=dw[:, : 2 * u])
            np.matmul(hrec_t, dzrec_flat, out=dw[:, 2 * u :])
            if db is not None:
                np.sum(dxw_flat, axis=0, out=db[0])
                db[1, : 2 * u] = db[0, : 2 * u]
                np.sum(dzrec_flat, axis=0, out=db[1, 2 * u :])
            return
        np.matmul(hrec_t, dzrec_flat, out=dw)
        if db is not None:
            np.sum(dxw_flat, axis=0, out=db[0])
            np.sum(dzrec_flat, axis=0, out=db[1])

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = self.recurrent_activation.name
        return config

"""The GRU cell in Keras's two formulations, chosen by ``reset_after``.

Gates in Keras's order z (update), r (reset), h~ (candidate); the two differ only in
where the reset gate meets the candidate's recurrent term.

``reset_after=True`` (Keras's default; PyTorch's and cuDNN's): the recurrent
projection carries its own bias b', and r multiplies it after the product:

    z_t  = σ(x_t·U_z + b_z + h_{t-1}·W_z + b'_z)
    r_t  = σ(x_t·U_r + b_r + h_{t-1}·W_r + b'_r)
    h~_t = tanh(x_t·U_h + b_h + r_t ⊙ (h_{t-1}·W_h + b'_h))

Bias shape (2, 3·H): row 0 is b (input), row 1 is b' (recurrent), as Keras stores it.

``reset_after=False`` (Keras's older formulation, ONNX's ``linear_before_reset=0``):
one bias b, and r multiplies h_{t-1} before the product:

    z_t  = σ(x_t·U_z + b_z + h_{t-1}·W_z)
    r_t  = σ(x_t·U_r + b_r + h_{t-1}·W_r)
    h~_t = tanh(x_t·U_h + b_h + (r_t ⊙ h_{t-1})·W_h)

Bias shape (3·H,). Both then mix:

    h_t  = z_t ⊙ h_{t-1} + (1 - z_t) ⊙ h~_t

Backward, for dL/dh_t:

    dz_t   = dh ⊙ (h_{t-1} - h~_t);   dh~ = dh ⊙ (1 - z_t);   dh_t-1 (direct) = dh ⊙ z_t
    da_h   = dh~ ⊙ tanh'(h~_t)                      (pre-activation of h~)
    dz_in  = [dz ⊙ σ'(z), dr ⊙ σ'(r), da_h]         (gradient of the input projection)

reset_after=True:

    dr_t   = da_h ⊙ (h_{t-1}·W_h + b'_h)
    dz_rec = [dz ⊙ σ'(z), dr ⊙ σ'(r), da_h ⊙ r_t]   (gradient of h_{t-1}·W + b')
    dh_t-1 += dz_rec · Wᵀ
    dW     = Σ_t h_{t-1}ᵀ·dz_rec

reset_after=False, with d(r⊙h) = dL/d(r_t ⊙ h_{t-1}):

    d(r⊙h) = da_h · W_hᵀ
    dr_t   = d(r⊙h) ⊙ h_{t-1}
    dh_t-1 += dz_in[z, r] · W[:, z, r]ᵀ + d(r⊙h) ⊙ r_t
    dW     = Σ_t [h_{t-1}ᵀ·dz_in[z, r],  (r_t ⊙ h_{t-1})ᵀ·da_h]

Here h_{t-1} is the previous output as the recurrent products see it (after
recurrent dropout), and dh_t-1 (direct) reaches the undropped state.
"""

from __future__ import annotations

import numpy as np

from .. import activations, backend
from .base import Cell


class GRUCell(Cell):
    """One step of the GRU (the module's equations), gates z, r, h~ fused in
    U (I, 3·H) and W (H, 3·H); ``rnnkit.layers.GRU`` unrolls it. One state, ``h``.

    Args:
        units: H, a positive int.
        activation: for the candidate h~, a name or function
            (:mod:`rnnkit.activations`). Default ``"tanh"``.
        recurrent_activation: σ, for the gates z and r. Default ``"sigmoid"``.
        reset_after: True for the cuDNN formulation, with a (2, 3·H) bias (input and
            recurrent rows); False for Keras's older one, the reset gate applied to
            h_{t-1} before the candidate's recurrent product, with a (3·H,) bias (the
            compiled loops run only True; False runs the NumPy steps). Default True.
        **kwargs: ``use_bias``, ``kernel_initializer``, ``recurrent_initializer``,
            ``bias_initializer`` of :class:`Cell`.

    Raises:
        ValueError: ``units`` is not a positive int.
        TypeError: ``reset_after`` is not a bool.

    Example:
        >>> cell = GRUCell(3)
        >>> cell.build(2, np.float32, np.random.default_rng(0))
        >>> cell.params["kernel"].shape, cell.params["bias"].shape, cell.state_names
        ((2, 9), (2, 9), ('h',))
        >>> cell = GRUCell(3, reset_after=False)
        >>> cell.build(2, np.float32, np.random.default_rng(0))
        >>> cell.params["bias"].shape
        (9,)
    """

    n_gates = 3
    state_names = ("h",)
    gates_in_projection = True

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        reset_after: bool = True,
        **kwargs,
    ):
        super().__init__(units, activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        if not isinstance(reset_after, (bool, np.bool_)):
            raise TypeError(
                f"Received an invalid value for argument reset_after, expected a bool, "
                f"got {reset_after!r}."
            )
        self.reset_after = bool(reset_after)

    def bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def input_bias(self):
        return self.params["bias"][0] if self.reset_after else self.params["bias"]

    def allocate(self, steps, batch, dtype):
        # "gates" (z, r, h~) is the caller's input-projection buffer
        if self.reset_after:
            # h_{t-1}·W_h + b'_h, for dr
            return {"rec_h": np.empty((steps, batch, self.units), dtype)}
        # h_{t-1} as the products saw it (after recurrent dropout), for dr and dW_h
        return {"h_rec": np.empty((steps, batch, self.units), dtype)}

    def forward_step(self, t, xw_t, states, h_rec, cache, out=None):
        (h_prev,) = states
        u, sig, act = self.units, self.recurrent_activation, self.activation
        w = self.params["recurrent_kernel"]
        if self.reset_after:
            rec = h_rec @ w
            if self.use_bias:
                rec = rec + self.params["bias"][1]
        else:
            rec = h_rec @ w[:, : 2 * u]
        z = sig(xw_t[:, :u] + rec[:, :u])
        r = sig(xw_t[:, u : 2 * u] + rec[:, u : 2 * u])
        if self.reset_after:
            rec_h = rec[:, 2 * u :]
            h_tilde = act(xw_t[:, 2 * u :] + r * rec_h)
            cache["rec_h"][t] = rec_h
        else:
            h_tilde = act(xw_t[:, 2 * u :] + (r * h_rec) @ w[:, 2 * u :])
            cache["h_rec"][t] = h_rec
        h = z * h_prev + (1 - z) * h_tilde
        cache["gates"][t] = np.concatenate([z, r, h_tilde], axis=1)  # over xw_t, read
        return (h,)

    def backward_step(self, t, dstates, states_prev, cache, out=None):
        """The step's gradients (:meth:`Cell.backward_step`). With ``reset_after=False``
        the h~ block of the returned dz_rec holds r_t ⊙ h_{t-1}, not a gradient: the
        candidate's recurrent product is (r ⊙ h)·W_h, so dW_h = Σ (r ⊙ h)ᵀ·da_h is no
        product with h_{t-1}ᵀ, and :meth:`weight_grads` multiplies these rows (which
        the time loop keeps, masks and packing included) by da_h, dxw's h~ block."""
        (dh,) = dstates
        (h_prev,) = states_prev
        u, sig, act = self.units, self.recurrent_activation, self.activation
        w = self.params["recurrent_kernel"]
        g = cache["gates"][t]
        z, r, h_tilde = g[:, :u], g[:, u : 2 * u], g[:, 2 * u :]
        dz = dh * (h_prev - h_tilde)
        dh_tilde = dh * (1 - z)
        da_h = dh_tilde * act.grad(h_tilde)
        if self.reset_after:
            dr = da_h * cache["rec_h"][t]
        else:
            h_rec = cache["h_rec"][t]
            d_rh = da_h @ w[:, 2 * u :].T
            dr = d_rh * h_rec
        dz_in = np.concatenate([dz * sig.grad(z), dr * sig.grad(r), da_h], axis=1)
        if self.reset_after:
            dz_rec = np.concatenate([dz_in[:, : 2 * u], da_h * r], axis=1)
            dh_rec = dz_rec @ w.T
        else:
            dz_rec = np.concatenate([dz_in[:, : 2 * u], r * h_rec], axis=1)
            dh_rec = dz_in[:, : 2 * u] @ w[:, : 2 * u].T + d_rh * r
        return dz_in, dz_rec, dh_rec, (dh * z,)

    def recurrent_grad_buffer(self, cache):
        # step t reads rec_h[t] (h_rec[t]) before its dz_rec block goes there
        return cache["rec_h"] if self.reset_after else cache["h_rec"]

    def recurrent_grad_columns(self):
        return slice(2 * self.units, 3 * self.units)  # dz_rec = dxw but for the h~ block

    def weight_grads(self, x_flat, dxw_flat, hrec_flat, dzrec_flat):
        """As :meth:`Cell.weight_grads`, with ``dzrec_flat`` the h~ block of dz_rec
        (dz_rec's z and r blocks are dxw's): dW and db' by blocks. With
        ``reset_after=False`` that block holds r_t ⊙ h_{t-1} (:meth:`backward_step`),
        and dW_h = Σ (r ⊙ h)ᵀ·da_h."""
        u = self.units
        self.grad_product("kernel", x_flat.T, dxw_flat)
        hrec_t = hrec_flat.T
        dw = self.grad_buffer("recurrent_kernel")
        backend.matmul(hrec_t, dxw_flat[:, : 2 * u], dw[:, : 2 * u])
        if not self.reset_after:
            backend.matmul(dzrec_flat.T, dxw_flat[:, 2 * u :], dw[:, 2 * u :])
            if self.use_bias:
                np.sum(dxw_flat, axis=0, out=self.grad_buffer("bias"))
            return
        backend.matmul(hrec_t, dzrec_flat, dw[:, 2 * u :])
        if self.use_bias:
            db = self.grad_buffer("bias")
            np.sum(dxw_flat, axis=0, out=db[0])
            db[1, : 2 * u] = db[0, : 2 * u]
            np.sum(dzrec_flat, axis=0, out=db[1, 2 * u :])

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = self.recurrent_activation.name
        if not self.reset_after:  # (a reset_after=True config stays as it always was)
            config["reset_after"] = False
        return config

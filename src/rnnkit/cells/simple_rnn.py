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
    """One step of the Elman RNN, s_t = f(x_t·U + s_{t-1}·W + b) (the module's
    equations); ``rnnkit.layers.SimpleRNN`` unrolls it. One gate, one state ``h``.

    Args:
        units: H, a positive int.
        activation: f, a name or function (:mod:`rnnkit.activations`). Default
            ``"tanh"``.
        use_bias: whether the cell has a bias b (H,). Default True.
        kernel_initializer: U's initializer. Default ``"glorot_uniform"``.
        recurrent_initializer: W's initializer. Default ``"orthogonal"``.
        bias_initializer: b's initializer. Default ``"zeros"``.

    Raises:
        ValueError: ``units`` is not a positive int.

    Example:
        >>> import numpy as np
        >>> cell = SimpleRNNCell(3)
        >>> cell.build(2, np.float32, np.random.default_rng(0))
        >>> xw = cell.project_inputs(np.ones((5, 4, 2), np.float32))  # all steps
        >>> h0 = np.zeros((4, 3), np.float32)
        >>> (h1,) = cell.forward_step(0, xw[0], (h0,), h0, {})
        >>> xw.shape, h1.shape, bool(np.allclose(h1, np.tanh(xw[0])))
        ((5, 4, 3), (4, 3), True)
    """

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

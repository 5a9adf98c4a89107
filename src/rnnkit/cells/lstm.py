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
from .base import Cell


class LSTMCell(Cell):
    """One step of the LSTM (the module's equations), gates i, f, C~, o fused in
    U (I, 4·H), W (H, 4·H) and b (4·H,); ``rnnkit.layers.LSTM`` unrolls it. Two
    states, ``h`` and ``c``.

    Args:
        units: H, a positive int.
        activation: for C~ and tanh(C_t), a name or function
            (:mod:`rnnkit.activations`). Default ``"tanh"``.
        recurrent_activation: σ, for the gates i, f, o. Default ``"sigmoid"``.
        unit_forget_bias: set the forget gate's bias to 1 when the weights are built
            (Jozefowicz et al. 2015; Keras's default). Default True.
        **kwargs: ``use_bias``, ``kernel_initializer``, ``recurrent_initializer``,
            ``bias_initializer`` of :class:`Cell`.

    Raises:
        ValueError: ``units`` is not a positive int.

    Example:
        >>> cell = LSTMCell(3)
        >>> cell.build(2, np.float32, np.random.default_rng(0))
        >>> cell.params["kernel"].shape, cell.params["bias"].shape, cell.state_names
        ((2, 12), (12,), ('h', 'c'))
        >>> i, f, c, o = np.split(cell.params["bias"], 4)  # the gates' blocks
        >>> f
        array([1., 1., 1.], dtype=float32)
    """

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
        # "gates" (i, f, C~, o) is the caller's input-projection buffer
        return {"act_c": np.empty((steps, batch, self.units), dtype)}  # tanh(C_t)

    def forward_step(self, t, xw_t, states, h_rec, cache, out=None):
        h_prev, c_prev = states
        u, sig, act = self.units, self.recurrent_activation, self.activation
        z = xw_t + h_rec @ self.params["recurrent_kernel"]
        i = sig(z[:, :u])
        f = sig(z[:, u : 2 * u])
        c_tilde = act(z[:, 2 * u : 3 * u])
        o = sig(z[:, 3 * u :])
        c = f * c_prev + i * c_tilde
        act_c = act(c)
        h = o * act_c
        cache["gates"][t] = np.concatenate([i, f, c_tilde, o], axis=1)  # over xw_t, read
        cache["act_c"][t] = act_c
        return h, c

    def backward_step(self, t, dstates, states_prev, cache, out=None):
        dh, dc_next = dstates
        c_prev = states_prev[1]
        u, sig, act = self.units, self.recurrent_activation, self.activation
        gates, act_c = cache["gates"][t], cache["act_c"][t]
        i, f = gates[:, :u], gates[:, u : 2 * u]
        c_tilde, o = gates[:, 2 * u : 3 * u], gates[:, 3 * u :]
        do = dh * act_c
        dc = dh * o * act.grad(act_c)
        if dc_next is not None:
            dc = dc + dc_next
        df = dc * c_prev
        di = dc * c_tilde
        dc_tilde = dc * i
        dc_prev = dc * f
        dz = np.concatenate(
            [di * sig.grad(i), df * sig.grad(f), dc_tilde * act.grad(c_tilde), do * sig.grad(o)],
            axis=1,
        )
        dh_prev = dz @ self.params["recurrent_kernel"].T
        return dz, dz, dh_prev, (None, dc_prev)

    def get_config(self):
        config = super().get_config()
        config.update(
            recurrent_activation=self.recurrent_activation.name,
            unit_forget_bias=self.unit_forget_bias,
        )
        return config

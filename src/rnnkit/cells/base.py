"""The contract every recurrent cell keeps with the time loop.

A cell is the math of ONE time step, forward and backward. It owns its weights
(``kernel`` U, ``recurrent_kernel`` W, ``bias`` b, in Keras's layouts) and nothing
about time: the recurrent layer (``rnnkit.layers.recurrent``) unrolls it, applies
masks and dropout, and forms the weight gradients with one matrix product over all
steps from what the cell's backward step returns.

Shapes: B batch, I input features, H units, G gates (1 SimpleRNN, 4 LSTM, 3 GRU).
The time loop works time-major, so one step's slices are contiguous. These steps
are the reference: plain NumPy under the equations. The fast path, the whole time loop
compiled, is ``rnnkit.kernels``, held to these steps by the tests.
"""

from __future__ import annotations

import numpy as np

from .. import activations, backend, initializers


class Cell:
    """Base class of the cells. Subclasses set ``n_gates`` and ``state_names`` and
    implement ``forward_step`` and ``backward_step``.

    A cell has no weights until :meth:`build`; its ``params`` and ``grads`` are then
    ``kernel`` U (I, G·H), ``recurrent_kernel`` W (H, G·H) and, with ``use_bias``,
    ``bias`` b.

    Args:
        units: H, a positive int.
        activation: name or function of the output nonlinearity
            (:mod:`rnnkit.activations`). Default ``"tanh"``.
        use_bias: whether the cell has a bias. Default True.
        kernel_initializer, recurrent_initializer, bias_initializer: names or
            initializers (:mod:`rnnkit.initializers`) for U, W and b. Defaults
            ``"glorot_uniform"``, ``"orthogonal"`` and ``"zeros"``.

    Raises:
        ValueError: ``units`` is not a positive int (a bool is refused).

    Example:
        >>> from rnnkit.cells import SimpleRNNCell
        >>> cell = SimpleRNNCell(3)
        >>> cell.build(2, np.float32, np.random.default_rng(0))
        >>> cell.params["kernel"].shape, cell.params["recurrent_kernel"].shape
        ((2, 3), (3, 3))
        >>> cell.state_size, cell.state_names
        (1, ('h',))
    """

    n_gates = 1
    state_names: tuple[str, ...] = ("h",)
    default_activation = "tanh"
    # True when dL/d(input projection) and dL/d(recurrent pre-activation) are the same
    # array (SimpleRNN, LSTM): the time loop then keeps one buffer for both
    same_input_and_recurrent_grads = False
    # True when the cell keeps step t's gate values in the input projection's buffer:
    # on entry to forward_step, cache["gates"][t] IS xw_t (x_t·U + b), which the step
    # overwrites with the gates (dead once used); the caller puts that buffer in the
    # cache, and allocate() leaves "gates" out. Saves one (T, B, G·H) buffer.
    gates_in_projection = False
    # True when the cell caches h_t under cache["h"] and the caller may make that the
    # loop's own state buffer (S[0][1:]): allocate() leaves "h" out (SimpleRNN)
    output_in_cache = False

    def __init__(
        self,
        units: int,
        activation="tanh",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
    ):
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(
                f"Received an invalid value for argument units, expected a positive "
                f"integer, got {units!r}."
            )
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.recurrent_initializer = initializers.get(
            recurrent_initializer, "recurrent_initializer"
        )
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    # ---- weights ----------------------------------------------------------------
    def bias_shape(self) -> tuple[int, ...]:
        return (self.n_gates * self.units,)

    def build(self, input_dim: int, dtype, rng: np.random.Generator) -> None:
        """Create U (input_dim, G·H), W (H, G·H) and b, and zero gradients of each.

        Args:
            input_dim: I, the number of input features per step.
            dtype: the weights' float dtype.
            rng: the ``numpy.random.Generator`` the initializers draw from.

        Example:
            >>> from rnnkit.cells import GRUCell
            >>> cell = GRUCell(2)
            >>> cell.build(3, np.float64, np.random.default_rng(0))
            >>> cell.params["kernel"].dtype, cell.grads["kernel"].shape
            (dtype('float64'), (3, 6))
        """
        gh = self.n_gates * self.units
        params = {
            "kernel": self.kernel_initializer((input_dim, gh), dtype, rng),
            "recurrent_kernel": self.recurrent_initializer((self.units, gh), dtype, rng),
        }
        if self.use_bias:
            params["bias"] = self.init_bias(dtype, rng)
        # on 64-byte boundaries, as BLAS multiplies by them fastest (backend.ALIGNMENT);
        # set_weights and the optimizers write into these arrays, so it stays so
        self.params = {k: backend.aligned_copy(v) for k, v in params.items()}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def init_bias(self, dtype, rng) -> np.ndarray:
        return self.bias_initializer(self.bias_shape(), dtype, rng)

    @property
    def state_size(self) -> int:
        return len(self.state_names)

    # ---- what the time loop calls ----------------------------------------------
    def project_inputs(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """x·U + b for all steps at once: (..., I) -> (..., G·H), as one matrix
        product over all leading axes; written into ``out`` when given (a C-contiguous
        array of the result's shape)."""
        kernel = self.params["kernel"]
        lead = x.shape[:-1]
        flat = x.reshape(-1, x.shape[-1])
        # np.dot for one input feature (the seeds' shape): NumPy's matmul does not pass a
        # product with an inner dimension of 1 to BLAS and takes 8x longer (525 against
        # 63 µs for (2450, 1)·(1, 200); bench/NOTES.md row 30)
        shape = (flat.shape[0], kernel.shape[1])
        if kernel.shape[0] == 1:
            xw = (
                np.dot(flat, kernel)
                if out is None
                else np.dot(flat, kernel, out=out.reshape(shape))
            )
        else:
            dtype = np.result_type(flat, kernel)
            xw = backend.matmul(
                flat, kernel, np.empty(shape, dtype) if out is None else out.reshape(shape)
            )
        if self.use_bias:
            xw += self.input_bias()
        return xw.reshape(lead + (kernel.shape[1],))

    def input_bias(self) -> np.ndarray:
        return self.params["bias"]

    def allocate(self, steps: int, batch: int, dtype) -> dict[str, np.ndarray]:
        """Preallocated per-step buffers the backward pass will read."""
        raise NotImplementedError

    def forward_step(self, t, xw_t, states, h_rec, cache, out=None):
        """One step. Args: t, the step's index into ``cache``; xw_t (B, G·H), the
        input projection; states, the previous states; h_rec (B, H), the previous
        output as the recurrent product sees it (after recurrent dropout); out, the
        time loop's arrays for the new states (a cell may ignore it).
        Returns the new states (h first)."""
        raise NotImplementedError

    def backward_step(self, t, dstates, states_prev, cache, out=None):
        """The step's gradients. Args: dstates, dL/d(new states) (None for a state
        no gradient reaches); states_prev; out, the time loop's buffers for dxw_t and
        dz_rec_t (a cell may ignore it: the loop copies what it returns; ``out[0]``
        may hold this step's gates, so a cell reads them before returning).
        Returns (dxw_t, dz_rec_t, dh_rec, dstates_prev): dL/d(input projection),
        dL/d(recurrent pre-activation, the thing multiplied by W), dL/dh_rec, and the
        gradients reaching the previous states directly (not through W; None for
        none)."""
        raise NotImplementedError

    def recurrent_grad_columns(self) -> slice:
        """The columns of the (B, G·H) gradients where dz_rec_t differs from dxw_t.
        The time loop keeps only those columns of dz_rec for the weight gradients (none
        when the two are the same array; GRU: the candidate's block). Default: all."""
        if self.same_input_and_recurrent_grads:
            return slice(0, 0)
        return slice(0, self.n_gates * self.units)

    def recurrent_grad_buffer(self, cache) -> np.ndarray | None:
        """A (T, B, width) buffer of the forward cache, read by step t's backward only,
        that the time loop may fill with the ``recurrent_grad_columns()`` of dz_rec
        (step t writing its slice after reading it); None: the loop allocates one."""
        return None

    def weight_grads(self, x_flat, dxw_flat, hrec_flat, dzrec_flat) -> None:
        """Fill ``self.grads`` with one matrix product over all steps:
        dU = Σ_t x_tᵀ·dxw_t, dW = Σ_t h_{t-1}ᵀ·dz_rec_t, db = Σ_t dxw_t. ``dzrec_flat``
        may hold only the ``recurrent_grad_columns()`` of dz_rec (the rest is dxw's)."""
        self.grad_product("kernel", x_flat.T, dxw_flat)
        self.grad_product("recurrent_kernel", hrec_flat.T, dzrec_flat)
        if self.use_bias:
            np.sum(dxw_flat, axis=0, out=self.grad_buffer("bias"))

    def grad_buffer(self, name: str) -> np.ndarray:
        """The array that receives ``name``'s gradient: the previous step's, reused when
        it still fits (a new one would coexist with the old at the step's memory peak,
        up to 2 x 650 x 2600 floats for the language-model shape)."""
        param = self.params[name]
        g = self.grads.get(name)
        if g is None or g.shape != param.shape or g.dtype != param.dtype:
            g = self.grads[name] = np.empty_like(param)
        elif not g.flags.c_contiguous or not g.flags.writeable:
            g = self.grads[name] = np.empty_like(param)
        return g

    def grad_product(self, name: str, a: np.ndarray, b: np.ndarray) -> None:
        """grads[name] = a·b, written into :meth:`grad_buffer`."""
        backend.matmul(a, b, self.grad_buffer(name))

    def get_config(self) -> dict:
        return {
            "units": self.units,
            "activation": self.activation.name,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }

"""The contract every recurrent cell keeps with the time loop.

A cell is the math of ONE time step, forward and backward. It owns its weights
(``kernel`` U, ``recurrent_kernel`` W, ``bias`` b, in Keras's layouts) and nothing
about time: the recurrent layer (``rnnkit.layers.recurrent``) unrolls it, applies
masks and dropout, and forms the weight gradients with one matrix product over all
steps from what the cell's backward step returns.

Shapes: B batch, I input features, H units, G gates (1 SimpleRNN, 4 LSTM, 3 GRU).
The time loop works time-major, so one step's slices are contiguous.
"""

from __future__ import annotations

import numpy as np

from .. import activations, backend, initializers
from . import fused

# Names of the scratch buffers that alternate between consecutive backward steps (step t
# writes one, step t - 1 reads it and writes the other): indexed by t & 1.
DH_BUFFERS = ("dh0", "dh1")
DC_BUFFERS = ("dc0", "dc1")
DIRECT_BUFFERS = ("direct0", "direct1")


class Cell:
    """Base class of the cells. Subclasses set ``n_gates`` and ``state_names`` and
    implement ``forward_step`` and ``backward_step``.

    Args:
        units: H, a positive int.
        activation: name of the output nonlinearity.
        use_bias: whether the cell has a bias.
        kernel_initializer, recurrent_initializer, bias_initializer: names or
            initializers for U, W and b.
    """

    n_gates = 1
    state_names: tuple[str, ...] = ("h",)
    default_activation = "tanh"
    # True when dL/d(input projection) and dL/d(recurrent pre-activation) are the same
    # array (SimpleRNN, LSTM): the time loop then keeps one buffer for both
    same_input_and_recurrent_grads = False
    _rec_kernel_t: np.ndarray | None = None  # Wᵀ, cached by begin_backward()
    # how this pass forms its per-step products with W (begin_forward/begin_backward)
    _fwd_product: tuple | None = None
    _bwd_product: object = None
    # True when the cell keeps step t's gate values in the input projection's buffer:
    # on entry to forward_step, cache["gates"][t] IS xw_t (x_t·U + b), which the step
    # overwrites with the gates (dead once used); the caller puts that buffer in the
    # cache, and allocate() leaves "gates" out. Saves one (T, B, G·H) buffer (LSTM).
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
        """Create U (input_dim, G·H), W (H, G·H) and b."""
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
        product = np.dot if kernel.shape[0] == 1 else np.matmul
        if out is None:
            xw = product(flat, kernel)
        else:
            xw = product(flat, kernel, out=out.reshape(flat.shape[0], kernel.shape[1]))
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
        output as the recurrent product sees it (after recurrent dropout); out,
        optionally one (B, H) array per state to write the new states into (the time
        loop's state buffers, saving a copy; a cell may ignore it).
        Returns the new states (h first)."""
        raise NotImplementedError

    def backward_step(self, t, dstates, states_prev, cache, out=None):
        """The step's gradients. Args: dstates, dL/d(new states); states_prev; out,
        optionally the arrays to write dxw_t (B, G·H) and the
        ``recurrent_grad_columns()`` of dz_rec_t into (one array twice when
        ``same_input_and_recurrent_grads``), so that the time loop's buffers are filled
        without a copy; a cell that writes into ``out`` returns those arrays. The time
        loop's ``out[0]`` is the buffer that held x_t·U + b in the forward pass — for a
        ``gates_in_projection`` cell, this step's gates ``cache["gates"][t]``: read
        them before writing.
        Returns (dxw_t, dz_rec_t, dh_rec, dstates_prev): dL/d(input projection),
        dL/d(recurrent pre-activation, the thing multiplied by W), dL/dh_rec, and the
        gradients reaching the previous states directly (not through W; None for
        none). The returned arrays are the step's own: the time loop may update them
        in place."""
        raise NotImplementedError

    def fused_kernels(self, dtype):
        """The accelerator's compiled kernels (``rnnkit.cells.fused``) for a step in
        ``dtype``, or None for the NumPy path: only for cells with their default
        activations (σ gates, tanh; tanh for SimpleRNN, which has kernels for
        :meth:`row_step` only). Cached per accelerator setting and dtype (a
        streaming step calls it every time)."""
        cached = self.__dict__.get("_fused_cache")
        if cached is not None and cached[0] is backend._accelerator and cached[1] is dtype:
            return cached[2]
        kernels = fused.for_dtype(dtype) if self._default_activations() else None
        self._fused_cache = (backend._accelerator, dtype, kernels)
        return kernels

    def _default_activations(self) -> bool:
        """Whether the cell has the activations the compiled kernels are written for."""
        rec = getattr(self, "recurrent_activation", None)
        return rec is not None and rec.name == "sigmoid" and self.activation.name == "tanh"

    def row_step(self, x_t, states, out) -> bool:
        """A streaming step of ONE row as a single compiled call: the accelerator's
        ``*_row_step`` kernel, the element-wise lines of :meth:`forward_step` with both
        products x_t·U and h_{t-1}·W inside. Writes the new states into ``out`` (one
        (1, H) array per state) and returns True; returns False and does nothing where
        no kernel applies (accelerator off, other activations or dtype, weights too
        large for it to pay: ``fused.row_step_worthwhile``), and the caller runs
        :meth:`forward_step`. ``x_t`` (1, I) and the states (1, H) are C-contiguous
        arrays of the weights' dtype."""
        return False

    def _row_plan(self, dtype):
        """``(kernels, scratch)`` for :meth:`row_step` in ``dtype``, or None where no
        kernel applies; cached per accelerator setting and dtype (a streaming step is a
        few µs: the checks and buffers are made once). ``scratch``: the cell's
        :meth:`_row_scratch` buffers."""
        cached = self.__dict__.get("_row_plan_cache")
        if cached is not None and cached[0] is backend._accelerator and cached[1] is dtype:
            return cached[2]
        kernels, p = self.fused_kernels(dtype), self.params
        plan = None
        if kernels is not None and fused.row_step_worthwhile(p["kernel"], p["recurrent_kernel"]):
            plan = (kernels, self._row_scratch(dtype))
        self._row_plan_cache = (backend._accelerator, dtype, plan)
        return plan

    def _row_scratch(self, dtype) -> tuple:
        """The scratch rows a cell's row-step kernel needs: none for one gate (SimpleRNN
        writes h_t straight); for the gated cells x_t·U + b and h_{t-1}·W (1, G·H) and
        one (1, H) row (LSTM: tanh(C_t); GRU: h_{t-1}·W_h + b'_h)."""
        if self.n_gates == 1:
            return ()
        g = self.n_gates * self.units
        return np.empty((1, g), dtype), np.empty((1, g), dtype), np.empty((1, self.units), dtype)

    def _zeros(self, n: int, dtype) -> np.ndarray:
        """A (n,) array of zeros, made once (a bias for the kernels without one)."""
        zeros = self.__dict__.get("_zero_vector")
        if zeros is None or zeros.shape != (n,) or zeros.dtype != dtype:
            zeros = self._zero_vector = np.zeros(n, dtype)
        return zeros

    def _input_bias_or_zeros(self) -> np.ndarray:
        if self.use_bias:
            return self.input_bias()
        w = self.params["kernel"]
        return self._zeros(w.shape[1], w.dtype)

    def scratch(self, name: str, shape: tuple, dtype) -> np.ndarray:
        """A buffer for one step's temporaries, kept and reused from step to step (a
        fresh array of a (64, 512) batch costs more in first-touch page faults than
        the arithmetic done in it). Contents undefined; never hand one out as a
        result that outlives the step that wrote it, except as documented by the
        caller (the time loop copies what leaves BPTT)."""
        # (called a few times every step: kept to two dictionary lookups and two tests)
        bufs = self.__dict__.get("_scratch_bufs")
        if bufs is None:
            bufs = self._scratch_bufs = {}
        buf = bufs.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = bufs[name] = backend.aligned_empty(shape, dtype)
        return buf

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

    def begin_forward(self, batch: int, threads: int | None = 1) -> None:
        """Choose how the forward steps of one pass (batch ``batch``, at most
        ``threads`` threads) form h_{t-1}·W: the accelerator's compiled product on W
        packed once here, where it beats BLAS (``fused.recurrent_matmul``); else, with
        the accelerator on, one BLAS product per gate block where that measured faster
        (``fused.gate_blocks_faster``); else ``np.dot``. :meth:`end_forward` must
        follow (the copies would go stale when the weights change)."""
        w = self.params["recurrent_kernel"]
        f = fused.recurrent_matmul(batch, w.shape[0], w.shape[1], w.dtype, threads)
        if f is not None:
            self._fwd_product = (f, fused.pack_panels(w))
        elif fused.gate_blocks_faster(batch, self.units, self.n_gates, w.dtype, threads):
            self._fwd_product = (fused.gate_blocks_product, fused.gate_blocks(w, self.n_gates))
        else:
            self._fwd_product = None

    def end_forward(self) -> None:
        self._fwd_product = None

    def recurrent_product(self, h: np.ndarray, out: np.ndarray) -> np.ndarray:
        """h·W (B, G·H) into ``out``, as :meth:`begin_forward` chose (outside a pass,
        as for a streaming step: ``np.dot``)."""
        p = self._fwd_product
        if p is None:
            return np.dot(h, self.params["recurrent_kernel"], out=out)
        p[0](h, p[1], out)
        return out

    def begin_backward(self, batch: int, threads: int | None = 1) -> None:
        """Choose how the backward steps of one BPTT pass form dz·Wᵀ: the compiled
        product on Wᵀ packed once here, where it beats BLAS (as in
        :meth:`begin_forward`); else ``np.dot`` with Wᵀ cached as a C-contiguous array
        (OpenBLAS multiplies by it up to 3x faster than by the transposed view of W;
        the weights do not change during a backward pass), with the accelerator on as
        one product per gate block summed where that measured faster
        (``fused.gate_blocks_faster``)."""
        w = self.params["recurrent_kernel"]
        f = fused.recurrent_matmul(batch, w.shape[1], w.shape[0], w.dtype, threads)
        self._bwd_product = None
        self._rec_kernel_t = None
        if f is not None:
            panels = fused.pack_panels(w.T)
            self._bwd_product = lambda dz, out: f(dz, panels, out)
            return
        w_t = self._rec_kernel_t = backend.aligned_copy(w.T)
        g, u = self.n_gates, self.units
        if fused.gate_blocks_faster(batch, u, g, w.dtype, threads, backward=True):
            blocks, tmp = w_t.reshape(g, u, u), backend.aligned_empty((g, batch, u), w.dtype)
            self._bwd_product = lambda dz, out: fused.gate_blocks_product_t(dz, blocks, out, tmp)

    def end_backward(self) -> None:
        self._rec_kernel_t = None
        self._bwd_product = None

    def recurrent_product_t(self, dz: np.ndarray, out: np.ndarray) -> np.ndarray:
        """dz·Wᵀ (B, H) into ``out``, as :meth:`begin_backward` chose."""
        f = self._bwd_product
        if f is None:
            return np.dot(dz, self.recurrent_kernel_t(), out=out)
        f(dz, out)
        return out

    def recurrent_kernel_t(self) -> np.ndarray:
        """Wᵀ: the cached copy during a backward pass, else a view."""
        w_t = self._rec_kernel_t
        return self.params["recurrent_kernel"].T if w_t is None else w_t

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
        np.matmul(a, b, out=self.grad_buffer(name))

    def get_config(self) -> dict:
        return {
            "units": self.units,
            "activation": self.activation.name,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }

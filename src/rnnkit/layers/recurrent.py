"""The one place that unrolls a cell over time.

``RNN`` takes any cell (``rnnkit.cells``) and owns everything about time: the input
projection of all steps before the loop, masks (a masked step keeps the state),
direction (``go_backwards``), initial and returned states, statefulness across
batches, Keras-style input and recurrent dropout, and backpropagation through time.
``SimpleRNN``, ``LSTM`` and ``GRU`` are this layer with their cell, taking Keras's
arguments.

Masked steps: the state is carried unchanged, ``s_t = s_{t-1}``; with
``return_sequences`` the output at a masked step is that carried state (Keras's
default), or zeros with ``zero_output_for_mask=True``.
"""

from __future__ import annotations

import contextlib

import numpy as np

from .. import backend, kernels
from ..cells import GRUCell, LSTMCell, SimpleRNNCell
from ..utils import validation
from .base import Layer


class Workspace:
    """The big per-pass buffers of one recurrent layer, kept from one pass to the next.

    A training step writes and reads some hundred megabytes of per-step buffers
    (states, gate activations, the input projection and its gradient). Fresh arrays
    of that size come from the kernel as untouched pages, and the first write to each
    page faults: measured on a (T, B, H) = (100, 64, 512) LSTM, that alone cost a
    third of the forward pass (bench/NOTES.md). So a layer keeps its buffers and
    reuses them while the batch size and dtype stay the same; a longer sequence grows
    them, a shorter one uses their first steps (bucketed batches do not reallocate).

    The buffers are valid from one forward pass until the next one of the same
    layer; arrays handed to the caller (outputs, states) are never workspace views.
    ``RNN.release_buffers()`` frees them. A workspace takes no arguments and starts
    empty.

    Example:
        >>> ws = Workspace()
        >>> a = ws.get("S0", 5, (2, 3), np.float32)
        >>> b = ws.get("S0", 3, (2, 3), np.float32)  # fewer steps: the same buffer
        >>> a.shape, b.shape, bool(np.shares_memory(a, b))
        ((5, 2, 3), (3, 2, 3), True)
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}
        self._cell: tuple | None = None  # (key, steps capacity, the cell's buffers)

    def get(self, name: str, steps: int, tail: tuple, dtype) -> np.ndarray:
        """A (steps, *tail) array of ``dtype``: contents undefined.

        Args:
            name: the buffer's name in this workspace.
            steps: the number of steps wanted; a kept buffer with at least as many is
                reused (its first ``steps``), a shorter one is replaced.
            tail: the shape of one step; another tail or dtype replaces the buffer.
            dtype: the array's dtype.

        Returns:
            A view of the kept buffer, 64-byte aligned, valid until the next ``get``
            of ``name`` that replaces it.
        """
        arr = self._arrays.get(name)
        if arr is None or arr.shape[0] < steps or arr.shape[1:] != tail or arr.dtype != dtype:
            self._arrays.pop(name, None)  # free before allocating the larger one
            # on 64-byte boundaries, as the weights (backend.ALIGNMENT): a step's slice
            # is the input or output of its product with W
            arr = self._arrays[name] = backend.aligned_empty((steps,) + tuple(tail), dtype)
        return arr[:steps]

    def hand_over(self, name: str) -> np.ndarray:
        """The whole array kept under ``name``, which the workspace then forgets (the next
        ``get`` allocates a new one): for a buffer whose contents are dead, to become an
        array that leaves the layer."""
        return self._arrays.pop(name)

    def cell_buffers(self, cell, steps: int, batch: int, dtype) -> dict[str, np.ndarray]:
        """The cell's ``allocate(steps, batch, dtype)``, reused while it fits."""
        key = (id(cell), cell.units, batch, np.dtype(dtype))
        held = self._cell
        if held is None or held[0] != key or held[1] < steps:
            self._cell = None
            held = self._cell = (key, steps, cell.allocate(steps, batch, dtype))
        return {k: v[:steps] for k, v in held[2].items()}


def _route(cell, dtype) -> str | None:
    """Why this pass runs the reference loop rather than the compiled one
    (``rnnkit.kernels``), or None when the compiled loop runs it."""
    if backend.accelerator() != "numba":
        return "the numpy accelerator"
    if "forward_step" in vars(cell) or "backward_step" in vars(cell):
        return "a cell step replaced on the instance"
    reason = kernels.unsupported(cell, dtype)
    if reason is not None:
        backend._warn_once(
            f"reference:{reason}",
            f"rnnkit: the compiled time loop does not take {reason}; "
            f"{type(cell).__name__} runs the NumPy reference loop (slower, same results).",
        )
    return reason


class RNN(Layer):
    """Unrolls ``cell`` over the time axis of (batch, time, features) input.

    Args:
        cell: a :class:`rnnkit.cells.Cell`.
        return_sequences: return the output of every step (batch, time, units)
            instead of the last one (batch, units). Default False.
        return_state: also return the final states: ``[output, h]`` (SimpleRNN,
            GRU) or ``[output, h, c]`` (LSTM). Default False.
        go_backwards: read the sequence from its end; with ``return_sequences`` the
            outputs come in that reversed order, as in Keras. Default False.
        stateful: carry the final states of one batch into the next as its initial
            states (sample i of a batch continues sample i of the previous batch);
            gradients stop at the batch edge (truncated BPTT). Default False.
        dropout: fraction of the input units dropped, one mask per sequence
            (the same at every step). Default 0.
        recurrent_dropout: fraction of the recurrent state's units dropped before the
            recurrent product, one mask per sequence (Gal & Ghahramani). Default 0.
        zero_output_for_mask: with return_sequences, output zeros at masked steps
            instead of the carried state. Default False.
        unroll: accepted for Keras and ignored; the time loop is the same either way.
            Default False.
        **kwargs: the common layer arguments of :class:`rnnkit.layers.base.Layer`
            (name, input_shape, dtype, trainable, seed, the regularizers and
            constraints).

    Calling the layer returns the output, (batch, units) or with ``return_sequences``
    (batch, time, units); with ``return_state``, a list ``[output, *final_states]``.

    Raises:
        TypeError: ``dropout`` or ``recurrent_dropout`` is not a number.
        ValueError: ``dropout`` or ``recurrent_dropout`` is outside [0, 1); when
            called, input that is not 3-D, has zero steps or another number of
            features than the layer was built for, a mask whose shape is not (batch,
            time), or initial states of the wrong number or shape.

    Example:
        >>> from rnnkit.cells import SimpleRNNCell
        >>> layer = RNN(SimpleRNNCell(4), return_sequences=True, return_state=True)
        >>> output, h = layer(np.zeros((2, 5, 3)))
        >>> output.shape, h.shape
        ((2, 5, 4), (2, 4))
    """

    supports_masking = True
    # threads of this layer's passes (the compiled loop's and BLAS's); None: rnnkit's
    # count (rnnkit.set_num_threads). The name is older than the compiled loop.
    blas_threads: int | None = None
    _threads = 1  # the thread count of the pass under way (_threads_for_pass)

    def __init__(
        self,
        cell,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        zero_output_for_mask: bool = False,
        unroll: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.dropout = validation.fraction(dropout, "dropout")
        self.recurrent_dropout = validation.fraction(recurrent_dropout, "recurrent_dropout")
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.states: list[np.ndarray] | None = None  # carried states when stateful
        self.initial_state_grads: list[np.ndarray] | None = None
        # Diagnostics: when True, backward() records for every sample and step the L2
        # norm of dL/dh_t (the gradient reaching the state after step t, all paths
        # summed), in input order, in ``state_grad_norms`` (shape (batch, T)).
        self.record_state_grads = False
        self.state_grad_norms: np.ndarray | None = None
        self._cache: dict | None = None
        self._workspace = Workspace()
        self._step_route = None  # (accelerator, dtype, _route()) of the last step()

    # ---- building ---------------------------------------------------------------
    @property
    def units(self) -> int:
        return self.cell.units

    @property
    def params(self):
        return self.cell.params

    @params.setter
    def params(self, value):  # Layer.__init__ assigns an empty dict
        pass

    @property
    def grads(self):
        return self.cell.grads

    @grads.setter
    def grads(self, value):
        pass

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                f"Input to layer {self.name!r} must be 3-D (batch, time, features) with a "
                f"known number of features; got a sample shape of {tuple(input_shape)}."
            )
        self.cell.build(int(input_shape[-1]), self.dtype, self.rng)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        steps = input_shape[0]
        out = (steps, self.units) if self.return_sequences else (self.units,)
        if self.return_state:
            return [out] + [(self.units,)] * self.cell.state_size
        return out

    def compute_mask(self, x, mask):
        return mask if self.return_sequences else None

    def reset_states(self, states=None) -> None:
        """Forget the carried states (stateful layers), or set them to ``states``.

        Args:
            states: None (default) to forget them, so that the next batch starts from
                zeros; or the arrays to carry, ``[h]`` (or ``h`` alone) or ``[h, c]``
                (LSTM), each (batch, units) with one batch size, copied in the
                layer's dtype.

        Raises:
            ValueError: ``states`` given to a layer that is not stateful (it would
                never read them), the wrong number of arrays, a shape other than
                (batch, units), different batch sizes, or a NaN or inf (also one that
                the layer's dtype cannot hold), naming the state.
            TypeError: not an array or a list of arrays, or a non-numeric array.

        Example:
            >>> layer = LSTM(2, stateful=True)
            >>> _ = layer(np.ones((1, 3, 2)))
            >>> len(layer.states), layer.states[0].shape
            (2, (1, 2))
            >>> layer.reset_states([np.zeros((1, 2)), np.ones((1, 2))])
            >>> layer.reset_states()
            >>> layer.states is None
            True
        """
        if states is None:
            self.states = None
            return
        self.states = self._checked_states(states)

    def _checked_states(self, states) -> list[np.ndarray]:
        """``reset_states``'s arrays, checked in full before any is kept."""
        names, n = self.cell.state_names, self.cell.state_size
        if not self.stateful:
            raise ValueError(
                f"Layer {self.name!r} is not stateful: the states given to reset_states "
                f"would never be read. Build it with stateful=True, or pass initial_state "
                f"when calling it."
            )
        if isinstance(states, np.ndarray):
            states = [states]
        if not isinstance(states, (list, tuple)):
            raise TypeError(
                f"Received an invalid value for argument states of layer {self.name!r}: "
                f"expected a list of {n} array(s) {names}, got {type(states).__name__}."
            )
        if len(states) != n:
            raise ValueError(
                f"Layer {self.name!r} expects {n} state array(s) {names}, got {len(states)}."
            )
        out = []
        for name, value in zip(names, states):
            arr = validation.as_array(value, f"states ({name!r} of layer {self.name!r})")
            batch = out[0].shape[0] if out else (arr.shape[0] if arr.ndim == 2 else None)
            if arr.shape != (batch, self.units):
                raise ValueError(
                    f"Layer {self.name!r} state {name!r}: expected shape (batch, "
                    f"{self.units})" + (f" with batch {batch}" if out else "") + f", got "
                    f"{arr.shape}."
                )
            with np.errstate(over="ignore", invalid="ignore"):
                arr = np.array(arr, dtype=self.dtype)  # a copy: the caller's array stays theirs
            if not np.isfinite(arr).all():
                raise ValueError(
                    f"Layer {self.name!r} state {name!r}: holds NaN or inf (or values too "
                    f"large for {self.dtype})."
                )
            out.append(arr)
        return out

    # ---- forward ----------------------------------------------------------------
    def check_input(self, x):
        x = super().check_input(x)
        validation.check_rank(x, 3, f"layer {self.name!r}", "(batch, time, features)")
        if self.built and x.shape[-1] != self.input_shape[-1]:
            raise ValueError(
                f"Input to layer {self.name!r} has {x.shape[-1]} features per step; "
                f"expected {self.input_shape[-1]}."
            )
        if x.shape[1] == 0:
            raise ValueError(f"Input to layer {self.name!r} has zero time steps.")
        return x

    def _initial_states(self, batch: int, initial_state) -> list[np.ndarray]:
        n, shape = self.cell.state_size, (batch, self.units)
        if initial_state is not None:
            if isinstance(initial_state, np.ndarray):
                initial_state = [initial_state]
            initial_state = list(initial_state)
            if len(initial_state) != n:
                raise ValueError(
                    f"Layer {self.name!r} expects {n} initial state array(s) "
                    f"{self.cell.state_names}, got {len(initial_state)}."
                )
            out = []
            for name, s in zip(self.cell.state_names, initial_state):
                s = np.asarray(s, dtype=self.dtype)
                if s.shape != shape:
                    raise ValueError(
                        f"Layer {self.name!r} initial state {name!r}: expected shape "
                        f"{shape}, got {s.shape}."
                    )
                out.append(s)
            return out
        if self.stateful and self.states is not None:
            if self.states[0].shape != shape:
                raise ValueError(
                    f"Stateful layer {self.name!r} carries states for batch size "
                    f"{self.states[0].shape[0]}, got a batch of {batch}; use a fixed "
                    f"batch size or call reset_states()."
                )
            return self.states
        return [np.zeros(shape, self.dtype) for _ in range(n)]

    def _dropout_mask(self, rate: float, shape) -> np.ndarray | None:
        if rate <= 0.0:
            return None
        keep = 1.0 - rate
        return (self.rng.random(shape) < keep).astype(self.dtype) / self.dtype.type(keep)

    def forward(self, x, training: bool = False, mask=None, initial_state=None):
        with self._threads_for_pass():
            return self._forward(x, training, mask, initial_state)

    def _apply_threads(self) -> int:
        return backend.apply_num_threads(self.blas_threads)

    @contextlib.contextmanager
    def _threads_for_pass(self):
        """The pass's thread count (``self._threads``). On several threads, a compiled
        pass runs BLAS on one and splits its large products over rnnkit's threads
        (``backend.split_products``), whether or not its loop splits its steps
        (``kernels.work_split``): a multi-threaded BLAS product leaves workers spinning
        for about 0.1 s, on the cores the loop needs and on those of whatever the
        program runs next (bench/NOTES.md section 19). The reference loop gives BLAS
        the count. Without threadpoolctl (no way to keep BLAS on one thread) the
        compiled loop runs on one thread."""
        n = self._threads = self._apply_threads()
        if n <= 1 or _route(self.cell, self.dtype) is not None:
            yield
            return
        if not backend.can_limit_blas():
            # BLAS cannot be kept on one thread: its spinning workers would stall every
            # step of a loop split over threads (the Reuters job, 2 threads: 71 s of
            # training against 35 with the loop on one thread)
            backend._warn_once(
                "threads:no-threadpoolctl",
                "rnnkit: threadpoolctl is not installed, so rnnkit cannot keep BLAS off "
                "the cores of its compiled loop; the loop runs on one thread "
                "(pip install threadpoolctl).",
            )
            self._threads = 1
            yield
            return
        with backend.split_products(n):
            yield

    def release_buffers(self) -> None:
        """Free the buffers kept for backward and reused by the next pass (about
        (3 + 2·G)·T·B·H floats for a sequence of T steps); the next forward pass
        allocates them again."""
        self._cache = None
        self._workspace = Workspace()
        self._step_route = None

    def _forward(self, x, training, mask, initial_state):
        self._cache = None
        ws = self._workspace
        batch, steps, _ = x.shape
        cell, dtype = self.cell, self.dtype
        x = x.astype(dtype, copy=False)

        # time-major, in reading order
        xt = x.transpose(1, 0, 2)
        mt = None
        if mask is not None:
            mt = np.asarray(mask, dtype=bool).T  # (T, B)
            if mt.shape != (steps, batch):
                raise ValueError(
                    f"Mask for layer {self.name!r} must have shape {(batch, steps)}, got "
                    f"{np.asarray(mask).shape}."
                )
        if self.go_backwards:
            xt = xt[::-1]
            mt = None if mt is None else mt[::-1]

        in_mask = self._dropout_mask(self.dropout, (batch, x.shape[2])) if training else None
        rec_mask = (
            self._dropout_mask(self.recurrent_dropout, (batch, self.units)) if training else None
        )
        gh = cell.n_gates * self.units
        packed = _packed_rows(mt, self.go_backwards)
        if packed is None:
            xt = np.ascontiguousarray(xt if in_mask is None else xt * in_mask)
            # all steps' x·U + b in one product
            xw = cell.project_inputs(xt, out=ws.get("xw", steps, (batch, gh), dtype))
        else:  # only the steps the mask keeps: one product over those rows
            xw = ws.get("xw", steps, (batch, gh), dtype)
            flat = xw.reshape(-1, gh)
            # zeros where masked: those steps' states are computed, then discarded, and
            # BPTT multiplies their gradient (zero) by values that must be finite
            flat[packed.padded] = 0.0
            flat[packed.rows] = cell.project_inputs(packed.inputs(x, in_mask))
            xt = None  # BPTT gathers the kept steps' inputs again, dropout included
        if in_mask is None:  # not kept through the step: BPTT makes it again for dU
            xt = None
        states0 = self._initial_states(batch, initial_state)
        # S[k][t] is state k before step t; S[k][T] the final state
        S = [ws.get(f"S{k}", steps + 1, (batch, self.units), dtype) for k in range(len(states0))]
        for buf, s0 in zip(S, states0):
            buf[0] = s0
        h_rec_all = (
            S[0][:-1] if rec_mask is None else ws.get("h_rec", steps, (batch, self.units), dtype)
        )
        cache = ws.cell_buffers(cell, steps, batch, dtype)
        if cell.gates_in_projection:
            cache["gates"] = xw  # the cell overwrites x·U + b with its gates, step by step
        if cell.output_in_cache:
            cache["h"] = S[0][1:]  # the cell's cached h_t is the loop's state buffer

        route = _route(cell, dtype)
        backend.record_kernel(f"{type(cell).__name__}.forward", route or "numba-generic")
        if route is None:
            if rec_mask is not None:
                np.multiply(S[0][0], rec_mask, out=h_rec_all[0])
            kernels.forward(
                cell,
                xw,
                S,
                cache,
                None if rec_mask is None else h_rec_all,
                mt,
                rec_mask,
                self._threads,
            )
        else:
            self._reference_forward(xw, S, h_rec_all, cache, mt, rec_mask, batch)

        self._cache = {
            "x": x,  # the input as given (not a copy, as PyTorch saves it), read for dU
            "xt": xt,  # the dropped-out inputs in reading order, time-major (or None)
            "xw": xw,  # BPTT writes dL/d(x·U + b) here: x·U + b (or the gates) is dead then
            "backward_done": False,
            "S": S,
            "h_rec": h_rec_all,
            "cache": cache,
            "mask": mt,
            "packed": packed,
            "in_mask": in_mask,
            "rec_mask": rec_mask,
            "batch": batch,
            "compiled": route is None,
        }
        if self.stateful:
            self.states = [buf[steps].copy() for buf in S]

        if self.return_sequences:
            seq = S[0][1:]
            if self.zero_output_for_mask and mt is not None:
                seq = seq * mt[:, :, None]
            # always a copy: with T = 1 or B = 1 the transposed view counts as contiguous,
            # and a view would alias the workspace that the next pass overwrites
            if cell.gates_in_projection:
                output = seq.transpose(1, 0, 2).copy(order="C")
            else:
                # x·U + b is dead once the loop has read it (SimpleRNN): its buffer, handed
                # over by the workspace, becomes the output (BPTT gets a new one for dxw),
                # so the pass ends with one sequence-sized array less than a fresh copy
                output = ws.hand_over("xw").reshape(-1)[: seq.size]
                output = output.reshape(batch, steps, self.units)
                np.copyto(output, seq.transpose(1, 0, 2))
                self._cache["xw"] = None
        else:
            output = S[0][steps].copy()
        if self.return_state:
            return [output] + [buf[steps].copy() for buf in S]
        return output

    def _reference_forward(self, xw, S, h_rec_all, cache, mt, rec_mask, batch):
        """The time loop of the reference: each step the cell's ``forward_step``."""
        cell, steps = self.cell, xw.shape[0]
        # per-step views made once (a streaming-sized step is a few µs: the loop's
        # own Python counts): states_at[t], the states before step t, one per kind
        states_at, xw_views = list(zip(*S)), list(xw)
        for t in range(steps):
            prev = states_at[t]
            h_rec = prev[0]
            if rec_mask is not None:
                np.multiply(prev[0], rec_mask, out=h_rec_all[t])
                h_rec = h_rec_all[t]
            if mt is not None:
                new = cell.forward_step(t, xw_views[t], prev, h_rec, cache)
                keep = mt[t][:, None]
                for buf, s_new, s_prev in zip(S, new, prev):
                    np.copyto(buf[t + 1], np.where(keep, s_new, s_prev))
            else:
                out = states_at[t + 1]  # the cell writes the new states here
                new = cell.forward_step(t, xw_views[t], prev, h_rec, cache, out=out)
                for dst, s_new in zip(out, new):
                    if s_new is not dst:  # a cell that did not use ``out``
                        dst[...] = s_new

    # ---- one step, for streaming inference ----------------------------------------
    def step(self, x_t, states):
        """Advance the layer by one time step: inference only, no gradients.

        Runs the cell's ``forward_step`` once on ``x_t`` with the given states, without
        building the buffers that backpropagation needs, for generation and streaming
        (batch 1, a step at a time). Equal to :meth:`forward` on ``x_t[:, None, :]``
        with ``initial_state=states`` (without dropout, masks or ``go_backwards``, which
        concern whole sequences). ``stateful`` carried states are neither read nor
        written: pass and keep the states yourself. ``backward`` cannot follow a step.

        Args:
            x_t: (batch, features) input of this step.
            states: the previous states, a list ``[h]`` (SimpleRNN, GRU) or ``[h, c]``
                (LSTM) of (batch, units) arrays; zeros to start a sequence.
        Returns:
            ``(output, new_states)``: the step's output (batch, units), which is the new
            ``h``, and the list of new states. Both are new arrays; the inputs are not
            modified.

        Raises:
            RuntimeError: the layer is not built.
            ValueError: another number of states than the cell has, an ``x_t`` that
                is not (batch, features), or a state that is not (batch, units).

        Example:
            >>> layer = LSTM(8)
            >>> layer.ensure_built((None, 3))
            >>> states = [np.zeros((1, 8), "float32")] * 2
            >>> y, states = layer.step(np.ones((1, 3), "float32"), states)
            >>> y.shape
            (1, 8)
        """
        if not self.built:
            raise RuntimeError(f"Layer {self.name!r}: build it before calling step().")
        cell, dtype = self.cell, self.dtype
        if len(states) != cell.state_size:
            raise ValueError(
                f"Layer {self.name!r} expects {cell.state_size} state array(s) "
                f"{cell.state_names}, got {len(states)}."
            )
        # (a streaming step costs a few µs: every line here counts)
        x_t = np.asarray(x_t, dtype)
        kernel = cell.params["kernel"]
        if x_t.ndim != 2 or x_t.shape[1] != kernel.shape[0]:
            raise ValueError(
                f"Layer {self.name!r}: step() expects x_t of shape (batch, "
                f"{kernel.shape[0]}), got {x_t.shape}."
            )
        if not x_t.flags.c_contiguous:  # (as the compiled step reads it)
            x_t = np.ascontiguousarray(x_t)
        batch = x_t.shape[0]
        shape = (batch, cell.units)
        prev = []
        for k, s in enumerate(states):
            s = np.asarray(s, dtype)
            if s.shape != shape:
                raise ValueError(
                    f"Layer {self.name!r}: step() state {cell.state_names[k]!r} must have "
                    f"shape {shape}, got {s.shape}."
                )
            prev.append(s if s.flags.c_contiguous else np.ascontiguousarray(s))
        route = self._step_route
        if route is None or route[0] is not backend._accelerator or route[1] is not dtype:
            route = self._step_route = (backend._accelerator, dtype, _route(cell, dtype))
        if route[2] is None:  # the whole step as one compiled call
            new = kernels.step(cell, x_t, prev)
            return new[0], new
        cache = cell.allocate(1, batch, dtype)
        xw = cell.project_inputs(x_t)
        if cell.gates_in_projection:
            cache["gates"] = xw[None]
        new = [np.array(s) for s in cell.forward_step(0, xw, prev, prev[0], cache)]
        return new[0], new

    # ---- backward: BPTT ---------------------------------------------------------
    def backward(self, dy):
        """Backpropagation through time over the steps of the last forward pass.

        Args:
            dy: dL/d(output); with ``return_state``, a list ``[d_output, d_h, (d_c)]``
                whose state entries may be None.
        Returns:
            dL/dx, shaped like the input. The weight gradients are left in ``grads``,
            the gradients of the initial states in ``initial_state_grads``.

        Raises:
            RuntimeError: no forward pass yet, or ``backward`` already ran for the last
                one (its buffers were reused for the gradients).

        Example:
            >>> layer = SimpleRNN(3, return_sequences=True)
            >>> y = layer(np.ones((2, 4, 2)))
            >>> dx = layer.backward(np.ones_like(y))
            >>> dx.shape, sorted(layer.grads)
            ((2, 4, 2), ['bias', 'kernel', 'recurrent_kernel'])
        """
        if self._cache is None:
            raise RuntimeError(f"Layer {self.name!r}: backward() called before forward().")
        if self._cache["backward_done"]:
            raise RuntimeError(
                f"Layer {self.name!r}: backward() already ran for the last forward pass (it "
                f"reuses that pass's buffers for the gradients); run forward() again."
            )
        with self._threads_for_pass():
            return self._backward(dy)

    def _backward(self, dy):
        c = self._cache
        cell, S, mt = self.cell, c["S"], c["mask"]
        steps, batch, units = S[0].shape[0] - 1, c["batch"], self.units
        d_final = [None] * cell.state_size
        if self.return_state:
            dy, *d_final = dy
        # dL/d(state k after the current step), flowing right to left
        d_next = [
            np.zeros((batch, units), self.dtype) if d is None else np.array(d, self.dtype)
            for d in d_final
        ]
        # the compiled BPTT follows a compiled forward pass (the two keep the same
        # buffers, so either backward could follow either forward)
        compiled = c["compiled"] and not self.record_state_grads
        compiled = compiled and _route(cell, self.dtype) is None
        d_seq = None  # dL/d(output at step t), t = T-1 .. 0
        dy_seq = None  # the same, (B, T, H) in reading order, for the compiled loop
        if self.return_sequences and compiled:
            dy_seq = np.asarray(dy)
            if self.zero_output_for_mask and mt is not None:
                dy_seq = dy_seq * mt.T[:, :, None]
            dy_seq = np.ascontiguousarray(dy_seq, dtype=self.dtype)
        elif self.return_sequences:
            d_seq = np.asarray(dy).transpose(1, 0, 2)  # a view: no (T, B, H) copy
            if self.zero_output_for_mask and mt is not None:
                d_seq = d_seq.astype(self.dtype, copy=False) * mt[:, :, None]
            d_seq = _steps_backwards(d_seq, self.dtype)
        else:
            d_next[0] = d_next[0] + dy

        gh = cell.n_gates * units
        ws = self._workspace
        # dL/d(x_t·U + b) goes where x_t·U + b (or the gates made from it) was: step t's
        # backward reads its gates and overwrites them (Cell.backward_step's contract)
        dxw_all = c["xw"]
        if dxw_all is None:  # its buffer became the output: a new one (reused next pass)
            dxw_all = ws.get("xw", steps, (batch, gh), self.dtype)
        c["backward_done"] = True
        # dL/d(recurrent pre-activation) is kept only where it differs from dxw: nowhere
        # for SimpleRNN and LSTM (the same array), the candidate's block for GRU
        cols = cell.recurrent_grad_columns()
        shared = cols.stop <= cols.start
        width = cols.stop - cols.start
        if shared:
            dzrec_all = dxw_all
        else:  # a cache buffer that BPTT may overwrite (GRU: rec_h), else a new one
            dzrec_all = cell.recurrent_grad_buffer(c["cache"])
            if dzrec_all is None:
                dzrec_all = ws.get("dzrec", steps, (batch, width), self.dtype)
        rec_mask = c["rec_mask"]
        norms = None
        if compiled:
            backend.record_kernel(f"{type(cell).__name__}.backward", "numba-generic")
            # the kernel updates these in place into the initial states' gradients
            d_next = [np.ascontiguousarray(d, dtype=self.dtype) for d in d_next]
            dzrec_all = kernels.backward(
                cell,
                dxw_all,
                S,
                c["cache"],
                mt,
                rec_mask,
                dy_seq,
                d_next,
                self._threads,
            )
        else:
            backend.record_kernel(
                f"{type(cell).__name__}.backward", _route(cell, self.dtype) or "numpy"
            )
            norms = np.empty((steps, batch)) if self.record_state_grads else None
            # per-step views, made once: the states before step t, and the step's two
            # gradient buffers
            states_at = list(zip(*S))
            dxw_views = list(dxw_all)  # (one view per step, twice in a pair when shared)
            outs = list(zip(dxw_views, dxw_views if shared else dzrec_all))
            step_cache, n_states = c["cache"], len(d_next)
            for t in range(steps - 1, -1, -1):
                ds = d_next
                if d_seq is not None:
                    ds[0] += next(d_seq)  # d_next[0] is always this loop's own array
                if norms is not None:
                    norms[t] = np.linalg.norm(ds[0], axis=-1)
                carried = None
                if mt is not None:  # a masked step passed its states through unchanged
                    keep = mt[t][:, None]
                    carried = [np.where(keep, 0.0, d) for d in ds]
                    ds = [np.where(keep, d, 0.0) for d in ds]
                out = outs[t]
                dxw, dzrec, dh_rec, direct = cell.backward_step(
                    t, ds, states_at[t], step_cache, out=out
                )
                if dxw is not out[0]:  # a cell that did not write into the buffers
                    out[0][...] = dxw
                if not shared and dzrec is not out[1]:
                    out[1][...] = dzrec[:, cols]
                if rec_mask is not None:
                    dh_rec = dh_rec * rec_mask
                # direct state gradients and dh_rec are this step's own arrays: add in place
                d_next = list(direct)
                if d_next[0] is None:
                    d_next[0] = dh_rec
                else:
                    d_next[0] += dh_rec
                for k in range(1, n_states):  # (d_next[0] is set above)
                    if d_next[k] is None:
                        d_next[k] = np.zeros((batch, units), self.dtype)
                if carried is not None:
                    d_next = [d + dc for d, dc in zip(d_next, carried)]
        d_seq = None  # (the generator, and with it its block buffer, freed before dU and dx)
        if cell.gates_in_projection:  # overwritten by the gradients: no stale reads
            del c["cache"]["gates"]
        # copies: a cell may keep these in buffers it reuses (Cell.scratch)
        self.initial_state_grads = [np.array(d) for d in d_next]
        if norms is not None:
            norms = norms[::-1] if self.go_backwards else norms
            self.state_grad_norms = np.ascontiguousarray(norms.T)

        packed = c["packed"]
        if packed is not None:
            return self._packed_grads(c, packed, dxw_all, dzrec_all, gh)
        n_flat = steps * batch
        # the inputs in reading order, time-major, for dU: made here rather than kept
        # from the forward pass (one copy of x more per step, one array less at the
        # forward pass's peak), and freed before dL/dx is made
        xt = c["xt"]
        if xt is None:
            xt = c["x"].transpose(1, 0, 2)
            xt = np.ascontiguousarray(xt[::-1] if self.go_backwards else xt)
        c["x"] = c["xt"] = None
        cell.weight_grads(
            xt.reshape(n_flat, -1),
            dxw_all.reshape(n_flat, gh),
            c["h_rec"].reshape(n_flat, units),
            dzrec_all.reshape(n_flat, dzrec_all.shape[-1]),
        )
        del xt
        if not self.input_grad_needed:  # nothing in front of this layer learns
            return None
        # dL/dx = dL/d(x·U + b)·Uᵀ, written into the (B, T, I) result a block of steps at
        # a time: one product over the block's k·B rows (at most 1024 and DX_BLOCK_BYTES) into a
        # small time-major buffer, then copied across. B products of T rows each (an earlier
        # form) ran 1.2-1.8x slower at the lm, large and small shapes; one product
        # over all T·B rows into a (T, B, I) buffer ran as fast as blocks, but raised the
        # large shapes' peak (bench/NOTES.md row 36)
        u_t = cell.params["kernel"].T
        n_in = u_t.shape[1]
        dx = np.empty((batch, steps, n_in), self.dtype)
        k = max(1, min(steps, 1024 // batch, DX_BLOCK_BYTES // (batch * n_in * dx.itemsize)))
        block = np.empty((min(k, steps), batch, n_in), self.dtype)
        reading = dx[:, ::-1] if self.go_backwards else dx  # dxw is in reading order
        for t0 in range(0, steps, k):
            t1 = min(steps, t0 + k)
            part = block[: t1 - t0]
            backend.matmul(dxw_all[t0:t1].reshape(-1, gh), u_t, part.reshape(-1, n_in))
            np.copyto(reading[:, t0:t1], part.transpose(1, 0, 2))
        del block
        if c["in_mask"] is not None:
            dx *= c["in_mask"][:, None, :]
        return dx

    def _packed_grads(self, c, packed, dxw_all, dzrec_all, gh):
        """dU, dW, db and dL/dx from the steps the mask keeps only (``_PackedRows``):
        the masked steps' dL/d(x·U + b) and dL/d(recurrent pre-activation) are zero (BPTT
        passed their state gradients through), so they add nothing to the weight
        gradients, and their dL/dx is zero. The gradient buffers (dead after this) are
        compacted in place to their kept rows, the states copied (truncated BPTT and the
        diagnostics read them after backward), then one product per gradient over those
        rows."""
        cell, units, rows = self.cell, self.units, packed.rows
        n_flat = dxw_all.shape[0] * dxw_all.shape[1]
        dxw = _compact(dxw_all.reshape(n_flat, gh), rows)
        h_rec = c["h_rec"].reshape(n_flat, units)[rows]
        if dzrec_all is dxw_all:
            dzrec = dxw
        else:
            dzrec = _compact(dzrec_all.reshape(n_flat, dzrec_all.shape[-1]), rows)
        x_rows = packed.inputs(c["x"], c["in_mask"])
        c["x"] = c["xt"] = None
        cell.weight_grads(x_rows, dxw, h_rec, dzrec)
        del x_rows
        if not self.input_grad_needed:
            return None
        u_t = cell.params["kernel"].T
        n_in = u_t.shape[1]
        dx = np.zeros((c["batch"], dxw_all.shape[0], n_in), self.dtype)
        # dL/dx = dL/d(x·U + b)·Uᵀ a block of rows at a time (as in _backward), each
        # block's rows scattered to their (sequence, step) places
        k = max(1, min(rows.size, 1024, DX_BLOCK_BYTES // (n_in * dx.itemsize)))
        block = np.empty((k, n_in), self.dtype)
        for r0 in range(0, rows.size, k):
            r1 = min(rows.size, r0 + k)
            part = np.matmul(dxw[r0:r1], u_t, out=block[: r1 - r0])
            dx[packed.seq[r0:r1], packed.step[r0:r1]] = part
        if c["in_mask"] is not None:
            dx *= c["in_mask"][:, None, :]
        return dx

    def get_config(self):
        config = super().get_config()
        config.update(self.cell.get_config())
        config.update(
            return_sequences=self.return_sequences,
            return_state=self.return_state,
            go_backwards=self.go_backwards,
            stateful=self.stateful,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            zero_output_for_mask=self.zero_output_for_mask,
        )
        return config


# the most memory BPTT's dL/dx blocks may take (see RNN._backward). 1 MiB rather than 4:
# on several threads a block's product packs Uᵀ (``kernels.gemm``) beside it, at the
# step's peak; SimpleRNN at the lm shape, 2 threads, 8.7 -> 8.0 MiB (bench/NOTES.md
# section 19)
DX_BLOCK_BYTES = 1 << 20
# a masked batch whose kept steps are fewer than this fraction of all its steps has its
# input projection, dU, dW, db and dL/dx formed over the kept steps only (_PackedRows)
PACKED_BELOW = 0.8


class _PackedRows:
    """The steps a mask keeps, as rows of the time-major (T·B, ·) per-step buffers, in
    reading order: ``rows`` (ascending), and for each the sequence ``seq`` and the step
    ``step`` of the (B, T, ·) input they come from (reversed under go_backwards);
    ``padded``, the rows the mask drops. What PyTorch's packed sequences save, taken
    from the mask: padding costs no product over the whole sequence (the time loop
    still runs every row of each step, and discards the masked ones)."""

    def __init__(self, keep: np.ndarray, go_backwards: bool):
        steps, batch = keep.shape
        flat = keep.reshape(-1)
        self.rows = np.flatnonzero(flat)
        self.padded = np.flatnonzero(~flat)
        t, self.seq = np.divmod(self.rows, batch)
        self.step = steps - 1 - t if go_backwards else t

    def inputs(self, x: np.ndarray, in_mask: np.ndarray | None) -> np.ndarray:
        """The kept steps' inputs (rows, I) from the (B, T, I) input, dropout applied."""
        rows = x[self.seq, self.step]
        if in_mask is not None:
            rows *= in_mask[self.seq]
        return rows


def _packed_rows(keep: np.ndarray | None, go_backwards: bool) -> _PackedRows | None:
    """``_PackedRows`` for a (T, B) mask in reading order, or None: no mask, or one
    that keeps too many steps for the gathering to pay (``PACKED_BELOW``)."""
    if keep is None or np.count_nonzero(keep) >= PACKED_BELOW * keep.size:
        return None
    return _PackedRows(keep, go_backwards)


def _compact(flat: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``flat[rows]`` moved to the front of ``flat`` (a (N, ·) buffer no longer needed
    as it is), returned as a view of it."""
    n = rows.size
    flat[:n] = flat[rows]
    return flat[:n]


def _steps_backwards(seq: np.ndarray, dtype, block_bytes: int = 1 << 16):
    """``seq[t]`` for t = T-1 .. 0, in ``dtype``. A ``seq`` of another dtype (a float64
    dL/dy reaching a float32 layer) is cast a block of steps at a time into one small
    buffer, not copied whole: a (T, B, H) array less at the backward pass's peak, and
    the same values as casting it first. So are strided steps smaller than a block (a
    batch-major dL/dy seen time-major), which NumPy adds 2-3x slower than contiguous
    ones (1.8 against 0.75 µs for a (8, 128) step; bench/NOTES.md row 43): each step
    handed out is then C-contiguous, and valid until the next is drawn."""
    steps = seq.shape[0]
    step_bytes = max(1, seq[0].size * np.dtype(dtype).itemsize)
    if seq.dtype == dtype and (seq[0].flags.c_contiguous or step_bytes >= block_bytes):
        for t in range(steps - 1, -1, -1):
            yield seq[t]
        return
    block = max(1, min(steps, block_bytes // step_bytes))
    buf = np.empty((block,) + seq.shape[1:], dtype)
    for hi in range(steps, 0, -block):
        lo = max(0, hi - block)
        chunk = buf[: hi - lo]
        np.copyto(chunk, seq[lo:hi], casting="same_kind")
        for t in range(hi - 1, lo - 1, -1):
            yield chunk[t - lo]


def _weight_options(**options) -> dict:
    """The per-weight regularizers and constraints and the seed that were given, as the
    keyword arguments of :class:`rnnkit.layers.base.Layer`."""
    return {k: v for k, v in options.items() if v is not None}


class SimpleRNN(RNN):
    """Fully-connected Elman RNN: s_t = f(x_t·U + s_{t-1}·W + b).

    Args:
        units: dimensionality of the state and output, a positive int.
        activation: f, ``"tanh"``, ``"relu"``, ``"sigmoid"`` or ``"linear"``. Default
            ``"tanh"``.
        use_bias: whether the layer has a bias. Default True.
        kernel_initializer: U's initializer. Default ``"glorot_uniform"``.
        recurrent_initializer: W's initializer. Default ``"orthogonal"``.
        bias_initializer: b's initializer. Default ``"zeros"``.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: a penalty on U, W
            or b (:mod:`rnnkit.regularizers`). Default None.
        activity_regularizer: a penalty on the output. Default None.
        kernel_constraint, recurrent_constraint, bias_constraint: a projection of U, W
            or b after each optimizer step (:mod:`rnnkit.constraints`). Default None.
        dropout: fraction of the input units dropped in training, one mask per
            sequence. Default 0.
        recurrent_dropout: fraction of the recurrent state's units dropped before the
            recurrent product in training, one mask per sequence. Default 0.
        seed: seed of the layer's weights and dropout masks. Default None (from
            ``rnnkit.set_random_seed``).
        return_sequences: return every step's output (batch, time, units) instead of
            the last (batch, units). Default False.
        return_state: also return the final states. Default False.
        go_backwards: read the sequence from its end. Default False.
        stateful: carry each batch's final states into the next. Default False.
        unroll: accepted for Keras; the loop is compiled either way. Default False.
        use_cudnn: accepted for Keras; rnnkit runs on the CPU. Default ``"auto"``.
        zero_output_for_mask: output zeros at masked steps. Default False.
        **kwargs: the common layer arguments (name, input_shape, dtype, trainable).

    Example:
        >>> layer = SimpleRNN(4)
        >>> layer(np.zeros((2, 5, 3))).shape
        (2, 4)
    """

    def __init__(
        self,
        units: int,
        activation="tanh",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed=None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        use_cudnn="auto",
        zero_output_for_mask: bool = False,
        **kwargs,
    ):
        cell = SimpleRNNCell(
            units,
            activation,
            use_bias,
            kernel_initializer,
            recurrent_initializer,
            bias_initializer,
        )
        options = _weight_options(
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            seed=seed,
        )
        super().__init__(
            cell,
            return_sequences,
            return_state,
            go_backwards,
            stateful,
            dropout,
            recurrent_dropout,
            zero_output_for_mask,
            unroll,
            **options,
            **kwargs,
        )


class LSTM(RNN):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), the notes' gates.

    Args:
        units: dimensionality of the state and output, a positive int.
        activation: for C~ and the output squashing. Default ``"tanh"``.
        recurrent_activation: for the gates i, f, o. Default ``"sigmoid"``.
        unit_forget_bias: add 1 to the forget gate's bias at initialisation (as
            Keras). Default True.
        use_bias: whether the layer has a bias. Default True.
        kernel_initializer: U's initializer. Default ``"glorot_uniform"``.
        recurrent_initializer: W's initializer. Default ``"orthogonal"``.
        bias_initializer: b's initializer. Default ``"zeros"``.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: a penalty on U, W
            or b (:mod:`rnnkit.regularizers`). Default None.
        activity_regularizer: a penalty on the output. Default None.
        kernel_constraint, recurrent_constraint, bias_constraint: a projection of U, W
            or b after each optimizer step (:mod:`rnnkit.constraints`). Default None.
        dropout: fraction of the input units dropped in training, one mask per
            sequence. Default 0.
        recurrent_dropout: fraction of the recurrent state's units dropped before the
            recurrent product in training, one mask per sequence. Default 0.
        seed: seed of the layer's weights and dropout masks. Default None (from
            ``rnnkit.set_random_seed``).
        return_sequences: return every step's output (batch, time, units) instead of
            the last (batch, units). Default False.
        return_state: also return the final states. Default False.
        go_backwards: read the sequence from its end. Default False.
        stateful: carry each batch's final states into the next. Default False.
        unroll: accepted for Keras; the loop is compiled either way. Default False.
        use_cudnn: accepted for Keras; rnnkit runs on the CPU. Default ``"auto"``.
        zero_output_for_mask: output zeros at masked steps. Default False.
        **kwargs: the common layer arguments (name, input_shape, dtype, trainable).

    Example:
        >>> layer = LSTM(4, return_sequences=True)
        >>> layer(np.zeros((2, 5, 3))).shape
        (2, 5, 4)
    """

    def __init__(
        self,
        units: int,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias: bool = True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed=None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        use_cudnn="auto",
        zero_output_for_mask: bool = False,
        **kwargs,
    ):
        cell = LSTMCell(
            units,
            activation,
            recurrent_activation,
            unit_forget_bias,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
        )
        options = _weight_options(
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            seed=seed,
        )
        super().__init__(
            cell,
            return_sequences,
            return_state,
            go_backwards,
            stateful,
            dropout,
            recurrent_dropout,
            zero_output_for_mask,
            unroll,
            **options,
            **kwargs,
        )


class GRU(RNN):
    """Gated recurrent unit (Cho et al. 2014) in Keras's two formulations
    (:mod:`rnnkit.cells.gru`).

    Args:
        units: dimensionality of the state and output, a positive int.
        activation: for the candidate h~. Default ``"tanh"``.
        recurrent_activation: for the gates z, r. Default ``"sigmoid"``.
        reset_after: True: the reset gate multiplies the candidate's recurrent product
            ``r ⊙ (h·W_h + b'_h)``, with a (2, 3·units) bias (Keras's default, PyTorch's
            and cuDNN's). False: Keras's older formulation, found in many saved models,
            the reset gate applied before the product, ``(r ⊙ h)·W_h``, with one
            (3·units,) bias; the compiled time loop does not take it, so such a layer
            runs the NumPy reference loop (same results, slower; said once in a
            RuntimeWarning and in ``rnnkit.backend.kernel_info()["ran"]``). Default True.
        use_bias: whether the layer has a bias. Default True.
        kernel_initializer: U's initializer. Default ``"glorot_uniform"``.
        recurrent_initializer: W's initializer. Default ``"orthogonal"``.
        bias_initializer: b's initializer. Default ``"zeros"``.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: a penalty on U, W
            or b (:mod:`rnnkit.regularizers`). Default None.
        activity_regularizer: a penalty on the output. Default None.
        kernel_constraint, recurrent_constraint, bias_constraint: a projection of U, W
            or b after each optimizer step (:mod:`rnnkit.constraints`). Default None.
        dropout: fraction of the input units dropped in training, one mask per
            sequence. Default 0.
        recurrent_dropout: fraction of the recurrent state's units dropped before the
            recurrent product in training, one mask per sequence. Default 0.
        seed: seed of the layer's weights and dropout masks. Default None (from
            ``rnnkit.set_random_seed``).
        return_sequences: return every step's output (batch, time, units) instead of
            the last (batch, units). Default False.
        return_state: also return the final states. Default False.
        go_backwards: read the sequence from its end. Default False.
        stateful: carry each batch's final states into the next. Default False.
        unroll: accepted for Keras; the loop is compiled either way. Default False.
        use_cudnn: accepted for Keras; rnnkit runs on the CPU. Default ``"auto"``.
        zero_output_for_mask: output zeros at masked steps. Default False.
        **kwargs: the common layer arguments (name, input_shape, dtype, trainable).

    Raises:
        TypeError: ``reset_after`` is not a bool.

    Example:
        >>> layer = GRU(4)
        >>> layer(np.zeros((2, 5, 3))).shape
        (2, 4)
        >>> old = GRU(4, reset_after=False)
        >>> old.ensure_built((5, 3))
        >>> old.cell.params["bias"].shape  # one bias, as Keras's reset_after=False
        (12,)
    """

    def __init__(
        self,
        units: int,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed=None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        reset_after: bool = True,
        use_cudnn="auto",
        zero_output_for_mask: bool = False,
        **kwargs,
    ):
        cell = GRUCell(
            units,
            activation,
            recurrent_activation,
            reset_after,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
        )
        options = _weight_options(
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            seed=seed,
        )
        super().__init__(
            cell,
            return_sequences,
            return_state,
            go_backwards,
            stateful,
            dropout,
            recurrent_dropout,
            zero_output_for_mask,
            unroll,
            **options,
            **kwargs,
        )

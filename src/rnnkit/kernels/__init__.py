"""Compiled kernels: each recurrent cell's whole time loop as one numba call per pass.

The NumPy cells in ``rnnkit.cells`` are the reference: one step each, written under
their equations. This package states the same equations once more, compiled, over a
whole sequence: ``lstm``, ``gru`` and ``simple_rnn`` each hold a forward loop and a BPTT
loop (the per-step product with W from ``matmul``, the cell's element-wise lines,
masks, recurrent dropout, initial and final states), and ``step`` a streaming step of
any batch. The tests hold every kernel to its cell (float32 and float64) and to
PyTorch. ``rnnkit.layers.recurrent`` decides when they run (:func:`unsupported` says
why not); the products over all steps at once (x·U, the weight gradients, dL/dx) stay
BLAS products there.

float32 kernels use a rational approximation of tanh that LLVM vectorises:

    tanh(x) ≈ x·p(x²) / q(x²),  x clamped to [-7.9, 7.9],

with p of degree 6 and q of degree 3 in x² (coefficients ``TANH_P``, ``TANH_Q``),
fitted by Lawson-weighted least squares for relative error over [0, 7.9]
(``tests/test_kernels.py`` holds the error: at most 6 float32 ulps or 3.3e-7 absolute
over [-12, 12]; σ(x) = ½ + ½·tanh(x/2) inherits an absolute error below 2e-7).
float64 kernels call the exact ``math.tanh``.

This module imports without numba; the compiled modules import it.
"""

from __future__ import annotations

import numpy as np

TANH_CLAMP = 7.9
# coefficients of p (x^0 .. x^12 in powers of x²) and q (x^0 .. x^6)
TANH_P = (
    9.99999998e-01,
    1.31281403e-01,
    3.15365730e-03,
    1.16896175e-05,
    -2.25258316e-08,
    6.48297817e-11,
    -1.19247755e-13,
)
TANH_Q = (1.0, 4.64614721e-01, 2.46919252e-02, 2.61934528e-04)

#: the dtypes the kernels are compiled for
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: gate activations of the LSTM and GRU kernels (σ gates, tanh candidate)
GATED_ACTIVATIONS = {"recurrent_activation": ("sigmoid",), "activation": ("tanh",)}
#: the smallest per-step product (multiply-adds) worth splitting over threads, and the
#: smaller one worth it where the batch's blocks of four rows share out over the
#: threads (no column split, ``work_split``): below them a step's barrier and hand-over
#: cost more than the threads save. On a 2-core AMD EPYC (Zen 3), the loop on 2 threads
#: against 1, inference / training ms (``bench/thread_handover.py --split``, bench/NOTES.md
#: section 19): LSTM (32 rows, 128 units: 2.1 M) 4.44 / 13.32 -> 3.30 / 10.52, SimpleRNN
#: (32, 128: 0.5 M) 1.41 / 4.00 -> 1.33 / 3.99, LSTM (8, 128: 0.5 M) 21.90 / 58.33 ->
#: 19.99 / 63.01 (a tie within this machine's noise)
PARALLEL_MIN_MACS = 1 << 20
PARALLEL_MIN_MACS_BLOCKS = 1 << 18
#: from this many blocks of rows per thread, the blocks alone make the work items, the
#: one block more that some threads get costing less than a column split would
ROUND_BLOCKS = 4
#: the per-step product of a pass: "tile" (``tile.acc_tile``, a register tile over W
#: packed once per pass) or "rows" (``matmul.acc_rows`` on W as it lies, the streaming
#: step's form); tests run both
PRODUCT = "tile"


def tanh_f32_reference(x: np.ndarray) -> np.ndarray:
    """The float32 kernels' tanh, in NumPy (for tests and documentation)."""
    x = np.clip(np.asarray(x, np.float32), -np.float32(TANH_CLAMP), np.float32(TANH_CLAMP))
    s = x * x
    num = np.full_like(s, np.float32(TANH_P[-1]))
    for c in TANH_P[-2::-1]:
        num = num * s + np.float32(c)
    den = np.full_like(s, np.float32(TANH_Q[-1]))
    for c in TANH_Q[-2::-1]:
        den = den * s + np.float32(c)
    return x * num / den


_state: dict = {}  # "numba": the module or None; "reason": why not


def available() -> bool:
    """Whether numba imports here (the kernels compile on first use)."""
    if "numba" not in _state:
        try:
            import numba
        except Exception as exc:  # ImportError, or a broken install's own error
            _state["numba"], _state["reason"] = None, f"{type(exc).__name__}: {exc}"
        else:
            _state["numba"], _state["reason"] = numba, None
    return _state["numba"] is not None


def unavailable_reason() -> str | None:
    """Why numba cannot be used (None when it can)."""
    available()
    return _state["reason"]


def numba_version() -> str | None:
    return _state["numba"].__version__ if available() else None


def host_cpu() -> str | None:
    """The CPU LLVM compiles for (``"znver3"``, ...), or None without numba."""
    if not available():
        return None
    from llvmlite import binding

    try:
        return binding.get_host_cpu_name()
    except RuntimeError:
        return None


def kernel_name() -> str:
    """The per-step product the compiled loops use: ``"generic"`` (``tile.acc_tile`` in
    a pass and ``matmul.acc_rows`` in a streaming step, in LLVM's generic vectors,
    lowered for this host) or ``"numpy"`` without numba."""
    return "generic" if available() else "numpy"


def threading_layer() -> str | None:
    """numba's threading layer once a parallel loop has run, else None."""
    if not available():
        return None
    try:
        return _state["numba"].threading_layer()
    except ValueError:  # no parallel loop ran yet
        return None


def pool_threads(n: int) -> int:
    """At most ``n`` threads of numba's pool (its size is fixed when numba starts)."""
    if not available():
        return 1
    return max(1, min(int(n), _state["numba"].config.NUMBA_NUM_THREADS))


def for_dtype(dtype):
    """True-ish when the accelerator is on and the kernels take ``dtype``, else None
    (``rnnkit.optimizers`` asks it whether to use its compiled Adam update)."""
    from .. import backend

    if backend.accelerator() == "numba" and np.dtype(dtype) in DTYPES:
        return True
    return None


def unsupported(cell, dtype) -> str | None:
    """Why the compiled loop cannot run ``cell`` in ``dtype``, or None when it can."""
    if not available():
        return f"numba is not usable ({unavailable_reason()})"
    if np.dtype(dtype) not in DTYPES:
        return f"dtype {np.dtype(dtype).name} (the kernels take float32 and float64)"
    kind = type(cell).__name__
    if kind == "SimpleRNNCell":
        from .simple_rnn import ACTIVATIONS

        if cell.activation.name not in ACTIVATIONS:
            return f"activation {cell.activation.name!r} (the kernel has {sorted(ACTIVATIONS)})"
        return None
    if kind not in ("LSTMCell", "GRUCell"):
        return f"cell {kind} (the kernels have SimpleRNN, LSTM and GRU)"
    for attr, names in GATED_ACTIVATIONS.items():
        name = getattr(cell, attr).name
        if name not in names:
            return f"{attr} {name!r} (the kernel has {names[0]!r})"
    if kind == "GRUCell" and not getattr(cell, "reset_after", True):
        return "reset_after=False"
    return None


def work_split(batch: int, units: int, gates: int, threads: int) -> tuple[int, int]:
    """(threads, chunk) for a pass: how many of numba's threads to use (1 when a step's
    product is too small to share), and the units per work item: all of them where
    the batch's blocks of four rows share out evenly over the threads (8 blocks on 2
    threads) or nearly (at least ``ROUND_BLOCKS`` per thread: 13 blocks, 7 and 6),
    else as few chunks as make the items whole rounds of the threads (5 blocks on 2
    threads: 10 items of half the units; 1 block: 2 items). A column split costs more
    than its items' balance gains where the blocks alone share out: an LSTM at batch
    8, 128 units, 2 threads, inference / training 19.99 / 63.01 ms on 2 blocks, 22.91 /
    74.69 ms on 4 items of 72 and 56 units (bench/NOTES.md section 19)."""
    threads = pool_threads(threads)
    blocks = -(-batch // 4)
    macs = batch * units * units * gates
    # whole blocks of rows share out evenly, or nearly (one block more on some threads)
    even = blocks % threads == 0 or blocks >= ROUND_BLOCKS * threads
    if macs < PARALLEL_MIN_MACS and (macs < PARALLEL_MIN_MACS_BLOCKS or not even):
        threads = 1
    if threads == 1 or even:
        return threads, units
    per_block = 2  # items in whole rounds of the threads: none idles at a step's end
    while (blocks * per_block) % threads and per_block < threads:
        per_block += 1
    chunk = -(-units // per_block)
    chunk = min(units, -(-chunk // 24) * 24)  # whole float32 panels (``tile``)
    return threads, chunk


def _layout(weight: np.ndarray) -> np.ndarray:
    """The form of ``weight`` (K, N) for a pass's product: packed into panels
    (``tile.pack``), or with ``PRODUCT = "rows"`` C-contiguous as it lies."""
    from .. import backend

    if PRODUCT == "tile":
        from .tile import pack

        return pack(weight)
    return weight if weight.flags.c_contiguous else backend.aligned_copy(weight)


def gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray, threads: int) -> bool:
    """out = a·b on ``threads`` of numba's threads (``tile.gemm``); False, computing
    nothing, where it does not take these arrays."""
    from .tile import gemm as tile_gemm

    threads = pool_threads(threads)
    _set_threads(threads)
    return tile_gemm(a, b, out, threads)


def gemm_columns(a: np.ndarray, b: np.ndarray, out: np.ndarray, threads: int) -> bool:
    """out = a·b on ``threads`` of numba's threads by panels of columns
    (``tile.gemm_columns``): the weight gradients of a pass, and products too large
    for :func:`gemm`; False, computing nothing, where it does not take these arrays."""
    from .tile import gemm_columns as tile_gemm_columns

    threads = pool_threads(threads)
    _set_threads(threads)
    return tile_gemm_columns(a, b, out, threads)


def _set_threads(threads: int) -> None:
    if threads > 1:
        _state["numba"].set_num_threads(threads)  # (per calling thread)


_NONE = {}


def _none(shape_dims: int, dtype) -> np.ndarray:
    """An empty array standing for "none" (the kernels test shape[0] > 0)."""
    key = (shape_dims, np.dtype(dtype))
    arr = _NONE.get(key)
    if arr is None:
        arr = _NONE[key] = np.empty((0,) * shape_dims, dtype)
    return arr


def forward(cell, xw, S, cache, h_rec, keep, rec_mask, threads: int) -> None:
    """Run ``cell``'s forward over all steps, as the layer's reference loop would
    (``rnnkit.layers.recurrent``): xw (T, B, G·H) holds x·U + b; S the layer's state
    buffers, [k][0] the initial states; ``cache`` the cell's buffers; h_rec (T, B, H)
    with [0] filled, or None without recurrent dropout; keep (T, B) bool or None;
    rec_mask (B, H) or None."""
    dtype = xw.dtype
    steps, batch, _ = xw.shape
    units = cell.units
    threads, chunk = work_split(batch, units, cell.n_gates, threads)
    keep = _none(2, np.uint8) if keep is None else np.ascontiguousarray(keep).view(np.uint8)
    rm = _none(2, dtype) if rec_mask is None else np.ascontiguousarray(rec_mask, dtype)
    hr = _none(3, dtype) if h_rec is None else h_rec
    w = _layout(cell.params["recurrent_kernel"])
    _set_threads(threads)
    kind = type(cell).__name__
    if kind == "LSTMCell":
        from .lstm import lstm_forward

        lstm_forward(threads, xw, w, S[0], S[1], cache["act_c"], hr, keep, rm, chunk)
    elif kind == "GRUCell":
        from .gru import gru_forward

        b_rec = cell.params["bias"][1] if cell.use_bias else np.zeros(xw.shape[2], dtype)
        gru_forward(threads, xw, w, b_rec, S[0], cache["rec_h"], hr, keep, rm, chunk)
    else:
        from .simple_rnn import ACTIVATIONS, simple_rnn_forward

        act = ACTIVATIONS[cell.activation.name]
        simple_rnn_forward(threads, xw, w, S[0], hr, keep, rm, act, chunk)


def backward(cell, dz, S, cache, keep, rec_mask, dy, d_final, threads: int):
    """BPTT over all steps of the last :func:`forward`: dz (T, B, G·H) holds the gates
    (LSTM, GRU; SimpleRNN: any buffer) and receives dL/d(x_t·U + b); dy (B, T, H), the
    output gradients in reading order, or None; d_final, one (B, H) array per state,
    dL/d(final states) (updated in place into the initial states' gradients). Returns
    the buffer holding the columns of dL/d(h_{t-1}·W) that differ from dz's (GRU: the
    h~ block, in ``cache["rec_h"]``), or ``dz`` itself."""
    dtype = dz.dtype
    steps, batch, _ = dz.shape
    units = cell.units
    threads, chunk = work_split(batch, units, cell.n_gates, threads)
    keep = _none(2, np.uint8) if keep is None else np.ascontiguousarray(keep).view(np.uint8)
    rm = _none(2, dtype) if rec_mask is None else np.ascontiguousarray(rec_mask, dtype)
    dy = _none(3, dtype) if dy is None else dy
    w_t = _layout(cell.params["recurrent_kernel"].T)  # the product with Wᵀ
    dh_next = np.empty((batch, units), dtype)
    _set_threads(threads)
    kind = type(cell).__name__
    if kind == "LSTMCell":
        from .lstm import lstm_backward

        dh, dc = d_final
        lstm_backward(
            threads, dz, w_t, S[1], cache["act_c"], keep, rm, dy, dh, dc, dh_next, chunk
        )
        return dz
    if kind == "GRUCell":
        from .gru import gru_backward

        dzr = np.empty((batch, 3 * units), dtype)
        gru_backward(
            threads, dz, w_t, S[0], cache["rec_h"], keep, rm, dy, d_final[0], dzr, dh_next, chunk
        )
        return cache["rec_h"]
    from .simple_rnn import ACTIVATIONS, simple_rnn_backward

    act = ACTIVATIONS[cell.activation.name]
    simple_rnn_backward(threads, dz, w_t, S[0], keep, rm, dy, d_final[0], dh_next, act, chunk)
    return dz


def step(cell, x, states) -> list[np.ndarray]:
    """One streaming step (``RNN.step``) of any batch as one compiled call: x (B, I) and
    the states (B, H) C-contiguous arrays of the weights' dtype. Returns the new states,
    new arrays."""
    dtype = x.dtype
    batch, units = x.shape[0], cell.units
    p = cell.params
    u, w = p["kernel"], p["recurrent_kernel"]
    b = cell.input_bias() if cell.use_bias else np.zeros(u.shape[1], dtype)
    s = [np.empty((2, batch, units), dtype) for _ in states]
    for buf, prev in zip(s, states):
        buf[0] = prev
    xw = np.empty((1, batch, u.shape[1]), dtype)
    keep, rm, hr = _none(2, np.uint8), _none(2, dtype), _none(3, dtype)
    kind = type(cell).__name__
    if kind == "LSTMCell":
        from .lstm import lstm_step

        act_c = np.empty((1, batch, units), dtype)
        lstm_step(x, u, b, w, s[0], s[1], xw, act_c, keep, rm, hr)
    elif kind == "GRUCell":
        from .gru import gru_step

        b_rec = p["bias"][1] if cell.use_bias else np.zeros(w.shape[1], dtype)
        rec_h = np.empty((1, batch, units), dtype)
        gru_step(x, u, b, w, b_rec, s[0], xw, rec_h, keep, rm, hr)
    else:
        from .simple_rnn import ACTIVATIONS, simple_rnn_step

        simple_rnn_step(x, u, b, w, s[0], xw, keep, rm, hr, ACTIVATIONS[cell.activation.name])
    return [buf[1] for buf in s]

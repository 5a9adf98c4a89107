"""Optional accelerator: a cell step's element-wise work as one compiled loop.

The NumPy code in each cell is the reference: it reads like the equations and every
gradient test checks it. This module states the same step equations once more as
numba kernels, so that a step's element-wise work is one pass over its arrays
instead of some fifteen NumPy calls, each a separate pass with its own Python
overhead (bench/NOTES.md measures the difference). The matrix products stay in
NumPy/BLAS, and the time loop stays in ``rnnkit.layers.recurrent``.

It is used when numba is installed (``pip install rnnkit[fast]``) and
``rnnkit.backend.accelerator()`` is ``"numba"`` (the default ``"auto"`` picks it
when numba imports), for cells with their default activations (σ gates, tanh) in
float32 or float64. The test suite runs every gradient check and PyTorch
cross-check of the LSTM through both paths.

float64 kernels call the exact ``math.tanh``. float32 kernels use a rational
approximation of tanh that the compiler can vectorise (without Intel's SVML,
numba's ``math.tanh`` is a scalar libm call, 50x slower than NumPy's SIMD tanh):

    tanh(x) ≈ x·p(x²) / q(x²),  x clamped to [-7.9, 7.9],

with p of degree 6 and q of degree 3 in x², fitted here by Lawson-weighted linear
least squares for relative error over [0, 7.9] (``tests/test_fused.py`` holds the
error: at most 6 float32 ulps or 3.3e-7 absolute over [-12, 12], against NumPy's
1.4 ulps; σ(x) = ½ + ½·tanh(x/2) inherits an absolute error below 2e-7).
"""

from __future__ import annotations

import time

import numpy as np

from .. import backend

_TANH_CLAMP = 7.9
# coefficients of p (x^0 .. x^12 in powers of x²) and q (x^0 .. x^6)
_TANH_P = (
    9.99999998e-01,
    1.31281403e-01,
    3.15365730e-03,
    1.16896175e-05,
    -2.25258316e-08,
    6.48297817e-11,
    -1.19247755e-13,
)
_TANH_Q = (1.0, 4.64614721e-01, 2.46919252e-02, 2.61934528e-04)


def tanh_f32_reference(x: np.ndarray) -> np.ndarray:
    """The float32 kernels' tanh, in NumPy (for tests and documentation)."""
    x = np.clip(np.asarray(x, np.float32), -np.float32(_TANH_CLAMP), np.float32(_TANH_CLAMP))
    s = x * x
    num = np.full_like(s, np.float32(_TANH_P[-1]))
    for c in _TANH_P[-2::-1]:
        num = num * s + np.float32(c)
    den = np.full_like(s, np.float32(_TANH_Q[-1]))
    for c in _TANH_Q[-2::-1]:
        den = den * s + np.float32(c)
    return x * num / den


_kernels = None  # the compiled kernels' module, or False when numba is missing


def kernels():
    """The kernels' module (compiled on first use of each kernel); None when numba is
    not installed."""
    global _kernels
    if _kernels is None:
        try:
            from . import _fused_numba
        except ImportError:
            _kernels = False
        else:
            _kernels = _fused_numba
    return _kernels or None


_FUSED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_resolved: dict = {}


def for_dtype(dtype):
    """The kernels to use for arrays of ``dtype`` under the current accelerator
    setting (``rnnkit.backend.set_accelerator`` / ``RNNKIT_ACCELERATOR``), or None for
    the NumPy path. Cheap enough to call every step."""
    key = (backend._accelerator, dtype)
    found = _resolved.get(key)
    if found is None:
        use = backend.accelerator() == "numba" and np.dtype(dtype) in _FUSED_DTYPES
        found = _resolved[key] = (kernels() if use else None,)
    return found[0]


# ---- the recurrent product of a step, on weights packed once per pass ------------
# ``_fused_numba.packed_matmul`` multiplies by W (or Wᵀ, backward) copied once per pass
# into 48-column panels, where OpenBLAS re-packs the weights in every one of the T calls
# of a pass. One core, float32, aligned arrays, µs, BLAS / packed (bench/NOTES.md row
# 46, Zen 5): (20, 650)·(650, 2600) 510 / 320, (20, 2600)·(2600, 650) 572 / 314, (64,
# 512)·(512, 2048) 1040 / 628, (32, 128)·(128, 512) 32.4 / 19.8, (16, 128)·(128, 384) 9.5
# / 7.8; level at (8, 512)·(512, 128) 6.7 / 6.6 and (50, 50)·(50, 200) 6.7 / 6.9; lost
# where the last panel is mostly padding, (50, 150)·(150, 50) 6.4 / 7.7. The rule is
# fixed, not timed: a timed choice between two close alternatives flips from run to run
# (it did at (16, 128)·(128, 384)), and the two sum in different orders, so the same
# seed would train to different floats. The kernel's speed rests on 16-float vector
# registers: on a CPU without AVX-512 LLVM splits each in two and runs out of registers,
# so there BLAS keeps every product (``_fused_numba.WIDE_VECTORS``).
PANEL = 48  # columns per panel: three 16-float vector registers per row of a block
PACKED_DTYPES = (np.dtype(np.float32),)
# below 2^20 multiply-adds a call's fixed costs (numba's dispatch of three arrays, about
# 1 µs more than np.dot's) ate the gain: training steps 0.95-0.97x at the seeds shape,
# SimpleRNN (32, 128)·(128, 128) and the batch-8 long shape (bench/NOTES.md row 46)
PACKED_MIN_MACS = 1 << 20
PACKED_MAX_PADDING = 1.25  # at most this many columns computed per column kept


def pack_panels(b: np.ndarray) -> np.ndarray:
    """b (K, N) as ``packed_matmul``'s panels: (ceil(N / 48), K, 48), each panel 48 of
    b's columns row by row, the last one zero-padded; an aligned new array."""
    k, n = b.shape
    count = -(-n // PANEL)
    panels = backend.aligned_empty((count, k, PANEL), b.dtype)
    full = n // PANEL
    panels[:full] = b[:, : full * PANEL].reshape(k, full, PANEL).transpose(1, 0, 2)
    if full < count:
        panels[full, :, : n - full * PANEL] = b[:, full * PANEL :]
        panels[full, :, n - full * PANEL :] = 0
    return panels


def recurrent_matmul(rows: int, inner: int, cols: int, dtype, threads: int | None):
    """How one pass should form its per-step products a·b, a (rows, inner) and b
    (inner, cols): ``kernels().packed_matmul``, called as ``f(a, pack_panels(b), out)``,
    or None for NumPy's BLAS (accelerator off, numba missing, another dtype, a shape
    where BLAS is as fast, or more than one thread).

    ``threads``: the BLAS threads the pass may use (``RNN.blas_threads``). The kernel
    runs on one thread only: a compiled product split over numba's thread pool beat
    two-thread OpenBLAS alone, but inside a training step, next to OpenBLAS's own
    threads (which keep spinning after each of the step's large products), it made the
    step 10-30 % slower (bench/NOTES.md rows 26-27)."""
    if threads != 1 or for_dtype(dtype) is None or np.dtype(dtype) not in PACKED_DTYPES:
        return None
    return kernels().packed_matmul if packed_worthwhile(rows, inner, cols) else None


def packed_worthwhile(rows: int, inner: int, cols: int) -> bool:
    """Whether ``packed_matmul`` should make a (rows, inner)·(inner, cols) product
    (float32, one thread): on a CPU with 16-float vector registers, a product of at
    least PACKED_MIN_MACS multiply-adds whose last panel is not mostly padding. The
    test suite makes it always true, so that every gradient check and PyTorch
    cross-check of the numba path runs through the kernel."""
    kernel = kernels()
    if kernel is None or not kernel.WIDE_VECTORS or rows * inner * cols < PACKED_MIN_MACS:
        return False
    return -(-cols // PANEL) * PANEL <= PACKED_MAX_PADDING * cols


def _faster(candidate, reference, margin: float) -> bool:
    """Whether ``candidate`` runs at least ``margin`` times faster than ``reference``:
    a warm-up each, then 5 interleaved rounds of 4 calls, medians."""
    times = {reference: [], candidate: []}
    for f in times:
        f()
    for _ in range(5):
        for f, acc in times.items():
            t0 = time.perf_counter()
            for _ in range(4):
                f()
            acc.append(time.perf_counter() - t0)
    return float(np.median(times[reference])) > margin * float(np.median(times[candidate]))


# ---- a step's product with W as one product per gate block ----------------------------
# With W's G gate blocks copied once per pass into a (G, H, H) stack, h·W is one batched
# np.matmul, (B, H)·(G, H, H), written straight into the (B, G·H) result through a
# (G, B, H) strided view: G BLAS calls of N = H instead of one of N = G·H, and nothing
# else in the step changes. Backward, dz·Wᵀ is the sum over the gates of dz_g·(Wᵀ)_g:
# one batched product into a (G, B, H) buffer, then G - 1 additions (another order of
# summation, so not the same last bits). Which is faster is OpenBLAS's business and
# varies with the shape without a pattern one could write down (bench/NOTES.md row 40;
# one core, Zen 5, aligned weights, µs, one product / gate blocks: forward (32, 128)
# LSTM 25.8 / 18.5, backward 26.3 / 21.0; at (16, 128) the forward wins, the backward
# loses; (8, 128), (50, 50) and (20, 650) lose 5-60 %). So it is measured: the first
# pass with a new (batch, units, gates, dtype) times both ways on that shape (about 40
# calls, a few ms at most), each direction apart, and keeps gate blocks only when they
# are at least GATE_BLOCKS_MARGIN faster, so that noise does not flip a close call from
# run to run.
GATE_BLOCKS_MARGIN = 1.15
# products outside these bounds (multiply-adds) are not measured and stay one product:
# small ones lost everywhere measured (a call per gate costs more than it saves, and
# timing them is noise), large ones would make the measurement itself slow
GATE_BLOCKS_MIN_MACS = 1 << 18
GATE_BLOCKS_MAX_MACS = 1 << 27
_gate_blocks_choice: dict = {}


def gate_blocks_product(h: np.ndarray, w_blocks: np.ndarray, out: np.ndarray) -> None:
    """out (B, G·H, C-contiguous) = h·W, from ``w_blocks`` (G, H, H), W's gate blocks."""
    g, _, units = w_blocks.shape
    if not out.flags.c_contiguous:  # (a reshape would write into a copy)
        raise ValueError("gate_blocks_product: out must be C-contiguous")
    np.matmul(h, w_blocks, out=out.reshape(out.shape[0], g, units).transpose(1, 0, 2))


def gate_blocks_product_t(dz: np.ndarray, wt_blocks: np.ndarray, out, tmp) -> None:
    """out (B, H) = dz·Wᵀ = Σ_g dz_g·(Wᵀ)_g, from dz (B, G·H, C-contiguous) and
    ``wt_blocks`` (G, H, H), Wᵀ's gate blocks; ``tmp`` (G, B, H) holds the G products."""
    g, units, _ = wt_blocks.shape
    np.matmul(dz.reshape(dz.shape[0], g, units).transpose(1, 0, 2), wt_blocks, out=tmp)
    np.add(tmp[0], tmp[1], out=out)
    for k in range(2, g):
        out += tmp[k]


def gate_blocks(w: np.ndarray, gates: int) -> np.ndarray:
    """W (H, G·H) as its (G, H, H) stack of gate blocks (an aligned copy)."""
    units = w.shape[1] // gates
    return backend.aligned_copy(w.reshape(w.shape[0], gates, units).transpose(1, 0, 2))


def gate_blocks_faster(
    rows: int, units: int, gates: int, dtype, threads: int | None, backward: bool = False
) -> bool:
    """Whether a pass should form h_{t-1}·W by :func:`gate_blocks_product` (or, with
    ``backward``, dz·Wᵀ by :func:`gate_blocks_product_t`): measured once per shape,
    dtype and direction, then cached. Only with the accelerator on (``"numpy"`` keeps
    the reference's single product), one thread, G >= 2 and float dtypes."""
    if threads != 1 or gates < 2 or for_dtype(dtype) is None:
        return False
    key = (rows, units, gates, np.dtype(dtype), backward)
    found = _gate_blocks_choice.get(key)
    if found is None:
        found = _measure_gate_blocks(rows, units, gates, dtype, backward)
        _gate_blocks_choice[key] = found
    return found


def _measure_gate_blocks(rows, units, gates, dtype, backward=False) -> bool:
    if not GATE_BLOCKS_MIN_MACS <= rows * units * units * gates <= GATE_BLOCKS_MAX_MACS:
        return False
    rng = np.random.default_rng(0)

    def aligned(*shape):
        return backend.aligned_copy(rng.standard_normal(shape).astype(dtype))

    w = aligned(units, gates * units)
    if backward:
        dz, w_t, out = aligned(rows, gates * units), backend.aligned_copy(w.T), aligned(rows, units)
        blocks, tmp = w_t.reshape(gates, units, units), aligned(gates, rows, units)

        def one():
            np.dot(dz, w_t, out=out)

        def by_blocks():
            gate_blocks_product_t(dz, blocks, out, tmp)

    else:
        h, blocks, out = aligned(rows, units), gate_blocks(w, gates), aligned(rows, gates * units)

        def one():
            np.dot(h, w, out=out)

        def by_blocks():
            gate_blocks_product(h, blocks, out)

    return _faster(by_blocks, one, GATE_BLOCKS_MARGIN)


# ---- a streaming step of one row as one call --------------------------------------
# ``_fused_numba.*_row_step`` accumulates each product a row of the weights at a time.
# One core, float32, µs, for h·W (bench/NOTES.md row 38): (1, 128)·(128, 384) 1.95
# against OpenBLAS's 2.21, (1, 256)·(256, 768) 7.3 against 8.1, (1, 384)·(384, 1152)
# 18.3 against 19.6; (1, 512)·(512, 1536) 28.8 against 27.0, (1, 650)·(650, 1950) 50
# against 38: once the weights leave the core's L2 (1 MiB here), BLAS streams them
# better, and the calls saved (about 2 µs) no longer matter beside the products.
ROW_STEP_MAX_BYTES = 1 << 20


def row_step_worthwhile(*weights: np.ndarray) -> bool:
    """Whether a streaming step with these weight matrices should be one compiled
    call (``Cell.row_step``): each of them at most ``ROW_STEP_MAX_BYTES``."""
    return all(w.nbytes <= ROW_STEP_MAX_BYTES for w in weights)

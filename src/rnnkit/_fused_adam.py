"""The numba accelerator's optimizer updates, each one pass over its arrays, and the
embedding's row-sparse gradient.

``Adam._update`` in NumPy makes eleven passes over arrays the size of the weights
(the moments, the square root, the step); for a layer of 3.4 million weights (the
language-model LSTM) each pass leaves the cache, and the update takes 9 ms. This
loop reads p, g, m and v once and writes p, m and v once (bench/NOTES.md row 29).
It performs the same operations in the same order and precision as the NumPy lines,
without fast-math (no fused multiply-adds, no reassociation), so that it gives the
same floats; ``tests/test_fused.py`` holds it to that.

The ``*_rows`` kernels take a row-sparse gradient (``optimizers.RowSparse``: sorted
unique ``rows`` and their ``values``) of a 2-D weight, an embedding table. With the
dense semantics (Keras's, PyTorch's dense optimizers) every row's moments still decay
on every step, and under Adam or momentum every row still moves, so the pass still
covers the whole table, but reads no gradient array for the rows the batch did not
use: their gradient is a row of zeros, put through the same operations as in the
dense lines so that the floats are the dense update's (``tests/test_optimizers_sparse.py``).
``lazy_adam_rows`` is ``optimizers.LazyAdam``'s update: the touched rows only.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(error_model="numpy", cache=True, nogil=True)
def adam_update(p, g, m, v, beta_1, one_minus_beta_1, beta_2, one_minus_beta_2, step, c2, eps):
    """In place over 1-D arrays of one dtype (scalars in that dtype too):
    m ← β1·m + (1-β1)·g;  v ← β2·v + (1-β2)·g²;  p ← p - step·m / (√v / c2 + ε),
    with c2 = 1 for Keras's form (step then carries √(1-β2^t)) and √(1-β2^t) for
    PyTorch's."""
    torch_form = c2 != 1
    for k in range(p.shape[0]):
        gk = g[k]
        mk = m[k] * beta_1 + gk * one_minus_beta_1
        vk = v[k] * beta_2 + (gk * gk) * one_minus_beta_2
        m[k] = mk
        v[k] = vk
        denom = np.sqrt(vk)
        if torch_form:
            denom = denom / c2
        p[k] = p[k] - (mk * step) / (denom + eps)


# The row kernels below walk the table as segments: the run of untouched rows before
# each row used (gradient 0), then that row. Each segment is a slice handed to a loop
# over range(len): a loop over range(lo, hi) on the whole array is not vectorised (numba
# cannot tell that the index is not negative, and wraps it), 6x slower here.


@numba.njit(error_model="numpy", cache=True, nogil=True)
def _adam_zero_grad(p, m, v, beta_1, omb1, beta_2, omb2, step, c2, eps):
    # adam_update's lines with g = 0, no gradient array read; the zero goes through the
    # same products as in the dense lines, so that the floats are the dense update's
    torch_form = c2 != 1
    zero = step - step
    gm = zero * omb1
    gv = (zero * zero) * omb2
    for k in range(p.shape[0]):
        mk = m[k] * beta_1 + gm
        vk = v[k] * beta_2 + gv
        m[k] = mk
        v[k] = vk
        denom = np.sqrt(vk)
        if torch_form:
            denom = denom / c2
        p[k] = p[k] - (mk * step) / (denom + eps)


@numba.njit(error_model="numpy", cache=True, nogil=True)
def adam_rows(p, rows, values, m, v, beta_1, omb1, beta_2, omb2, step, c2, eps):
    """``adam_update`` over a 2-D p (and m, v) whose gradient is ``values`` on the
    sorted unique ``rows`` and zero elsewhere: every row updated, in one pass."""
    n = p.shape[1]
    pf, mf, vf = p.reshape(-1), m.reshape(-1), v.reshape(-1)
    scalars = (beta_1, omb1, beta_2, omb2, step, c2, eps)
    start = 0
    for j in range(rows.shape[0]):
        lo, hi = rows[j] * n, (rows[j] + 1) * n
        _adam_zero_grad(pf[start:lo], mf[start:lo], vf[start:lo], *scalars)
        adam_update(pf[lo:hi], values[j], mf[lo:hi], vf[lo:hi], *scalars)
        start = hi
    _adam_zero_grad(pf[start:], mf[start:], vf[start:], *scalars)


@numba.njit(error_model="numpy", cache=True, nogil=True)
def lazy_adam_rows(p, rows, values, m, v, beta_1, omb1, beta_2, omb2, step, c2, eps):
    """Adam's lines over the given rows only (LazyAdam / SparseAdam): the other rows'
    weights and moments are not touched."""
    for j in range(rows.shape[0]):
        r = rows[j]
        adam_update(p[r], values[j], m[r], v[r], beta_1, omb1, beta_2, omb2, step, c2, eps)


@numba.njit(error_model="numpy", cache=True, nogil=True)
def _momentum_segment(p, g, vel, momentum, lr, nesterov, gzero):
    # SGD._update's lines: v ← momentum·v - lr·g;  p ← p + v (Nesterov: + momentum·v - lr·g);
    # with gzero, g = 0 and the array g is not read
    zero = lr - lr
    for k in range(p.shape[0]):
        gk = zero if gzero else g[k]
        vk = vel[k] * momentum
        vk = vk - lr * gk
        vel[k] = vk
        if nesterov:
            p[k] = p[k] + (momentum * vk - lr * gk)
        else:
            p[k] = p[k] + vk


@numba.njit(error_model="numpy", cache=True, nogil=True)
def momentum_rows(p, rows, values, vel, momentum, lr, nesterov):
    """SGD with momentum over a 2-D p, gradient ``values`` on ``rows``, zero elsewhere."""
    n = p.shape[1]
    pf, vf = p.reshape(-1), vel.reshape(-1)
    start = 0
    for j in range(rows.shape[0]):
        lo, hi = rows[j] * n, (rows[j] + 1) * n
        _momentum_segment(pf[start:lo], pf, vf[start:lo], momentum, lr, nesterov, True)
        _momentum_segment(pf[lo:hi], values[j], vf[lo:hi], momentum, lr, nesterov, False)
        start = hi
    _momentum_segment(pf[start:], pf, vf[start:], momentum, lr, nesterov, True)


@numba.njit(error_model="numpy", cache=True, nogil=True)
def _rmsprop_segment(p, g, a, rho, one_minus_rho, lr, eps, gzero):
    # RMSprop._update's lines: a ← ρ·a + (1-ρ)·g²;  p ← p - lr·g / (√a + ε); with gzero,
    # g = 0 and the array g is not read
    zero = lr - lr
    for k in range(p.shape[0]):
        gk = zero if gzero else g[k]
        ak = a[k] * rho
        ak = ak + (one_minus_rho * gk) * gk
        a[k] = ak
        p[k] = p[k] - (lr * gk) / (np.sqrt(ak) + eps)


@numba.njit(error_model="numpy", cache=True, nogil=True)
def rmsprop_rows(p, rows, values, a, rho, one_minus_rho, lr, eps):
    """RMSprop over a 2-D p, gradient ``values`` on ``rows``, zero elsewhere."""
    n = p.shape[1]
    pf, af = p.reshape(-1), a.reshape(-1)
    start = 0
    for j in range(rows.shape[0]):
        lo, hi = rows[j] * n, (rows[j] + 1) * n
        _rmsprop_segment(pf[start:lo], pf, af[start:lo], rho, one_minus_rho, lr, eps, True)
        _rmsprop_segment(pf[lo:hi], values[j], af[lo:hi], rho, one_minus_rho, lr, eps, False)
        start = hi
    _rmsprop_segment(pf[start:], pf, af[start:], rho, one_minus_rho, lr, eps, True)


@numba.njit(cache=True, nogil=True)
def embedding_row_grad(ids, dy, input_dim):
    """The embedding's gradient as (rows, values): the sorted unique ids of ``ids``
    (1-D, each in [0, input_dim)) and, for each, the sum of the rows of ``dy`` (2-D,
    one row per id) that used it, added in the order of ``ids`` (as ``np.add.at`` on a
    dense table adds them). Costs O(len(ids) + input_dim) integer work and
    O(len(ids) · columns) adds, no (input_dim, columns) array."""
    slot = np.zeros(input_dim, np.int64)
    for k in range(ids.shape[0]):
        slot[ids[k]] = 1
    rows = np.empty(min(ids.shape[0], input_dim), np.int64)
    n = 0
    for r in range(input_dim):
        if slot[r]:
            slot[r] = n
            rows[n] = r
            n += 1
    values = np.zeros((n, dy.shape[1]), dy.dtype)
    for k in range(ids.shape[0]):
        out = values[slot[ids[k]]]
        row = dy[k]
        for c in range(row.shape[0]):
            out[c] += row[c]
    return rows[:n].copy(), values

"""The per-step recurrent product of the compiled loops, as loops LLVM vectorises.

    out[r, oc:oc+n] += a[r, :]·w[:, wc:wc+n]        for r0 <= r < r1

for a (M, K), w (K, N) C-contiguous, out (M, N'): the generic kernel, portable to any
instruction set. For each block of four rows of ``a``, four rows of ``w`` at a time are
broadcast-multiplied into the block's four output rows, the innermost loop running over
contiguous output columns (what LLVM turns into vector fused multiply-adds for the
host: 8 floats wide on AVX2, 16 on AVX-512, 4 on NEON). Each output element is summed
over k in order, k = 0, 1, ..., K-1, whatever the blocking: a thread given other rows or
columns of ``out`` never changes a sum, so results do not depend on the thread count.
"""

from __future__ import annotations

import numba

from ._math import _OPTIONS, jit


@jit
def acc_rows(a, w, out, r0, r1, wc, oc, n):
    """out[r, oc:oc+n] += a[r]·w[:, wc:wc+n] for rows r0 <= r < r1 (k summed in
    order)."""
    k_all = w.shape[0]
    k4 = k_all - (k_all & 3)
    j0, j1, c0, c1 = wc, wc + n, oc, oc + n
    r = r0
    while r + 4 <= r1:
        a0, a1, a2, a3 = a[r], a[r + 1], a[r + 2], a[r + 3]
        o0, o1 = out[r, c0:c1], out[r + 1, c0:c1]
        o2, o3 = out[r + 2, c0:c1], out[r + 3, c0:c1]
        for k in range(0, k4, 4):
            w0, w1 = w[k, j0:j1], w[k + 1, j0:j1]
            w2, w3 = w[k + 2, j0:j1], w[k + 3, j0:j1]
            x00, x01, x02, x03 = a0[k], a0[k + 1], a0[k + 2], a0[k + 3]
            x10, x11, x12, x13 = a1[k], a1[k + 1], a1[k + 2], a1[k + 3]
            x20, x21, x22, x23 = a2[k], a2[k + 1], a2[k + 2], a2[k + 3]
            x30, x31, x32, x33 = a3[k], a3[k + 1], a3[k + 2], a3[k + 3]
            for j in range(n):
                v0, v1, v2, v3 = w0[j], w1[j], w2[j], w3[j]
                o0[j] = o0[j] + x00 * v0 + x01 * v1 + x02 * v2 + x03 * v3
                o1[j] = o1[j] + x10 * v0 + x11 * v1 + x12 * v2 + x13 * v3
                o2[j] = o2[j] + x20 * v0 + x21 * v1 + x22 * v2 + x23 * v3
                o3[j] = o3[j] + x30 * v0 + x31 * v1 + x32 * v2 + x33 * v3
        for k in range(k4, k_all):
            w0 = w[k, j0:j1]
            x0, x1, x2, x3 = a0[k], a1[k], a2[k], a3[k]
            for j in range(n):
                v0 = w0[j]
                o0[j] = o0[j] + x0 * v0
                o1[j] = o1[j] + x1 * v0
                o2[j] = o2[j] + x2 * v0
                o3[j] = o3[j] + x3 * v0
        r += 4
    while r < r1:
        a0, o0 = a[r], out[r, c0:c1]
        for k in range(0, k4, 4):
            w0, w1 = w[k, j0:j1], w[k + 1, j0:j1]
            w2, w3 = w[k + 2, j0:j1], w[k + 3, j0:j1]
            x0, x1, x2, x3 = a0[k], a0[k + 1], a0[k + 2], a0[k + 3]
            for j in range(n):
                o0[j] = o0[j] + x0 * w0[j] + x1 * w1[j] + x2 * w2[j] + x3 * w3[j]
        for k in range(k4, k_all):
            w0, x0 = w[k, j0:j1], a0[k]
            for j in range(n):
                o0[j] = o0[j] + x0 * w0[j]
        r += 1


@jit
def project(x, u, b, out):
    """out (B, N) = x·u + b for x (B, K), u (K, N), b (N,): a streaming step's input
    projection, inside its compiled call."""
    for r in range(x.shape[0]):
        out[r, :] = b
    acc_rows(x, u, out, 0, x.shape[0], 0, 0, u.shape[1])


# ---- the same product on Wᵀ, packed once per pass: the loops' kernel -------------------
# out[r, j] = Σ_k a[r, k]·wt[j, k], each entry a dot product of two contiguous rows.
# Two rows by four columns at a time: eight sums the compiler keeps in vector registers
# over the whole k loop (six loads per eight multiply-adds, and nothing stored until the
# end), where ``acc_rows`` loads and stores its output rows again every four k. A sum
# is split into vector lanes, hence ``reassoc`` here and nowhere else: which path forms
# an entry depends only on its row and column (pairs of rows from r0, groups of four
# columns from wc), never on how a step is split over threads.
_DOT = _OPTIONS | {"fastmath": {"contract", "reassoc"}}


@numba.njit(**_DOT)
def _dot2x4(a0, a1, w0, w1, w2, w3):
    z = a0.dtype.type(0)
    s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = z
    for k in range(a0.shape[0]):
        x0, x1 = a0[k], a1[k]
        v0, v1, v2, v3 = w0[k], w1[k], w2[k], w3[k]
        s00 += x0 * v0
        s01 += x0 * v1
        s02 += x0 * v2
        s03 += x0 * v3
        s10 += x1 * v0
        s11 += x1 * v1
        s12 += x1 * v2
        s13 += x1 * v3
    return s00, s01, s02, s03, s10, s11, s12, s13


@numba.njit(**_DOT)
def _dot1x4(a0, w0, w1, w2, w3):
    z = a0.dtype.type(0)
    s0 = s1 = s2 = s3 = z
    for k in range(a0.shape[0]):
        x0 = a0[k]
        s0 += x0 * w0[k]
        s1 += x0 * w1[k]
        s2 += x0 * w2[k]
        s3 += x0 * w3[k]
    return s0, s1, s2, s3


@numba.njit(**_DOT)
def _dot1(a0, w0):
    s = a0.dtype.type(0)
    for k in range(a0.shape[0]):
        s += a0[k] * w0[k]
    return s


@jit
def acc_dot(a, wt, out, r0, r1, wc, oc, n):
    """out[r, oc:oc+n] += a[r]·wt[wc:wc+n]ᵀ for rows r0 <= r < r1: the product with W
    given as Wᵀ (N, K) C-contiguous."""
    j4 = n - (n & 3)
    for j in range(0, j4, 4):
        w0, w1, w2, w3 = wt[wc + j], wt[wc + j + 1], wt[wc + j + 2], wt[wc + j + 3]
        c = oc + j
        r = r0
        while r + 2 <= r1:
            s = _dot2x4(a[r], a[r + 1], w0, w1, w2, w3)
            o0, o1 = out[r], out[r + 1]
            o0[c] += s[0]
            o0[c + 1] += s[1]
            o0[c + 2] += s[2]
            o0[c + 3] += s[3]
            o1[c] += s[4]
            o1[c + 1] += s[5]
            o1[c + 2] += s[6]
            o1[c + 3] += s[7]
            r += 2
        if r < r1:
            s4 = _dot1x4(a[r], w0, w1, w2, w3)
            o0 = out[r]
            o0[c] += s4[0]
            o0[c + 1] += s4[1]
            o0[c + 2] += s4[2]
            o0[c + 3] += s4[3]
    for j in range(j4, n):
        for r in range(r0, r1):
            out[r, oc + j] += _dot1(a[r], wt[wc + j])


@jit
def acc(a, w, wt, out, r0, r1, wc, oc, n):
    """out[r, oc:oc+n] += a[r]·W[:, wc:wc+n] by whichever of W (K, N) or Wᵀ (N, K) the
    caller packed (the other an empty (0, 0) array): ``acc_dot`` on Wᵀ, else
    ``acc_rows`` on W."""
    if wt.shape[0] > 0:
        acc_dot(a, wt, out, r0, r1, wc, oc, n)
    else:
        acc_rows(a, w, out, r0, r1, wc, oc, n)

"""The per-step recurrent product of the compiled loops, and its dispatch.

    out[r, oc:oc+n] += a[r, :]·w[:, wc:wc+n]        for r0 <= r < r1

for a (M, K), w (K, N) C-contiguous, out (M, N'). A pass (forward or BPTT over all
steps) packs W once and runs ``tile.acc_tile``; a streaming step, which would pay a
packing per step, runs ``acc_rows`` on W as it lies: for each block of four rows of
``a``, four rows of ``w`` at a time are broadcast-multiplied into the block's four
output rows, the innermost loop running over contiguous output columns (what LLVM
turns into vector fused multiply-adds for the host). In both, each output element is
summed over k in order, k = 0, 1, ..., K-1, whatever the blocking: a thread given
other rows or columns of ``out`` never changes a sum, so results do not depend on the
thread count.
"""

from __future__ import annotations

from numba.extending import overload

from ._math import _OPTIONS, jit
from .tile import acc_tile


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


def acc(a, w, out, r0, r1, wc, oc, n):
    """out[r, oc:oc+n] += a[r]·W[:, wc:wc+n] for W in either form, chosen when numba
    compiles the caller (by ``w``'s dimensions, so that no branch sits in the loop):
    ``w`` (P, K, NR), W packed into panels by ``tile.pack`` (a pass), runs
    ``tile.acc_tile``; ``w`` (K, N), W as it lies (a streaming step), runs
    ``acc_rows``."""
    raise TypeError("matmul.acc runs inside compiled code only")


@overload(acc, jit_options=_OPTIONS)
def _acc(a, w, out, r0, r1, wc, oc, n):
    if w.ndim == 3:
        return lambda a, w, out, r0, r1, wc, oc, n: acc_tile(a, w, out, r0, r1, wc, oc, n)
    return lambda a, w, out, r0, r1, wc, oc, n: acc_rows(a, w, out, r0, r1, wc, oc, n)

"""numba kernels of ``rnnkit.cells.fused`` (imported only when numba is installed)."""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import overload

from .fused import _TANH_CLAMP, _TANH_P, _TANH_Q

p0, p1, p2, p3, p4, p5, p6 = (np.float32(c) for c in _TANH_P)
q0, q1, q2, q3 = (np.float32(c) for c in _TANH_Q)
clamp = np.float32(_TANH_CLAMP)
half32, one32 = np.float32(0.5), np.float32(1.0)


def tanh_(x):
    raise NotImplementedError  # typed by the overload below


def sigmoid_(x):
    raise NotImplementedError


def one_(x):
    raise NotImplementedError


@overload(tanh_, inline="always")
def _tanh(x):
    if x == types.float32:

        def impl(x):
            x = min(max(x, -clamp), clamp)
            s = x * x
            num = p0 + s * (p1 + s * (p2 + s * (p3 + s * (p4 + s * (p5 + s * p6)))))
            return x * num / (q0 + s * (q1 + s * (q2 + s * q3)))

        return impl
    return lambda x: math.tanh(x)


@overload(sigmoid_, inline="always")
def _sigmoid(x):
    if x == types.float32:
        return lambda x: half32 + half32 * tanh_(half32 * x)
    return lambda x: 0.5 + 0.5 * tanh_(0.5 * x)


@overload(one_, inline="always")
def _one(x):
    if x == types.float32:
        return lambda x: one32
    return lambda x: 1.0


jit = numba.njit(fastmath=True, error_model="numpy", cache=True, nogil=True)


# Row by row, each gate block a separate 1-D view: the compiler then sees
# distinct arrays and vectorises the inner loop (indexing one row at offsets
# H, 2H, 3H that are unknown at compile time defeats its dependence analysis).
@jit
def lstm_forward(z, rec, c_prev, c_out, act_c, h_out):
    """z (B, 4H): x_t·U + b on entry, the gates i, f, C~, o on exit; rec (B, 4H):
    h_{t-1}·W. Writes C_t, tanh(C_t) and h_t."""
    n, h = c_prev.shape
    for b in range(n):
        zi, zf = z[b, :h], z[b, h : 2 * h]
        zc, zo = z[b, 2 * h : 3 * h], z[b, 3 * h :]
        ri, rf = rec[b, :h], rec[b, h : 2 * h]
        rc, ro = rec[b, 2 * h : 3 * h], rec[b, 3 * h :]
        cp, co, ac, ho = c_prev[b], c_out[b], act_c[b], h_out[b]
        for j in range(h):
            i = sigmoid_(zi[j] + ri[j])
            f = sigmoid_(zf[j] + rf[j])
            c_tilde = tanh_(zc[j] + rc[j])
            o = sigmoid_(zo[j] + ro[j])
            zi[j], zf[j], zc[j], zo[j] = i, f, c_tilde, o
            c = f * cp[j] + i * c_tilde  # C_t = f ⊙ C_{t-1} + i ⊙ C~
            a = tanh_(c)
            co[j], ac[j] = c, a
            ho[j] = o * a  # h_t = o ⊙ tanh(C_t)


@jit
def lstm_backward(dh, dc_next, c_prev, gz, act_c, dc_prev):
    """In place: gz (B, 4H) holds the gates on entry and dL/d(pre-activations) on exit;
    dL/dC_{t-1} into dc_prev; from dL/dh_t, dL/dC_t (from later steps) and the forward
    values, as in ``LSTMCell``'s docstring."""
    n, h = c_prev.shape
    for b in range(n):
        zi, zf = gz[b, :h], gz[b, h : 2 * h]
        zc, zo = gz[b, 2 * h : 3 * h], gz[b, 3 * h :]
        dhb, dcn, cp, ac, dcp = dh[b], dc_next[b], c_prev[b], act_c[b], dc_prev[b]
        for j in range(h):
            i, f, c_tilde, o, a, g = zi[j], zf[j], zc[j], zo[j], ac[j], dhb[j]
            one = one_(a)
            dc = dcn[j] + g * o * (one - a * a)  # dC = dC_t + dh ⊙ o ⊙ tanh'(C_t)
            zi[j] = dc * c_tilde * i * (one - i)
            zf[j] = dc * cp[j] * f * (one - f)
            zc[j] = dc * i * (one - c_tilde * c_tilde)
            zo[j] = g * a * o * (one - o)
            dcp[j] = dc * f  # dC_{t-1}


@jit
def gru_forward(z, rec, b_rec, h_prev, rec_h, h_out):
    """z (B, 3H): x_t·U + b on entry, the gates z, r, h~ on exit; rec (B, 3H):
    h_{t-1}·W without its bias b_rec (3H). Writes rec_h = h_{t-1}·W_h + b'_h and h_t
    (``GRUCell``)."""
    n, h = h_prev.shape
    bz, br, bh = b_rec[:h], b_rec[h : 2 * h], b_rec[2 * h :]
    for b in range(n):
        gz, gr, gh = z[b, :h], z[b, h : 2 * h], z[b, 2 * h :]
        rz, rr, rh = rec[b, :h], rec[b, h : 2 * h], rec[b, 2 * h :]
        hp, rho, ho = h_prev[b], rec_h[b], h_out[b]
        for j in range(h):
            u = sigmoid_(gz[j] + rz[j] + bz[j])  # z_t
            r = sigmoid_(gr[j] + rr[j] + br[j])
            a = rh[j] + bh[j]
            h_tilde = tanh_(gh[j] + r * a)
            gz[j], gr[j], gh[j], rho[j] = u, r, h_tilde, a
            ho[j] = h_tilde + u * (hp[j] - h_tilde)  # z ⊙ h_{t-1} + (1 - z) ⊙ h~


@jit
def gru_backward(dh, h_prev, g, rec_h, dzrec, direct):
    """In place: g (B, 3H) holds the gates z, r, h~ on entry and dL/d(input
    projection) on exit; dL/d(h_{t-1}·W + b') into dzrec (B, 3H) and the direct
    dL/dh_{t-1} = dh ⊙ z into direct; from dL/dh_t (``GRUCell``)."""
    n, h = h_prev.shape
    for b in range(n):
        gz, gr, gh = g[b, :h], g[b, h : 2 * h], g[b, 2 * h :]
        qz, qr, qh = dzrec[b, :h], dzrec[b, h : 2 * h], dzrec[b, 2 * h :]
        dhb, hp, rho, dd = dh[b], h_prev[b], rec_h[b], direct[b]
        for j in range(h):
            u, r, h_tilde, d = gz[j], gr[j], gh[j], dhb[j]
            one = one_(u)
            d_z = d * (hp[j] - h_tilde) * u * (one - u)  # dz ⊙ σ'(z)
            d_a = d * (one - u) * (one - h_tilde * h_tilde)  # da_h
            d_r = d_a * rho[j] * r * (one - r)  # dr ⊙ σ'(r)
            gz[j], gr[j], gh[j] = d_z, d_r, d_a
            qz[j], qr[j], qh[j] = d_z, d_r, d_a * r
            dd[j] = d * u


# ---- the recurrent matrix product of one step -----------------------------------
# c = a·btᵀ for a (M, K) and bt (N, K), both C-contiguous: every entry of c a dot
# product of two contiguous rows. A step's product has few rows (M = the batch) and
# the same weights for all T steps of a pass; OpenBLAS copies ("packs") those weights
# anew in every call, which costs as much as the arithmetic when M is small
# (bench/NOTES.md, row 26). Here the weights are read as they lie: W's rows for
# dL/dh_{t-1} = dz·Wᵀ, a cached contiguous Wᵀ for h_{t-1}·W.
#
# Blocks of 4 rows of a by 4 rows of bt: 16 sums kept in registers while the inner
# loop runs over K (the compiler vectorises it as 16 reductions), 8 loads per 16
# multiply-adds. Only reassociation and contraction (FMA) are allowed, not the
# no-NaN / no-inf assumptions: a NaN or inf in the weights or states propagates.
gemm_jit = numba.njit(fastmath={"reassoc", "contract"}, error_model="numpy", cache=True, nogil=True)


@gemm_jit
def _nt_columns(a, bt, c, j_start, j_stop):
    """c[:, j_start:j_stop] = a · bt[j_start:j_stop]ᵀ."""
    m, k = a.shape
    m4 = m - m % 4
    zero = a.dtype.type(0)
    j = j_start
    while j + 4 <= j_stop:
        w0, w1, w2, w3 = bt[j], bt[j + 1], bt[j + 2], bt[j + 3]
        for i in range(0, m4, 4):
            a0, a1, a2, a3 = a[i], a[i + 1], a[i + 2], a[i + 3]
            s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero
            s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = zero
            for p in range(k):
                x0, x1, x2, x3 = w0[p], w1[p], w2[p], w3[p]
                y = a0[p]
                s00 += y * x0
                s01 += y * x1
                s02 += y * x2
                s03 += y * x3
                y = a1[p]
                s10 += y * x0
                s11 += y * x1
                s12 += y * x2
                s13 += y * x3
                y = a2[p]
                s20 += y * x0
                s21 += y * x1
                s22 += y * x2
                s23 += y * x3
                y = a3[p]
                s30 += y * x0
                s31 += y * x1
                s32 += y * x2
                s33 += y * x3
            c[i, j], c[i, j + 1], c[i, j + 2], c[i, j + 3] = s00, s01, s02, s03
            c[i + 1, j], c[i + 1, j + 1], c[i + 1, j + 2], c[i + 1, j + 3] = s10, s11, s12, s13
            c[i + 2, j], c[i + 2, j + 1], c[i + 2, j + 2], c[i + 2, j + 3] = s20, s21, s22, s23
            c[i + 3, j], c[i + 3, j + 1], c[i + 3, j + 2], c[i + 3, j + 3] = s30, s31, s32, s33
        for i in range(m4, m):  # the rows left over, one at a time
            ai = a[i]
            s0 = s1 = s2 = s3 = zero
            for p in range(k):
                y = ai[p]
                s0 += y * w0[p]
                s1 += y * w1[p]
                s2 += y * w2[p]
                s3 += y * w3[p]
            c[i, j], c[i, j + 1], c[i, j + 2], c[i, j + 3] = s0, s1, s2, s3
        j += 4
    for jj in range(j, j_stop):  # the columns left over, one at a time
        w = bt[jj]
        for i in range(m):
            ai = a[i]
            s = zero
            for p in range(k):
                s += ai[p] * w[p]
            c[i, jj] = s


@gemm_jit
def matmul_nt(a, bt, c):
    """c = a·btᵀ (one thread)."""
    _nt_columns(a, bt, c, 0, bt.shape[0])


# ---- a whole step of ONE row (streaming) ---------------------------------------------
# A streaming step (batch 1) is a few µs: before, two matrix-vector products, a bias add
# and the element-wise kernel, four calls, each with its own dispatch, plus the Python
# between them (bench/NOTES.md row 38). Here the step is one call. Each product is
# accumulated a row of the weights at a time (out += x_k · W[k], four rows per pass), which
# vectorises along the row; with weights that fit in L2 it is as fast as OpenBLAS's
# matrix-vector product (``fused.row_step_worthwhile`` holds the policy).
@gemm_jit
def _row_accumulate(x, w, out):
    """out += x·w for x (K,), w (K, N) C-contiguous, out (N,)."""
    k_all, n = w.shape
    k4 = k_all - k_all % 4
    for k in range(0, k4, 4):
        x0, x1, x2, x3 = x[k], x[k + 1], x[k + 2], x[k + 3]
        w0, w1, w2, w3 = w[k], w[k + 1], w[k + 2], w[k + 3]
        for j in range(n):
            out[j] += x0 * w0[j] + x1 * w1[j] + x2 * w2[j] + x3 * w3[j]
    for k in range(k4, k_all):
        xk, wk = x[k], w[k]
        for j in range(n):
            out[j] += xk * wk[j]


@jit
def simple_rnn_row_step(x, u, b, h_prev, w, h_out):
    """h_t = tanh(x_t·U + b + h_{t-1}·W) for one row: x (1, I), h_prev and h_out (1, H)."""
    out = h_out[0]
    out[:] = b
    _row_accumulate(x[0], u, out)
    _row_accumulate(h_prev[0], w, out)
    for j in range(out.shape[0]):
        out[j] = tanh_(out[j])


@jit
def _row_products(x, u, b, h_prev, w, xw, rec):
    """xw = x·U + b and rec = h_{t-1}·W for one row, into (1, G·H) arrays."""
    xw[0, :] = b
    _row_accumulate(x[0], u, xw[0])
    rec[0, :] = 0
    _row_accumulate(h_prev[0], w, rec[0])


@jit
def lstm_row_step(x, u, b, h_prev, c_prev, w, xw, rec, act_c, c_out, h_out):
    """One LSTM step of one row (``lstm_forward`` after both products); xw, rec (1, 4H)
    and act_c (1, H) are scratch."""
    _row_products(x, u, b, h_prev, w, xw, rec)
    lstm_forward(xw, rec, c_prev, c_out, act_c, h_out)


@jit
def gru_row_step(x, u, b, h_prev, w, b_rec, xw, rec, rec_h, h_out):
    """One GRU step of one row (``gru_forward`` after both products); xw, rec (1, 3H)
    and rec_h (1, H) are scratch."""
    _row_products(x, u, b, h_prev, w, xw, rec)
    gru_forward(xw, rec, b_rec, h_prev, rec_h, h_out)

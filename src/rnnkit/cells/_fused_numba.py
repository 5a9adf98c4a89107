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
def lstm_backward(dh, dc_next, c_prev, gates, act_c, dz, dc_prev):
    """dL/d(pre-activations) dz (B, 4H) and dL/dC_{t-1}, from dL/dh_t, dL/dC_t
    (from later steps) and the forward values, as in ``LSTMCell``'s docstring."""
    n, h = c_prev.shape
    for b in range(n):
        gi, gf = gates[b, :h], gates[b, h : 2 * h]
        gc, go = gates[b, 2 * h : 3 * h], gates[b, 3 * h :]
        di, df = dz[b, :h], dz[b, h : 2 * h]
        dcand, do = dz[b, 2 * h : 3 * h], dz[b, 3 * h :]
        dhb, dcn, cp, ac, dcp = dh[b], dc_next[b], c_prev[b], act_c[b], dc_prev[b]
        for j in range(h):
            i, f, c_tilde, o, a, g = gi[j], gf[j], gc[j], go[j], ac[j], dhb[j]
            one = one_(a)
            dc = dcn[j] + g * o * (one - a * a)  # dC = dC_t + dh ⊙ o ⊙ tanh'(C_t)
            di[j] = dc * c_tilde * i * (one - i)
            df[j] = dc * cp[j] * f * (one - f)
            dcand[j] = dc * i * (one - c_tilde * c_tilde)
            do[j] = g * a * o * (one - o)
            dcp[j] = dc * f  # dC_{t-1}


@jit
def gru_forward(xw, rec, b_rec, h_prev, gates, rec_h, h_out):
    """xw (B, 3H): x_t·U + b; rec (B, 3H): h_{t-1}·W without its bias b_rec (3H).
    Writes the gates z, r, h~, rec_h = h_{t-1}·W_h + b'_h and h_t (``GRUCell``)."""
    n, h = h_prev.shape
    bz, br, bh = b_rec[:h], b_rec[h : 2 * h], b_rec[2 * h :]
    for b in range(n):
        xz, xr, xh = xw[b, :h], xw[b, h : 2 * h], xw[b, 2 * h :]
        rz, rr, rh = rec[b, :h], rec[b, h : 2 * h], rec[b, 2 * h :]
        gz, gr, gh = gates[b, :h], gates[b, h : 2 * h], gates[b, 2 * h :]
        hp, rho, ho = h_prev[b], rec_h[b], h_out[b]
        for j in range(h):
            z = sigmoid_(xz[j] + rz[j] + bz[j])
            r = sigmoid_(xr[j] + rr[j] + br[j])
            a = rh[j] + bh[j]
            h_tilde = tanh_(xh[j] + r * a)
            gz[j], gr[j], gh[j], rho[j] = z, r, h_tilde, a
            ho[j] = h_tilde + z * (hp[j] - h_tilde)  # z ⊙ h_{t-1} + (1 - z) ⊙ h~


@jit
def gru_backward(dh, h_prev, gates, rec_h, dxw, dzrec, direct):
    """dL/d(input projection) dxw (B, 3H), dL/d(h_{t-1}·W + b') dzrec (B, 3H) and the
    direct dL/dh_{t-1} = dh ⊙ z, from dL/dh_t and the forward values (``GRUCell``)."""
    n, h = h_prev.shape
    for b in range(n):
        gz, gr, gh = gates[b, :h], gates[b, h : 2 * h], gates[b, 2 * h :]
        dz, dr, dah = dxw[b, :h], dxw[b, h : 2 * h], dxw[b, 2 * h :]
        qz, qr, qh = dzrec[b, :h], dzrec[b, h : 2 * h], dzrec[b, 2 * h :]
        dhb, hp, rho, dd = dh[b], h_prev[b], rec_h[b], direct[b]
        for j in range(h):
            z, r, h_tilde, g = gz[j], gr[j], gh[j], dhb[j]
            one = one_(z)
            d_z = g * (hp[j] - h_tilde) * z * (one - z)  # dz ⊙ σ'(z)
            d_a = g * (one - z) * (one - h_tilde * h_tilde)  # da_h
            d_r = d_a * rho[j] * r * (one - r)  # dr ⊙ σ'(r)
            dz[j], dr[j], dah[j] = d_z, d_r, d_a
            qz[j], qr[j], qh[j] = d_z, d_r, d_a * r
            dd[j] = g * z

"""The LSTM's whole time loop, forward and BPTT, each one compiled call.

Implements the equations of ``rnnkit.cells.lstm`` (the notes' cell), gates in Keras's
order i, f, C~, o, z = x_t·U + b + h_{t-1}·W:

    i = σ(z_i)   f = σ(z_f)   C~ = tanh(z_c)   o = σ(z_o)
    C_t = f ⊙ C_{t-1} + i ⊙ C~        h_t = o ⊙ tanh(C_t)

and their backward lines (dL/dh_t, dL/dC_t arriving):

    dC = dC_t + dh ⊙ o ⊙ (1 - tanh²(C_t))            dC_{t-1} = dC ⊙ f
    dz = [dC ⊙ C~ ⊙ σ'(i), dC ⊙ C_{t-1} ⊙ σ'(f), dC ⊙ i ⊙ (1 - C~²), dh ⊙ tanh(C_t) ⊙ σ'(o)]
    dh_{t-1} = (dz·Wᵀ) ⊙ m_rec

A step whose mask is 0 keeps its states (forward) and passes its state gradients
through unchanged (backward); m_rec is the recurrent dropout mask (ones without one).
The layer (``rnnkit.layers.recurrent``) forms x·U + b before the loop and dU, dW, db,
dL/dx after it, as BLAS products over all steps.

Work split: a step's rows in blocks of four, and its units in chunks of ``chunk``
(all of them unless the batch is too small to keep the threads busy); each work item
forms its own rows and units of every gate's product, so no two threads write the same
element and no sum is split (``kernels.matmul``).
"""

from __future__ import annotations

from numba import prange

from ._math import jit, one_, parallel_jit, sigmoid_, tanh_
from .matmul import acc, project


@jit
def _gates(z, cp, hp, co, ho, ac, hr, rm, has_rm, keep, j0, j1):
    """One row's element-wise forward lines for units j0 <= j < j1: z (4H) holds the
    pre-activations on entry and the gates on exit."""
    # views that start at j0: a loop from 0 lets LLVM drop the negative-index checks
    # and vectorise
    h, n = cp.shape[0], j1 - j0
    zi, zf = z[j0:j1], z[h + j0 : h + j1]
    zc, zo = z[2 * h + j0 : 2 * h + j1], z[3 * h + j0 : 3 * h + j1]
    cp, hp, co, ho = cp[j0:j1], hp[j0:j1], co[j0:j1], ho[j0:j1]
    ac, hr, rm = ac[j0:j1], hr[j0:j1], rm[j0:j1]
    for j in range(n):
        i = sigmoid_(zi[j])
        f = sigmoid_(zf[j])
        c_tilde = tanh_(zc[j])
        o = sigmoid_(zo[j])
        zi[j], zf[j], zc[j], zo[j] = i, f, c_tilde, o
        c = f * cp[j] + i * c_tilde
        a = tanh_(c)
        ac[j] = a
        co[j] = c
        ho[j] = o * a
    if not keep:  # a masked step keeps the row's states
        for j in range(n):
            co[j] = cp[j]
            ho[j] = hp[j]
    if has_rm:
        for j in range(n):
            hr[j] = ho[j] * rm[j]


@parallel_jit
def lstm_forward(xw, w, s_h, s_c, act_c, h_rec, keep, rec_mask, chunk):
    """Forward over all steps.

    Args:
        xw: (T, B, 4H), x_t·U + b on entry, the gates i, f, C~, o on exit.
        w: (H, 4H) W as it lies, or W packed into panels (``tile.pack``,
            (P, H, NR)): the form decides the product (``matmul.acc``).
        s_h, s_c: (T + 1, B, H); [0] holds the initial states on entry, [t + 1] receives
            the states after step t.
        act_c: (T, B, H), receives tanh(C_t).
        h_rec: (T, B, H), receives h_{t-1} ⊙ m_rec with a recurrent dropout mask (its
            [0] filled by the caller); unused (shape (0, 0, 0)) without.
        keep: (T, B) uint8 mask, or (0, 0) for none.
        rec_mask: (B, H), or (0, 0) for none.
        chunk: units per work item (H: rows only).
    """
    steps, batch, units = act_c.shape
    has_mask, has_rm = keep.shape[0] > 0, rec_mask.shape[0] > 0
    blocks, chunks = (batch + 3) // 4, (units + chunk - 1) // chunk
    for t in range(steps):
        a = h_rec[t] if has_rm else s_h[t]
        z_t = xw[t]
        for item in prange(blocks * chunks):
            r0 = 4 * (item // chunks)
            r1 = min(batch, r0 + 4)
            j0 = chunk * (item % chunks)
            j1 = min(units, j0 + chunk)
            if chunks == 1:
                acc(a, w, z_t, r0, r1, 0, 0, 4 * units)
            else:
                for g in range(4):
                    acc(a, w, z_t, r0, r1, g * units + j0, g * units + j0, j1 - j0)
            for b in range(r0, r1):
                kept = (not has_mask) or keep[t, b] != 0
                hr = h_rec[t + 1, b] if has_rm and t + 1 < steps else s_h[t + 1, b]
                rm = rec_mask[b] if has_rm else s_h[t, b]
                _gates(
                    z_t[b],
                    s_c[t, b],
                    s_h[t, b],
                    s_c[t + 1, b],
                    s_h[t + 1, b],
                    act_c[t, b],
                    hr,
                    rm,
                    has_rm and t + 1 < steps,
                    kept,
                    j0,
                    j1,
                )


@jit
def _gates_backward(g, dhb, dcb, dyb, has_dy, cp, ac, kept, j0, j1):
    """One row's element-wise backward lines for units j0 <= j < j1: g (4H) holds the
    gates on entry and dL/dz on exit; dhb receives dh_t (all paths), dcb holds dL/dC_t
    on entry and dL/dC_{t-1} on exit."""
    h, n = cp.shape[0], j1 - j0
    gi, gf = g[j0:j1], g[h + j0 : h + j1]
    gc, go = g[2 * h + j0 : 2 * h + j1], g[3 * h + j0 : 3 * h + j1]
    dhb, dcb, dyb, cp, ac = dhb[j0:j1], dcb[j0:j1], dyb[j0:j1], cp[j0:j1], ac[j0:j1]
    if has_dy:
        for j in range(n):
            dhb[j] += dyb[j]
    if not kept:
        for j in range(n):
            gi[j] = gf[j] = gc[j] = go[j] = 0.0
        return
    for j in range(n):
        i, f, c_tilde, o, a, d = gi[j], gf[j], gc[j], go[j], ac[j], dhb[j]
        one = one_(a)
        dc = dcb[j] + d * o * (one - a * a)
        gi[j] = dc * c_tilde * i * (one - i)
        gf[j] = dc * cp[j] * f * (one - f)
        gc[j] = dc * i * (one - c_tilde * c_tilde)
        go[j] = d * a * o * (one - o)
        dcb[j] = dc * f


@parallel_jit
def lstm_backward(dz, w_t, s_c, act_c, keep, rec_mask, dy, dh, dc, dh_next, chunk):
    """BPTT over all steps, t = T-1 .. 0.

    Args:
        dz: (T, B, 4H), the gates on entry, dL/dz_t on exit (dL/d(x_t·U + b), and
            dL/d(h_{t-1}·W)).
        w_t: (4H, H) Wᵀ C-contiguous, or Wᵀ packed into panels.
        s_c: (T + 1, B, H), the cell states of the forward pass.
        act_c: (T, B, H), tanh(C_t).
        keep, rec_mask: as for :func:`lstm_forward`.
        dy: (B, T, H), dL/d(output at step t) in reading order, or (0, 0, 0) for none.
        dh, dc: (B, H), dL/dh_T and dL/dC_T on entry; dL/dh_0 and dL/dC_0 on exit.
        dh_next: (B, H) scratch.
        chunk: units per work item.
    """
    steps, batch, units = act_c.shape
    has_mask, has_rm, has_dy = keep.shape[0] > 0, rec_mask.shape[0] > 0, dy.shape[0] > 0
    blocks, chunks = (batch + 3) // 4, (units + chunk - 1) // chunk
    for t in range(steps - 1, -1, -1):
        g_t = dz[t]
        for item in prange(blocks * chunks):
            r0 = 4 * (item // chunks)
            j0 = chunk * (item % chunks)
            j1 = min(units, j0 + chunk)
            for b in range(r0, min(batch, r0 + 4)):
                kept = (not has_mask) or keep[t, b] != 0
                dyb = dy[b, t] if has_dy else dh[b]
                _gates_backward(
                    g_t[b], dh[b], dc[b], dyb, has_dy, s_c[t, b], act_c[t, b], kept, j0, j1
                )
        for item in prange(blocks * chunks):
            r0 = 4 * (item // chunks)
            r1 = min(batch, r0 + 4)
            j0 = chunk * (item % chunks)
            j1 = min(units, j0 + chunk)
            for b in range(r0, r1):
                dh_next[b, j0:j1] = 0.0
            acc(g_t, w_t, dh_next, r0, r1, j0, j0, j1 - j0)
            for b in range(r0, r1):
                kept = (not has_mask) or keep[t, b] != 0
                if not kept:
                    continue  # dh[b] passes through unchanged
                d, e = dh[b, j0:j1], dh_next[b, j0:j1]
                if has_rm:
                    m = rec_mask[b, j0:j1]
                    for j in range(j1 - j0):
                        d[j] = e[j] * m[j]
                else:
                    for j in range(j1 - j0):
                        d[j] = e[j]


_forward_serial = lstm_forward.serial


@jit
def lstm_step(x, u, b, w, s_h, s_c, xw, act_c, keep, rec_mask, h_rec):
    """One streaming step of any batch as one call: xw[0] = x·U + b, then
    :func:`lstm_forward` over one step (s_h, s_c (2, B, H): [0] the states in, [1] out;
    keep, rec_mask, h_rec: the empty arrays standing for none)."""
    project(x, u, b, xw[0])
    _forward_serial(xw, w, s_h, s_c, act_c, h_rec, keep, rec_mask, w.shape[0])

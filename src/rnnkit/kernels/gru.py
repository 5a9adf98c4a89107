"""The GRU's whole time loop, forward and BPTT, each one compiled call.

Implements the equations of ``rnnkit.cells.gru`` (PyTorch / cuDNN formulation, Keras
``reset_after=True``), gates in Keras's order z, r, h~, with b' the recurrent bias:

    z_t  = σ(x_t·U_z + b_z + h_{t-1}·W_z + b'_z)
    r_t  = σ(x_t·U_r + b_r + h_{t-1}·W_r + b'_r)
    a_t  = h_{t-1}·W_h + b'_h
    h~_t = tanh(x_t·U_h + b_h + r_t ⊙ a_t)
    h_t  = h~_t + z_t ⊙ (h_{t-1} - h~_t)

and their backward lines (dL/dh_t arriving):

    dz = dh ⊙ (h_{t-1} - h~) ⊙ σ'(z)     da = dh ⊙ (1 - z) ⊙ (1 - h~²)
    dr = da ⊙ a_t ⊙ σ'(r)
    dL/d(x_t·U + b) = [dz, dr, da]        dL/d(h_{t-1}·W + b') = [dz, dr, da ⊙ r]
    dh_{t-1} = dh ⊙ z + ([dz, dr, da ⊙ r]·Wᵀ) ⊙ m_rec

Masks, recurrent dropout and the work split as in ``rnnkit.kernels.lstm``.
"""

from __future__ import annotations

from numba import prange

from ._math import jit, one_, parallel_jit, sigmoid_, tanh_
from .matmul import acc, project


@jit
def _gates(g, rh, b_rec, hp, ho, hr, rm, has_rm, kept, j0, j1):
    """One row's forward lines for units j0 <= j < j1: g (3H) holds x·U + b + h·W for
    the z, r blocks and x·U_h + b_h on entry, the gates z, r, h~ on exit; rh holds
    h_{t-1}·W_h on entry, a_t on exit."""
    # views that start at j0: a loop from 0 lets LLVM drop the negative-index checks
    # and vectorise
    h, n = hp.shape[0], j1 - j0
    gz, gr, gh = g[j0:j1], g[h + j0 : h + j1], g[2 * h + j0 : 2 * h + j1]
    bz, br, bh = b_rec[j0:j1], b_rec[h + j0 : h + j1], b_rec[2 * h + j0 : 2 * h + j1]
    rh, hp, ho, hr, rm = rh[j0:j1], hp[j0:j1], ho[j0:j1], hr[j0:j1], rm[j0:j1]
    for j in range(n):
        u = sigmoid_(gz[j] + bz[j])
        r = sigmoid_(gr[j] + br[j])
        a = rh[j] + bh[j]
        h_tilde = tanh_(gh[j] + r * a)
        gz[j], gr[j], gh[j], rh[j] = u, r, h_tilde, a
        ho[j] = h_tilde + u * (hp[j] - h_tilde)
    if not kept:
        for j in range(n):
            ho[j] = hp[j]
    if has_rm:
        for j in range(n):
            hr[j] = ho[j] * rm[j]


@parallel_jit
def gru_forward(xw, w, b_rec, s_h, rec_h, h_rec, keep, rec_mask, chunk):
    """Forward over all steps.

    Args:
        xw: (T, B, 3H), x_t·U + b on entry, the gates z, r, h~ on exit.
        w: (H, 3H) W or its panels, as in ``lstm.lstm_forward``.
        b_rec: (3H,), b' (zeros without a bias).
        s_h: (T + 1, B, H); [0] the initial state, [t + 1] the state after step t.
        rec_h: (T, B, H), receives a_t = h_{t-1}·W_h + b'_h.
        h_rec, keep, rec_mask, chunk: as for ``lstm.lstm_forward``.
    """
    steps, batch, units = rec_h.shape
    has_mask, has_rm = keep.shape[0] > 0, rec_mask.shape[0] > 0
    blocks, chunks = (batch + 3) // 4, (units + chunk - 1) // chunk
    for t in range(steps):
        a = h_rec[t] if has_rm else s_h[t]
        z_t, rh_t = xw[t], rec_h[t]
        for item in prange(blocks * chunks):
            r0 = 4 * (item // chunks)
            r1 = min(batch, r0 + 4)
            j0 = chunk * (item % chunks)
            j1 = min(units, j0 + chunk)
            n = j1 - j0
            for b in range(r0, r1):
                rh_t[b, j0:j1] = 0.0
            if chunks == 1:
                acc(a, w, z_t, r0, r1, 0, 0, 2 * units)
            else:
                acc(a, w, z_t, r0, r1, j0, j0, n)
                acc(a, w, z_t, r0, r1, units + j0, units + j0, n)
            acc(a, w, rh_t, r0, r1, 2 * units + j0, j0, n)
            for b in range(r0, r1):
                kept = (not has_mask) or keep[t, b] != 0
                last = t + 1 >= steps
                hr = s_h[t + 1, b] if last or not has_rm else h_rec[t + 1, b]
                rm = rec_mask[b] if has_rm else s_h[t, b]
                _gates(
                    z_t[b],
                    rh_t[b],
                    b_rec,
                    s_h[t, b],
                    s_h[t + 1, b],
                    hr,
                    rm,
                    has_rm and not last,
                    kept,
                    j0,
                    j1,
                )


@jit
def _gates_backward(g, rh, dzr, dhb, dyb, has_dy, hp, kept, j0, j1):
    """One row's backward lines for units j0 <= j < j1: g (3H) holds the gates on entry
    and dL/d(x_t·U + b) on exit; rh holds a_t on entry and da ⊙ r on exit; dzr (3H)
    receives dL/d(h_{t-1}·W + b'); dhb holds dL/dh_t (without the step's output
    gradient dyb) on entry and its direct part dh ⊙ z on exit."""
    h, n = hp.shape[0], j1 - j0
    gz, gr, gh = g[j0:j1], g[h + j0 : h + j1], g[2 * h + j0 : 2 * h + j1]
    qz, qr, qh = dzr[j0:j1], dzr[h + j0 : h + j1], dzr[2 * h + j0 : 2 * h + j1]
    rh, dhb, dyb, hp = rh[j0:j1], dhb[j0:j1], dyb[j0:j1], hp[j0:j1]
    if has_dy:
        for j in range(n):
            dhb[j] += dyb[j]
    if not kept:
        for j in range(n):
            gz[j] = gr[j] = gh[j] = rh[j] = 0.0
            qz[j] = qr[j] = qh[j] = 0.0
        return
    for j in range(n):
        u, r, h_tilde, d = gz[j], gr[j], gh[j], dhb[j]
        one = one_(u)
        d_z = d * (hp[j] - h_tilde) * u * (one - u)
        d_a = d * (one - u) * (one - h_tilde * h_tilde)
        d_r = d_a * rh[j] * r * (one - r)
        gz[j], gr[j], gh[j] = d_z, d_r, d_a
        qz[j], qr[j], qh[j] = d_z, d_r, d_a * r
        rh[j] = d_a * r
        dhb[j] = d * u


@parallel_jit
def gru_backward(dz, w_t, s_h, rec_h, keep, rec_mask, dy, dh, dzr, dh_next, chunk):
    """BPTT over all steps, t = T-1 .. 0.

    Args:
        dz: (T, B, 3H), the gates on entry, dL/d(x_t·U + b) on exit.
        w_t: (3H, H) Wᵀ or its panels, as in ``lstm.lstm_backward``.
        s_h: (T + 1, B, H), the states of the forward pass.
        rec_h: (T, B, H), a_t on entry; on exit the h~ block of dL/d(h_{t-1}·W + b')
            (the z and r blocks are dz's).
        keep, rec_mask, dy: as for ``lstm.lstm_backward``.
        dh: (B, H), dL/dh_T on entry, dL/dh_0 on exit.
        dzr: (B, 3H) and dh_next: (B, H) scratch.
        chunk: units per work item.
    """
    steps, batch, units = rec_h.shape
    has_mask, has_rm, has_dy = keep.shape[0] > 0, rec_mask.shape[0] > 0, dy.shape[0] > 0
    blocks, chunks = (batch + 3) // 4, (units + chunk - 1) // chunk
    for t in range(steps - 1, -1, -1):
        g_t, rh_t = dz[t], rec_h[t]
        for item in prange(blocks * chunks):
            r0 = 4 * (item // chunks)
            j0 = chunk * (item % chunks)
            j1 = min(units, j0 + chunk)
            for b in range(r0, min(batch, r0 + 4)):
                kept = (not has_mask) or keep[t, b] != 0
                dyb = dy[b, t] if has_dy else dh[b]
                _gates_backward(
                    g_t[b], rh_t[b], dzr[b], dh[b], dyb, has_dy, s_h[t, b], kept, j0, j1
                )
        for item in prange(blocks * chunks):
            r0 = 4 * (item // chunks)
            r1 = min(batch, r0 + 4)
            j0 = chunk * (item % chunks)
            j1 = min(units, j0 + chunk)
            for b in range(r0, r1):
                dh_next[b, j0:j1] = 0.0
            acc(dzr, w_t, dh_next, r0, r1, j0, j0, j1 - j0)
            for b in range(r0, r1):
                if has_mask and keep[t, b] == 0:
                    continue  # dh[b] passes through unchanged
                d, e = dh[b, j0:j1], dh_next[b, j0:j1]
                if has_rm:
                    m = rec_mask[b, j0:j1]
                    for j in range(j1 - j0):
                        d[j] += e[j] * m[j]
                else:
                    for j in range(j1 - j0):
                        d[j] += e[j]


_forward_serial = gru_forward.serial


@jit
def gru_step(x, u, b, w, b_rec, s_h, xw, rec_h, keep, rec_mask, h_rec):
    """One streaming step of any batch as one call (see ``lstm.lstm_step``)."""
    project(x, u, b, xw[0])
    _forward_serial(xw, w, b_rec, s_h, rec_h, h_rec, keep, rec_mask, w.shape[0])

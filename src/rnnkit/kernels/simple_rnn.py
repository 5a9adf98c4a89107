"""The Elman RNN's whole time loop, forward and BPTT, each one compiled call.

Implements the equations of ``rnnkit.cells.simple_rnn``:

    s_t = f(x_t·U + b + s_{t-1}·W)
    dz_t = dL/ds_t ⊙ f'(s_t)          dL/ds_{t-1} = (dz_t·Wᵀ) ⊙ m_rec

with f one of ``ACTIVATIONS`` (f' written from the output: tanh 1 - s², relu
[s > 0], sigmoid s(1 - s), linear 1). Masks, recurrent dropout and the work split as in
``rnnkit.kernels.lstm``.
"""

from __future__ import annotations

from numba import prange

from ._math import jit, one_, parallel_jit, sigmoid_, tanh_, zero_
from .matmul import acc, project

#: the activations the kernels have, by the code the kernels take
ACTIVATIONS = {"tanh": 0, "relu": 1, "sigmoid": 2, "linear": 3}


@jit
def _activate(z, s, sp, hr, rm, has_rm, kept, act, j0, j1):
    # views that start at j0: a loop from 0 lets LLVM drop the negative-index checks
    # and vectorise
    n = j1 - j0
    z, s, sp, hr, rm = z[j0:j1], s[j0:j1], sp[j0:j1], hr[j0:j1], rm[j0:j1]
    if act == 0:
        for j in range(n):
            s[j] = tanh_(z[j])
    elif act == 1:
        for j in range(n):
            v = z[j]
            s[j] = v if v > zero_(v) else (zero_(v) if v <= zero_(v) else v)  # NaN passes
    elif act == 2:
        for j in range(n):
            s[j] = sigmoid_(z[j])
    else:
        for j in range(n):
            s[j] = z[j]
    if not kept:
        for j in range(n):
            s[j] = sp[j]
    if has_rm:
        for j in range(n):
            hr[j] = s[j] * rm[j]


@parallel_jit
def simple_rnn_forward(xw, w, s_h, h_rec, keep, rec_mask, act, chunk):
    """Forward over all steps.

    Args:
        xw: (T, B, H), x_t·U + b on entry, the pre-activations z_t on exit.
        w: W or its panels, as in ``lstm.lstm_forward``.
        s_h: (T + 1, B, H); [0] the initial state, [t + 1] the state after step t.
        h_rec, keep, rec_mask, chunk: as for ``lstm.lstm_forward``.
        act: the activation's code (``ACTIVATIONS``).
    """
    steps, batch, units = xw.shape
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
            acc(a, w, z_t, r0, r1, j0, j0, j1 - j0)
            for b in range(r0, r1):
                kept = (not has_mask) or keep[t, b] != 0
                last = t + 1 >= steps
                hr = s_h[t + 1, b] if last or not has_rm else h_rec[t + 1, b]
                rm = rec_mask[b] if has_rm else s_h[t, b]
                _activate(
                    z_t[b], s_h[t + 1, b], s_h[t, b], hr, rm, has_rm and not last, kept, act, j0, j1
                )


@jit
def _backward_row(dz, s, dhb, dyb, has_dy, kept, act, j0, j1):
    n = j1 - j0
    dz, s, dhb, dyb = dz[j0:j1], s[j0:j1], dhb[j0:j1], dyb[j0:j1]
    if has_dy:
        for j in range(n):
            dhb[j] += dyb[j]
    if not kept:
        for j in range(n):
            dz[j] = 0.0
        return
    if act == 0:
        for j in range(n):
            y = s[j]
            dz[j] = dhb[j] * (one_(y) - y * y)
    elif act == 1:
        for j in range(n):
            dz[j] = dhb[j] if s[j] > zero_(s[j]) else zero_(s[j])
    elif act == 2:
        for j in range(n):
            y = s[j]
            dz[j] = dhb[j] * y * (one_(y) - y)
    else:
        for j in range(n):
            dz[j] = dhb[j]


@parallel_jit
def simple_rnn_backward(dz, w_t, s_h, keep, rec_mask, dy, dh, dh_next, act, chunk):
    """BPTT over all steps, t = T-1 .. 0.

    Args:
        dz: (T, B, H), receives dL/dz_t.
        w_t: Wᵀ or its panels, as in ``lstm.lstm_backward``.
        s_h: (T + 1, B, H), the states of the forward pass.
        keep, rec_mask, dy, chunk: as for ``lstm.lstm_backward``; act as forward.
        dh: (B, H), dL/ds_T on entry, dL/ds_0 on exit; dh_next: (B, H) scratch.
    """
    steps, batch, units = dz.shape
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
                _backward_row(g_t[b], s_h[t + 1, b], dh[b], dyb, has_dy, kept, act, j0, j1)
        for item in prange(blocks * chunks):
            r0 = 4 * (item // chunks)
            r1 = min(batch, r0 + 4)
            j0 = chunk * (item % chunks)
            j1 = min(units, j0 + chunk)
            for b in range(r0, r1):
                dh_next[b, j0:j1] = 0.0
            acc(g_t, w_t, dh_next, r0, r1, j0, j0, j1 - j0)
            for b in range(r0, r1):
                if has_mask and keep[t, b] == 0:
                    continue
                d, e = dh[b, j0:j1], dh_next[b, j0:j1]
                if has_rm:
                    m = rec_mask[b, j0:j1]
                    for j in range(j1 - j0):
                        d[j] = e[j] * m[j]
                else:
                    for j in range(j1 - j0):
                        d[j] = e[j]


_forward_serial = simple_rnn_forward.serial


@jit
def simple_rnn_step(x, u, b, w, s_h, xw, keep, rec_mask, h_rec, act):
    """One streaming step of any batch as one call (see ``lstm.lstm_step``)."""
    project(x, u, b, xw[0])
    _forward_serial(xw, w, s_h, h_rec, keep, rec_mask, act, w.shape[0])

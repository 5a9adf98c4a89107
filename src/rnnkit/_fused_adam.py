"""The numba accelerator's Adam update: ``optimizers.Adam``'s lines as one pass.

``Adam._update`` in NumPy makes eleven passes over arrays the size of the weights
(the moments, the square root, the step); for a layer of 3.4 million weights (the
language-model LSTM) each pass leaves the cache, and the update takes 9 ms. This
loop reads p, g, m and v once and writes p, m and v once (bench/NOTES.md row 29).
It performs the same operations in the same order and precision as the NumPy lines,
without fast-math (no fused multiply-adds, no reassociation), so that it gives the
same floats; ``tests/test_fused.py`` holds it to that.
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

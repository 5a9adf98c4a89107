"""The numba accelerator's compiled Adam update (rnnkit._fused_adam) against the NumPy
lines. (The compiled time loops are tested in tests/test_kernels.py, and every gradient
check and PyTorch cross-check runs through them via the ``accelerator`` fixture.)"""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import backend, kernels

needs_numba = pytest.mark.skipif(not kernels.available(), reason="numba is not usable here")


# ---- the compiled Adam update (rnnkit._fused_adam) --------------------------------
@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("form", ["keras", "torch"])
def test_adam_kernel_gives_the_numpy_lines_floats(dtype, form):
    """Ten updates of three weights (2-D and 1-D) through the kernel and through the
    NumPy lines: the same floats, bit for bit, including weights where v stays 0 (a
    zero gradient) and a NaN gradient that must propagate."""
    from rnnkit import optimizers

    shapes = [(7, 13), (5,), (3, 4)]
    runs = {}
    for acc in ("numpy", "numba"):
        previous = backend._accelerator
        try:
            backend.set_accelerator(acc)
            rng = np.random.default_rng(0)  # the same weights and gradients for both
            params = [rng.standard_normal(s).astype(dtype) for s in shapes]
            opt = optimizers.Adam(learning_rate=0.01, epsilon=1e-8, epsilon_form=form)
            for step in range(10):
                grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
                grads[1][0] = 0.0  # v stays 0 for this weight
                if step == 7:
                    grads[2][1, 2] = np.nan
                opt.apply(params, grads)
            runs[acc] = params + opt.slots["m"] + opt.slots["v"]
        finally:
            backend._accelerator = previous
    for ref, got in zip(runs["numpy"], runs["numba"]):
        np.testing.assert_array_equal(got, ref)
    assert np.isnan(runs["numba"][2][1, 2]) and np.isfinite(runs["numba"][0]).all()


@needs_numba
def test_adam_kernel_is_skipped_for_arrays_it_cannot_take():
    from rnnkit.optimizers import _fused_adam

    previous = backend._accelerator
    try:
        backend.set_accelerator("numba")
        p = np.zeros((4, 6), np.float32)
        m, v = np.zeros_like(p), np.zeros_like(p)
        assert _fused_adam(p, np.ones_like(p), m, v) is not None
        assert _fused_adam(p, np.ones((6, 4), np.float32).T, m, v) is None  # a transposed view
        assert _fused_adam(p.astype(np.float16), p.astype(np.float16), m, v) is None
        backend.set_accelerator("numpy")
        assert _fused_adam(p, np.ones_like(p), m, v) is None
    finally:
        backend._accelerator = previous

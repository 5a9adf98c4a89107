"""Scalar functions the compiled kernels inline, and their compile options.

float64 kernels call the exact ``math.tanh``; float32 kernels the rational
approximation of ``rnnkit.kernels.TANH_P`` / ``TANH_Q``, which LLVM vectorises (without
Intel's SVML numba's ``math.tanh`` is a scalar libm call, 50x slower than NumPy's SIMD
tanh). ``one_(x)`` is 1 in x's own type, so that a float32 line stays float32.

No kernel uses fast-math beyond ``contract`` (a multiply and an add may become one
fused multiply-add): NaN and inf propagate as in NumPy, and no sum is reassociated, so
that a result does not depend on how the loop was vectorised or split over threads.
"""

from __future__ import annotations

import math
import types as pytypes

import numba
import numpy as np
from numba import types
from numba.extending import overload

from . import TANH_CLAMP, TANH_P, TANH_Q

p0, p1, p2, p3, p4, p5, p6 = (np.float32(c) for c in TANH_P)
q0, q1, q2, q3 = (np.float32(c) for c in TANH_Q)
clamp = np.float32(TANH_CLAMP)
half32, one32, zero32 = np.float32(0.5), np.float32(1.0), np.float32(0.0)

_OPTIONS = dict(fastmath={"contract"}, error_model="numpy", cache=True, nogil=True)
jit = numba.njit(**_OPTIONS)


class Twin:
    """A loop compiled twice: ``serial`` (its prange runs as range) and ``parallel``
    (prange over numba's thread pool)."""

    def __init__(self, fn):
        self.__doc__ = fn.__doc__
        self.serial = numba.njit(**_OPTIONS)(fn)
        # a second function object under its own name: numba's on-disk cache keys a
        # compiled function by its qualified name and signature, not by its options
        twin = pytypes.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_parallel")
        twin.__qualname__ = fn.__qualname__ + "_parallel"
        self.parallel = numba.njit(parallel=True, **_OPTIONS)(twin)

    def __call__(self, threads: int, *args):
        if threads > 1:
            return self.parallel(*args)
        return self.serial(*args)


def parallel_jit(fn) -> Twin:
    """``fn`` as a :class:`Twin`."""
    return Twin(fn)


def tanh_(x):
    raise NotImplementedError  # typed by the overload below


def sigmoid_(x):
    raise NotImplementedError


def one_(x):
    raise NotImplementedError


def zero_(x):
    raise NotImplementedError


@overload(tanh_, inline="always")
def _tanh(x):
    if x == types.float32:

        def impl(x):
            x = min(max(x, -clamp), clamp)  # (NaN passes through: tests/test_kernels.py)
            s = x * x
            num = p0 + s * (p1 + s * (p2 + s * (p3 + s * (p4 + s * (p5 + s * p6)))))
            return x * num / (q0 + s * (q1 + s * (q2 + s * q3)))

        return impl
    return lambda x: math.tanh(x)


@overload(sigmoid_, inline="always")
def _sigmoid(x):
    if x == types.float32:
        return lambda x: half32 + half32 * tanh_(half32 * x)
    return lambda x: 0.5 + 0.5 * math.tanh(0.5 * x)


@overload(one_, inline="always")
def _one(x):
    if x == types.float32:
        return lambda x: one32
    return lambda x: 1.0


@overload(zero_, inline="always")
def _zero(x):
    if x == types.float32:
        return lambda x: zero32
    return lambda x: 0.0

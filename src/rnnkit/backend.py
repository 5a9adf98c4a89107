"""Array namespace, dtype policy and random generators.

Every module takes its array functions from ``xp`` (NumPy today) and its default
float type from :func:`floatx`, so that a later CuPy backend or a float64 run changes
one place.
"""

from __future__ import annotations

import itertools
import os
from collections import defaultdict

import numpy as np

xp = np

_FLOATX = "float32"
_VALID_FLOATX = ("float16", "float32", "float64")
_name_counters: dict[str, itertools.count] = defaultdict(itertools.count)


def floatx() -> str:
    """The default float dtype for weights and activations (``"float32"``)."""
    return _FLOATX


def set_floatx(dtype: str) -> None:
    """Set the default float dtype: ``"float32"`` (default) or ``"float64"``.

    Raises:
        ValueError: if ``dtype`` is not one of the supported float types.
    """
    global _FLOATX
    name = np.dtype(dtype).name if _is_dtype_like(dtype) else str(dtype)
    if name not in _VALID_FLOATX:
        raise ValueError(
            f"Received an invalid value for argument dtype, expected one of "
            f"{_VALID_FLOATX}, got {dtype!r}."
        )
    _FLOATX = name


def _is_dtype_like(value) -> bool:
    try:
        np.dtype(value)
    except TypeError:
        return False
    return True


def resolve_dtype(dtype) -> np.dtype:
    """``dtype`` as a NumPy float dtype, or the default when ``None``."""
    if dtype is None:
        return np.dtype(_FLOATX)
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"Received an invalid value for argument dtype, expected a float dtype "
            f"such as 'float32', got {dtype!r}."
        ) from None
    if resolved.name not in _VALID_FLOATX:
        raise ValueError(
            f"Received an invalid value for argument dtype, expected one of "
            f"{_VALID_FLOATX}, got {dtype!r}."
        )
    return resolved


def make_rng(seed=None) -> np.random.Generator:
    """A NumPy Generator from an int seed, a Generator (returned as is) or None."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"Received an invalid value for argument seed, expected an int, a "
            f"numpy Generator or None, got {type(seed).__name__}."
        )
    return np.random.default_rng(seed)


_global_rng = np.random.default_rng()


def set_random_seed(seed: int) -> None:
    """Seed rnnkit's global generator: weights, shuffling and dropout become repeatable.

    Layers draw their weights from a generator derived from this one when they are
    built, so ``set_random_seed(0)`` before building a model makes the whole run
    reproducible (the Keras ``keras.utils.set_random_seed`` habit).
    """
    global _global_rng
    _global_rng = make_rng(int(seed))
    _name_counters.clear()


def global_rng() -> np.random.Generator:
    """rnnkit's global random generator (see :func:`set_random_seed`)."""
    return _global_rng


def child_rng() -> np.random.Generator:
    """A new generator seeded from the global one (one per layer or model)."""
    return np.random.default_rng(_global_rng.integers(0, 2**63 - 1))


def unique_name(prefix: str) -> str:
    """Keras-style layer names: ``lstm``, ``lstm_1``, ``lstm_2`` …"""
    n = next(_name_counters[prefix])
    return prefix if n == 0 else f"{prefix}_{n}"


# ---- optional accelerator ---------------------------------------------------------
_ACCELERATORS = ("auto", "numba", "numpy")
# the environment variable gives the starting value; set_accelerator() changes it
_accelerator = os.environ.get("RNNKIT_ACCELERATOR", "auto")


def _check_accelerator(name, source: str) -> str:
    value = str(name).strip().lower() if isinstance(name, str) else name
    if value not in _ACCELERATORS:
        raise ValueError(
            f"Received an invalid value for {source}, expected one of {_ACCELERATORS}, "
            f"got {name!r}."
        )
    return value


def set_accelerator(name: str) -> None:
    """Choose how the recurrent cells do a step's element-wise work.

    ``"numpy"``: the reference NumPy code of each cell. ``"numba"``: fused compiled
    kernels (``rnnkit.cells.fused``; needs ``pip install rnnkit[fast]``), used for
    cells with their default activations in float32 and float64. ``"auto"``: numba
    when it is installed. The starting value is the environment variable
    ``RNNKIT_ACCELERATOR``, else ``"auto"``. Matrix products are NumPy's either way.

    Raises:
        ValueError: for another name.
        ImportError: for ``"numba"`` when numba is not installed.
    """
    value = _check_accelerator(name, "argument name")
    if value == "numba":
        from .cells import fused

        if fused.kernels() is None:
            raise ImportError(
                "set_accelerator('numba') needs numba, which is not installed; install "
                "it with `pip install rnnkit[fast]` or use 'numpy'."
            )
    global _accelerator
    _accelerator = value


def accelerator() -> str:
    """The accelerator in effect: ``"numba"`` or ``"numpy"`` (see
    :func:`set_accelerator`)."""
    requested = _check_accelerator(_accelerator, "environment variable RNNKIT_ACCELERATOR")
    if requested == "numpy":
        return "numpy"
    from .cells import fused

    available = fused.kernels() is not None
    if requested == "numba" and not available:
        raise ImportError(
            "RNNKIT_ACCELERATOR=numba needs numba, which is not installed; install it "
            "with `pip install rnnkit[fast]` or set RNNKIT_ACCELERATOR=numpy."
        )
    return "numba" if available else "numpy"


# ---- memory alignment of the arrays that BLAS multiplies by ---------------------------
#: Byte alignment of weight matrices and the per-pass copies made of them (a cache line,
#: the width of an AVX-512 register). NumPy's allocator only guarantees 16 bytes, and
#: arrays of 128 KiB and more (glibc's mmap'd blocks) start 16 bytes past a page: one
#: thread of OpenBLAS multiplies by a weight matrix 64-byte aligned 7-27 % faster than by
#: one 16 bytes off at the per-step shapes of the recurrent layers (bench/NOTES.md row 39).
ALIGNMENT = 64


def aligned_empty(shape, dtype, alignment: int = ALIGNMENT) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on an ``alignment``-byte
    boundary (a view into a slightly larger byte buffer)."""
    dtype = np.dtype(dtype)
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(n) for n in shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buf = np.empty(nbytes + alignment, np.uint8)
    start = -buf.ctypes.data % alignment
    return buf[start : start + nbytes].view(dtype).reshape(shape)


def aligned_copy(a: np.ndarray, alignment: int = ALIGNMENT) -> np.ndarray:
    """A C-contiguous copy of ``a`` on an ``alignment``-byte boundary."""
    out = aligned_empty(a.shape, a.dtype, alignment)
    np.copyto(out, a)
    return out

"""Where the compiled kernels used to live; they are ``rnnkit.kernels`` now.

Kept for the callers that ask :func:`for_dtype` whether the accelerator is on for a
dtype (``rnnkit.optimizers``' compiled Adam update)."""

from ..kernels import for_dtype

__all__ = ["for_dtype"]

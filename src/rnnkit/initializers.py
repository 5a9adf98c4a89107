"""Weight initializers by name, with Keras's names and defaults.

Each initializer is a callable ``init(shape, dtype, rng) -> array``. Fan-in and
fan-out follow Keras: for a 2-D kernel, (rows, cols).
"""

from __future__ import annotations

import math

import numpy as np


def _fans(shape) -> tuple[int, int]:
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype, rng)``."""

    name = "initializer"

    def get_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()})"


class Zeros(Initializer):
    name = "zeros"

    def __call__(self, shape, dtype, rng):
        return np.zeros(shape, dtype=dtype)


class Ones(Initializer):
    name = "ones"

    def __call__(self, shape, dtype, rng):
        return np.ones(shape, dtype=dtype)


class Constant(Initializer):
    name = "constant"

    def __init__(self, value: float = 0.0):
        self.value = float(value)

    def __call__(self, shape, dtype, rng):
        return np.full(shape, self.value, dtype=dtype)

    def get_config(self):
        return {"value": self.value}


class RandomUniform(Initializer):
    name = "uniform"

    def __init__(self, minval: float = -0.05, maxval: float = 0.05):
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, shape, dtype, rng):
        return rng.uniform(self.minval, self.maxval, size=shape).astype(dtype)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval}


class RandomNormal(Initializer):
    name = "normal"

    def __init__(self, mean: float = 0.0, stddev: float = 0.05):
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape, dtype, rng):
        return rng.normal(self.mean, self.stddev, size=shape).astype(dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev}


class VarianceScaling(Initializer):
    """Keras's VarianceScaling: scale / fan, uniform or (truncated) normal."""

    name = "variance_scaling"

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal"):
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(
                "Received an invalid value for argument mode, expected 'fan_in', "
                f"'fan_out' or 'fan_avg', got {mode!r}."
            )
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, shape, dtype, rng):
        fan_in, fan_out = _fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, size=shape).astype(dtype)
        # truncated normal at two standard deviations, std corrected as Keras does
        std = math.sqrt(variance) / 0.87962566103423978
        out = rng.normal(0.0, std, size=shape)
        bad = np.abs(out) > 2 * std
        while bad.any():
            out[bad] = rng.normal(0.0, std, size=int(bad.sum()))
            bad = np.abs(out) > 2 * std
        return out.astype(dtype)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution}


def GlorotUniform():
    init = VarianceScaling(1.0, "fan_avg", "uniform")
    init.name = "glorot_uniform"
    return init


def GlorotNormal():
    init = VarianceScaling(1.0, "fan_avg", "truncated_normal")
    init.name = "glorot_normal"
    return init


def HeUniform():
    init = VarianceScaling(2.0, "fan_in", "uniform")
    init.name = "he_uniform"
    return init


def HeNormal():
    init = VarianceScaling(2.0, "fan_in", "truncated_normal")
    init.name = "he_normal"
    return init


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one
    (Saxe et al. 2014), the Keras default for recurrent kernels. A fused kernel of
    shape (units, n*units) is orthogonal as a whole, as in Keras."""

    name = "orthogonal"

    def __init__(self, gain: float = 1.0):
        self.gain = float(gain)

    def __call__(self, shape, dtype, rng):
        rows = math.prod(shape[:-1])
        cols = shape[-1]
        a = rng.normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # make the decomposition unique
        if rows < cols:
            q = q.T
        return np.ascontiguousarray(self.gain * q.reshape(shape), dtype=dtype)

    def get_config(self):
        return {"gain": self.gain}


class Identity(Initializer):
    """``gain`` times the identity (IRNN, Le et al. 2015); 2-D shapes only."""

    name = "identity"

    def __init__(self, gain: float = 1.0):
        self.gain = float(gain)

    def __call__(self, shape, dtype, rng):
        if len(shape) != 2:
            raise ValueError(
                f"Received an invalid value for argument shape, expected a 2-D shape "
                f"for the identity initializer, got {tuple(shape)}."
            )
        return (self.gain * np.eye(*shape)).astype(dtype)

    def get_config(self):
        return {"gain": self.gain}


_REGISTRY = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "uniform": RandomUniform,
    "random_uniform": RandomUniform,
    "normal": RandomNormal,
    "random_normal": RandomNormal,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "orthogonal": Orthogonal,
    "identity": Identity,
    "variance_scaling": VarianceScaling,
}


def get(identifier, argument: str = "initializer"):
    """An initializer from a name (``"orthogonal"``), a config dict or an instance.

    Raises:
        ValueError: for an unknown name, naming ``argument`` and the known names.
    """
    if callable(identifier) and not isinstance(identifier, type):
        return identifier
    if isinstance(identifier, dict):
        cls = _REGISTRY.get(str(identifier.get("class_name", "")).lower())
        if cls is not None:
            return cls(**identifier.get("config", {}))
    if isinstance(identifier, str) and identifier.lower() in _REGISTRY:
        return _REGISTRY[identifier.lower()]()
    raise ValueError(
        f"Received an invalid value for argument {argument}, expected one of "
        f"{sorted(_REGISTRY)}, got {identifier!r}."
    )


_NAMED_PRESETS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal")


def serialize(init) -> dict | str:
    """A JSON-able description that :func:`get` turns back into the initializer."""
    name = getattr(init, "name", None)
    if name in _NAMED_PRESETS:
        return name
    if not isinstance(init, Initializer):
        raise ValueError(f"Cannot serialize a custom initializer {init!r}; use a named one.")
    return {"class_name": name, "config": init.get_config()}

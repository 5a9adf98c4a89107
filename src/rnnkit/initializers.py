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
    """Base class: subclasses implement ``__call__(shape, dtype, rng)``.

    ``rng`` is a ``numpy.random.Generator``; the result is an array of ``shape`` and
    ``dtype``. ``get_config`` returns the constructor's arguments.

    Example:
        >>> import numpy as np
        >>> from rnnkit import initializers
        >>> rng = np.random.default_rng(0)
        >>> initializers.Zeros()((2,), np.float32, rng)
        array([0., 0.], dtype=float32)
    """

    name = "initializer"

    def get_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()})"


class Zeros(Initializer):
    """All zeros.

    Example:
        >>> import numpy as np
        >>> from rnnkit import initializers
        >>> rng = np.random.default_rng(0)
        >>> initializers.Zeros()((2,), np.float32, rng)
        array([0., 0.], dtype=float32)
    """

    name = "zeros"

    def __call__(self, shape, dtype, rng):
        return np.zeros(shape, dtype=dtype)


class Ones(Initializer):
    """All ones.

    Example:
        >>> import numpy as np
        >>> from rnnkit import initializers
        >>> rng = np.random.default_rng(0)
        >>> initializers.Ones()((2,), np.float32, rng)
        array([1., 1.], dtype=float32)
    """

    name = "ones"

    def __call__(self, shape, dtype, rng):
        return np.ones(shape, dtype=dtype)


class Constant(Initializer):
    """Every entry ``value``.

    Args:
        value: the fill value, default 0.

    Example:
        >>> import numpy as np
        >>> from rnnkit import initializers
        >>> rng = np.random.default_rng(0)
        >>> initializers.Constant(0.5)((2,), np.float32, rng)
        array([0.5, 0.5], dtype=float32)
    """

    name = "constant"

    def __init__(self, value: float = 0.0):
        self.value = float(value)

    def __call__(self, shape, dtype, rng):
        return np.full(shape, self.value, dtype=dtype)

    def get_config(self):
        return {"value": self.value}


class RandomUniform(Initializer):
    """Uniform on [minval, maxval).

    Args:
        minval: the lower bound, default -0.05.
        maxval: the upper bound, default 0.05.

    Example:
        >>> import numpy as np
        >>> from rnnkit import initializers
        >>> rng = np.random.default_rng(0)
        >>> w = initializers.RandomUniform(-1.0, 1.0)((100,), np.float32, rng)
        >>> bool(w.min() >= -1.0 and w.max() < 1.0)
        True
    """

    name = "uniform"

    def __init__(self, minval: float = -0.05, maxval: float = 0.05):
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, shape, dtype, rng):
        return rng.uniform(self.minval, self.maxval, size=shape).astype(dtype)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval}


class RandomNormal(Initializer):
    """Gaussian with ``mean`` and ``stddev`` (not truncated).

    Args:
        mean: default 0.
        stddev: default 0.05.

    Example:
        >>> import numpy as np
        >>> from rnnkit import initializers
        >>> rng = np.random.default_rng(0)
        >>> initializers.RandomNormal(stddev=1.0)((3, 4), np.float32, rng).shape
        (3, 4)
    """

    name = "normal"

    def __init__(self, mean: float = 0.0, stddev: float = 0.05):
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape, dtype, rng):
        return rng.normal(self.mean, self.stddev, size=shape).astype(dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev}


class VarianceScaling(Initializer):
    """Keras's VarianceScaling: scale / fan, uniform or (truncated) normal.

    The variance is ``scale / max(1, fan)``; uniform draws on ±sqrt(3·variance), any
    other ``distribution`` draws a normal truncated at two standard deviations (its
    standard deviation corrected so the variance is the one asked for, as Keras does).

    Args:
        scale: default 1.
        mode: ``"fan_in"`` (default), ``"fan_out"`` or ``"fan_avg"``.
        distribution: ``"uniform"`` or ``"truncated_normal"`` (default).

    Raises:
        ValueError: an unknown ``mode``.

    Example:
        >>> import numpy as np
        >>> from rnnkit import initializers
        >>> rng = np.random.default_rng(0)
        >>> init = initializers.VarianceScaling(1.0, "fan_in", "uniform")
        >>> bool(np.abs(init((3, 5), np.float32, rng)).max() <= 1.0)
        True
    """

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
    """Keras's GlorotUniform: ``VarianceScaling(1.0, "fan_avg", "uniform")``.

    Returns:
        A ``VarianceScaling`` saved under the name ``"glorot_uniform"``.

    Example:
        >>> import numpy as np
        >>> from rnnkit import initializers
        >>> rng = np.random.default_rng(0)
        >>> initializers.GlorotUniform()((3, 5), np.float32, rng).shape
        (3, 5)
    """
    init = VarianceScaling(1.0, "fan_avg", "uniform")
    init.name = "glorot_uniform"
    return init


def GlorotNormal():
    """Keras's GlorotNormal: ``VarianceScaling(1.0, "fan_avg", "truncated_normal")``.

    Returns:
        A ``VarianceScaling`` saved under the name ``"glorot_normal"``.

    Example:
        >>> import numpy as np
        >>> from rnnkit import initializers
        >>> rng = np.random.default_rng(0)
        >>> initializers.GlorotNormal()((3, 5), np.float32, rng).shape
        (3, 5)
    """
    init = VarianceScaling(1.0, "fan_avg", "truncated_normal")
    init.name = "glorot_normal"
    return init


def HeUniform():
    """Keras's HeUniform: ``VarianceScaling(2.0, "fan_in", "uniform")``.

    Returns:
        A ``VarianceScaling`` saved under the name ``"he_uniform"``.

    Example:
        >>> import numpy as np
        >>> from rnnkit import initializers
        >>> rng = np.random.default_rng(0)
        >>> initializers.HeUniform()((3, 5), np.float32, rng).shape
        (3, 5)
    """
    init = VarianceScaling(2.0, "fan_in", "uniform")
    init.name = "he_uniform"
    return init


def HeNormal():
    """Keras's HeNormal: ``VarianceScaling(2.0, "fan_in", "truncated_normal")``.

    Returns:
        A ``VarianceScaling`` saved under the name ``"he_normal"``.

    Example:
        >>> import numpy as np
        >>> from rnnkit import initializers
        >>> rng = np.random.default_rng(0)
        >>> initializers.HeNormal()((3, 5), np.float32, rng).shape
        (3, 5)
    """
    init = VarianceScaling(2.0, "fan_in", "truncated_normal")
    init.name = "he_normal"
    return init


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one
    (Saxe et al. 2014), the Keras default for recurrent kernels. A fused kernel of
    shape (units, n*units) is orthogonal as a whole, as in Keras.

    Args:
        gain: the factor the matrix is multiplied by, default 1.

    Example:
        >>> import numpy as np
        >>> from rnnkit import initializers
        >>> rng = np.random.default_rng(0)
        >>> q = initializers.Orthogonal()((4, 4), np.float64, rng)
        >>> bool(np.allclose(q.T @ q, np.eye(4)))
        True
    """

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
    """``gain`` times the identity (IRNN, Le et al. 2015); 2-D shapes only.

    Args:
        gain: default 1.

    Raises:
        ValueError: when called with a shape that is not 2-D.

    Example:
        >>> import numpy as np
        >>> from rnnkit import initializers
        >>> rng = np.random.default_rng(0)
        >>> initializers.Identity(0.5)((2, 2), np.float32, rng)
        array([[0.5, 0. ],
               [0. , 0.5]], dtype=float32)
    """

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

    Args:
        identifier: any callable that is not a class (returned as is), a registry name
            (case-insensitive: ``"glorot_uniform"``, ``"orthogonal"``, ...), or a
            ``{"class_name": name, "config": {...}}`` dict as ``serialize`` writes.
        argument: the argument named in the error message, default ``"initializer"``.

    Returns:
        The initializer.

    Raises:
        ValueError: for an unknown name, naming ``argument`` and the known names.

    Example:
        >>> from rnnkit import initializers
        >>> initializers.get({"class_name": "uniform", "config": {"maxval": 0.1}})
        RandomUniform({'minval': -0.05, 'maxval': 0.1})
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
    """A JSON-able description that :func:`get` turns back into the initializer.

    Args:
        init: an ``Initializer`` (the Glorot and He presets are saved by name).

    Returns:
        The preset's name, or ``{"class_name": name, "config": {...}}``.

    Raises:
        ValueError: ``init`` is not an ``Initializer`` (a plain function, say).

    Example:
        >>> from rnnkit import initializers
        >>> initializers.serialize(initializers.get("he_normal"))
        'he_normal'
        >>> initializers.serialize(initializers.Constant(2))
        {'class_name': 'constant', 'config': {'value': 2.0}}
    """
    name = getattr(init, "name", None)
    if name in _NAMED_PRESETS:
        return name
    if not isinstance(init, Initializer):
        raise ValueError(f"Cannot serialize a custom initializer {init!r}; use a named one.")
    return {"class_name": name, "config": init.get_config()}

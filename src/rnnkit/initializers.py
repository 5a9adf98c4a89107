"""Weight initializers by name, with Keras's names and defaults.

Each initializer is a callable ``init(shape, dtype, rng) -> array``. Fan-in and
fan-out follow Keras: for a 2-D kernel, (rows, cols).
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def _number(value, argument: str, *, minimum: float | None = None, strict: bool = False) -> float:
    """A finite real number (not a bool, a string, None or an array), >= ``minimum``
    (> with ``strict``) when one is given."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"Received an invalid value for argument {argument}, expected a number, got {value!r}."
        )
    v = float(value)
    low_ok = minimum is None or (v > minimum if strict else v >= minimum)
    if not (math.isfinite(v) and low_ok):
        bound = "" if minimum is None else f" {'>' if strict else '>='} {minimum:g}"
        raise ValueError(
            f"Received an invalid value for argument {argument}, expected a finite "
            f"number{bound}, got {value!r}."
        )
    return v


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
        value: the fill value, a finite number (a scalar, as in Keras), default 0.

    Raises:
        TypeError: ``value`` not a number (an array, a string, None).
        ValueError: ``value`` NaN or infinite.

    Example:
        >>> import numpy as np
        >>> from rnnkit import initializers
        >>> rng = np.random.default_rng(0)
        >>> initializers.Constant(0.5)((2,), np.float32, rng)
        array([0.5, 0.5], dtype=float32)
    """

    name = "constant"

    def __init__(self, value: float = 0.0):
        self.value = _number(value, "value")

    def __call__(self, shape, dtype, rng):
        return np.full(shape, self.value, dtype=dtype)

    def get_config(self):
        return {"value": self.value}


class RandomUniform(Initializer):
    """Uniform on [minval, maxval).

    Args:
        minval: the lower bound, a finite number, default -0.05.
        maxval: the upper bound, a finite number >= ``minval``, default 0.05.

    Raises:
        TypeError: a bound that is not a number.
        ValueError: a bound NaN or infinite, or ``maxval < minval``.

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
        self.minval, self.maxval = _number(minval, "minval"), _number(maxval, "maxval")
        if self.maxval < self.minval:
            raise ValueError(
                f"Received an invalid value for argument maxval, expected a number >= "
                f"minval={minval!r}, got {maxval!r}."
            )

    def __call__(self, shape, dtype, rng):
        return rng.uniform(self.minval, self.maxval, size=shape).astype(dtype)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval}


class RandomNormal(Initializer):
    """Gaussian with ``mean`` and ``stddev`` (not truncated).

    Args:
        mean: a finite number, default 0.
        stddev: a finite number >= 0, default 0.05.

    Raises:
        TypeError: an argument that is not a number.
        ValueError: NaN or infinite, or a negative ``stddev``.

    Example:
        >>> import numpy as np
        >>> from rnnkit import initializers
        >>> rng = np.random.default_rng(0)
        >>> initializers.RandomNormal(stddev=1.0)((3, 4), np.float32, rng).shape
        (3, 4)
    """

    name = "normal"

    def __init__(self, mean: float = 0.0, stddev: float = 0.05):
        self.mean = _number(mean, "mean")
        self.stddev = _number(stddev, "stddev", minimum=0.0)

    def __call__(self, shape, dtype, rng):
        return rng.normal(self.mean, self.stddev, size=shape).astype(dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev}


class VarianceScaling(Initializer):
    """Keras's VarianceScaling: scale / fan, uniform or (truncated) normal.

    The variance is ``scale / max(1, fan)``; ``"uniform"`` draws on ±sqrt(3·variance),
    ``"truncated_normal"`` a normal truncated at two standard deviations (its standard
    deviation corrected so the variance is the one asked for, as Keras does),
    ``"untruncated_normal"`` a plain normal of that variance.

    Args:
        scale: a finite number > 0, default 1.
        mode: ``"fan_in"`` (default), ``"fan_out"`` or ``"fan_avg"``.
        distribution: ``"truncated_normal"`` (default), ``"untruncated_normal"`` or
            ``"uniform"``, case-insensitive; ``"normal"`` is ``"truncated_normal"``, as
            in Keras.

    Raises:
        TypeError: ``scale`` not a number, or ``mode`` / ``distribution`` not a string.
        ValueError: ``scale`` not positive and finite, an unknown ``mode`` or
            ``distribution``.

    Example:
        >>> import numpy as np
        >>> from rnnkit import initializers
        >>> rng = np.random.default_rng(0)
        >>> init = initializers.VarianceScaling(1.0, "fan_in", "uniform")
        >>> bool(np.abs(init((3, 5), np.float32, rng)).max() <= 1.0)
        True
    """

    name = "variance_scaling"

    DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal"):
        scale = _number(scale, "scale", minimum=0.0, strict=True)
        for argument, value in (("mode", mode), ("distribution", distribution)):
            if not isinstance(value, str):
                raise TypeError(
                    f"Received an invalid value for argument {argument}, expected a string, "
                    f"got {value!r}."
                )
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(
                "Received an invalid value for argument mode, expected 'fan_in', "
                f"'fan_out' or 'fan_avg', got {mode!r}."
            )
        name = distribution.lower()
        name = "truncated_normal" if name == "normal" else name
        if name not in self.DISTRIBUTIONS:
            raise ValueError(
                f"Received an invalid value for argument distribution, expected one of "
                f"{self.DISTRIBUTIONS}, got {distribution!r}."
            )
        self.scale, self.mode, self.distribution = scale, mode, name

    def __call__(self, shape, dtype, rng):
        fan_in, fan_out = _fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, size=shape).astype(dtype)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(variance), size=shape).astype(dtype)
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
        gain: the factor the matrix is multiplied by, a finite number, default 1.

    Raises:
        TypeError: ``gain`` not a number.
        ValueError: ``gain`` NaN or infinite; when called, a shape of fewer than two
            axes (as Keras).

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
        self.gain = _number(gain, "gain")

    def __call__(self, shape, dtype, rng):
        if len(shape) < 2:
            raise ValueError(
                f"Received an invalid value for argument shape, expected at least two axes "
                f"for the orthogonal initializer, got {tuple(shape)}."
            )
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
        gain: a finite number, default 1.

    Raises:
        TypeError: ``gain`` not a number.
        ValueError: ``gain`` NaN or infinite; when called, a shape that is not 2-D.

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
        self.gain = _number(gain, "gain")

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
        identifier: any callable that is not a class (returned as is), an
            ``Initializer`` class (made with its defaults, as Keras does), a registry
            name (case-insensitive: ``"glorot_uniform"``, ``"orthogonal"``, ...) or
            Keras's class name of one (``"GlorotUniform"``, ``"RandomNormal"``), or a
            ``{"class_name": name, "config": {...}}`` dict as ``serialize`` writes.
        argument: the argument named in the error message, default ``"initializer"``.

    Returns:
        The initializer.

    Raises:
        ValueError: for an unknown name, naming ``argument`` and the known names (or a
            config value out of range).
        TypeError: a config that is not a dict (or a config value of the wrong type).

    Example:
        >>> from rnnkit import initializers
        >>> initializers.get({"class_name": "uniform", "config": {"maxval": 0.1}})
        RandomUniform({'minval': -0.05, 'maxval': 0.1})
    """
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()  # the class itself, as Keras takes it: its defaults
    if callable(identifier) and not isinstance(identifier, type):
        return identifier
    if isinstance(identifier, dict):
        cls = _REGISTRY.get(_registry_key(identifier.get("class_name", "")))
        config = identifier.get("config", {})
        if cls is not None and not isinstance(config, dict):
            raise TypeError(
                f"Received an invalid value for argument {argument}: its config must be a "
                f"dict, got {config!r}."
            )
        if cls is not None:
            return cls(**config)
    if isinstance(identifier, str) and _registry_key(identifier) in _REGISTRY:
        return _REGISTRY[_registry_key(identifier)]()
    raise ValueError(
        f"Received an invalid value for argument {argument}, expected one of "
        f"{sorted(_REGISTRY)}, got {identifier!r}."
    )


def _registry_key(name) -> str:
    """A registry key from a name: ``"glorot_uniform"``, ``"Orthogonal"`` or Keras's
    class name ``"GlorotUniform"`` (snake-cased)."""
    name = str(name)
    if name.lower() in _REGISTRY:
        return name.lower()
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


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

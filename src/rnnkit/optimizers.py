"""Optimizers by name, updating weights in place, with Keras's defaults.

Every optimizer accepts ``learning_rate`` (or ``lr``, as the seeds' Keras code
writes it), ``clipnorm`` (each gradient's own L2 norm capped — Keras's meaning),
``global_clipnorm`` (the norm of all gradients together capped: Pascanu et al.
2013's clipping, what PyTorch's ``clip_grad_norm_`` does) and ``clipvalue``
(element-wise). Clipping happens before the update, in that order.

A gradient is an array, or a :class:`RowSparse` (an embedding's: only the rows a
batch used). Every optimizer here gives a row-sparse gradient the same update as its
dense equivalent (the dense semantics of Keras and PyTorch: moments decay on every
row every step), at the cost of the rows used where the update allows it (SGD
without momentum, Adagrad) and otherwise in one compiled pass over the table.
:class:`LazyAdam` is the different optimizer whose update touches only the rows used.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .utils import validation


def _number(value, argument: str) -> None:
    """``value`` is a real number: not a bool, a string or None (``float`` would take
    ``True`` and ``"0.1"`` without a word)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        hint = ""
        if argument == "learning_rate" and callable(value):
            hint = (
                " (a schedule: pass a number and rnnkit.callbacks.LearningRateScheduler, "
                "which sets the rate each epoch)"
            )
        raise TypeError(
            f"Received an invalid value for argument {argument}, expected a number{hint}, "
            f"got {value!r}."
        )


def _positive(value, argument: str, allow_zero: bool = False) -> float:
    _number(value, argument)
    return validation.positive_float(value, argument, allow_zero=allow_zero)


def _fraction(value, argument: str, high_inclusive: bool = False) -> float:
    _number(value, argument)
    return validation.fraction(value, argument, high_inclusive=high_inclusive)


class RowSparse:
    """The gradient of a 2-D weight that is zero except on some rows: an embedding
    table's, which a batch touches only at the ids it holds.

    Anything that reads gradients as arrays can read it: ``np.asarray(g)`` and
    ``g.to_dense()`` give the dense (rows x columns) gradient, and ``shape``,
    ``dtype``, ``ndim``, ``copy`` and ``astype`` behave as an array's. Norms and
    clipping (:func:`global_norm`, ``clipnorm``, ``clipvalue``) read only ``values``,
    and the optimizers here update from it without forming the dense array.

    Args:
        rows: the rows used: sorted, unique, int64, each in [0, shape[0]).
        values: the gradient of those rows, shape (len(rows), shape[1]); duplicates
            already summed.
        shape: the dense gradient's (and the weight's) shape.

    Example:
        >>> g = RowSparse(np.array([1, 3]), np.ones((2, 2), np.float32), (5, 2))
        >>> g.to_dense().sum(axis=1)
        array([0., 2., 0., 2., 0.], dtype=float32)
    """

    __slots__ = ("rows", "values", "shape")

    def __init__(self, rows, values, shape):
        rows = np.asarray(rows)
        if rows.size and not np.issubdtype(rows.dtype, np.integer):
            raise TypeError(f"RowSparse rows must be integers; got dtype {rows.dtype}.")
        self.rows = rows.astype(np.int64, copy=False)
        self.values = np.asarray(values)
        self.shape = tuple(int(s) for s in shape)
        if (
            len(self.shape) != 2
            or self.rows.ndim != 1
            or self.values.shape != (self.rows.size, self.shape[1])
        ):
            raise ValueError(
                f"RowSparse expects rows (n,), values (n, {self.shape[1:] or '?'}) and a 2-D "
                f"shape; got rows {self.rows.shape}, values {self.values.shape}, shape "
                f"{self.shape}."
            )
        # the compiled updates index the table by these rows without bounds checks
        if self.rows.size and (
            self.rows[0] < 0 or self.rows[-1] >= self.shape[0] or np.any(np.diff(self.rows) <= 0)
        ):
            raise ValueError(
                f"RowSparse rows must be sorted, unique and in [0, {self.shape[0]}); got "
                f"{self.rows.size} rows from {self.rows.min()} to {self.rows.max()}"
                + (", not strictly increasing." if np.any(np.diff(self.rows) <= 0) else ".")
            )

    @property
    def dtype(self) -> np.dtype:
        return self.values.dtype

    @property
    def ndim(self) -> int:
        return 2

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    def to_dense(self, dtype=None) -> np.ndarray:
        """The dense gradient, a new (shape) array (for an all-reduce, a saver, a plot)."""
        out = np.zeros(self.shape, dtype or self.values.dtype)
        out[self.rows] = self.values
        return out

    def __array__(self, dtype=None, copy=None):
        return self.to_dense(dtype)

    def copy(self) -> RowSparse:
        return RowSparse(self.rows.copy(), self.values.copy(), self.shape)

    def astype(self, dtype, copy: bool = True) -> RowSparse:
        if not copy and self.values.dtype == np.dtype(dtype):
            return self
        return RowSparse(self.rows, self.values.astype(dtype), self.shape)

    def __mul__(self, scale) -> RowSparse:
        if not np.isscalar(scale):
            return NotImplemented
        return RowSparse(self.rows, self.values * scale, self.shape)

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"RowSparse(shape={self.shape}, dtype={self.dtype}, {self.rows.size} rows used)"


def to_dense(grad) -> np.ndarray:
    """A gradient as a dense array (an array is returned as it is).

    Args:
        grad: an array or a ``RowSparse``.

    Returns:
        The dense array.

    Example:
        >>> import numpy as np
        >>> from rnnkit.optimizers import RowSparse, to_dense
        >>> to_dense(RowSparse([1], [[1.0]], (2, 1)))
        array([[0.],
               [1.]])
    """
    return grad.to_dense() if isinstance(grad, RowSparse) else grad


_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _kernels_for(p, *arrays):
    """``rnnkit._fused_adam`` (the compiled updates) when the accelerator is numba
    (``rnnkit.backend.accelerator()``, the one place that decides), p is a writeable
    float32 or float64 array and every array is C-contiguous in p's dtype (the kernels
    run over flat or row views); else None, for the NumPy lines."""
    if p.dtype not in _KERNEL_DTYPES or not p.flags.writeable:
        return None
    if not all(a.flags.c_contiguous and a.dtype == p.dtype for a in (p, *arrays)):
        return None
    from . import backend

    if backend.accelerator() != "numba":
        return None
    from . import _fused_adam

    return _fused_adam


def _fused_adam(p, g, m, v):
    """The accelerator's compiled Adam update (``rnnkit._fused_adam``) for these arrays,
    or None for the NumPy lines (see ``_kernels_for``)."""
    kernels = _kernels_for(p, g, m, v)
    return None if kernels is None else kernels.adam_update


class Optimizer:
    """Base class. Subclasses implement ``_update(i, param, grad, lr)``.

    ``apply(params, grads)`` makes one update of the weights in place; the slot arrays
    (moments, accumulators) are made at the first call, one per weight.

    Args:
        learning_rate: step size, a positive number; default None, the class's default
            (0.001; SGD's 0.01).
        clipnorm: cap on each gradient tensor's L2 norm, default None (no cap).
        clipvalue: cap on each gradient element's absolute value, default None.
        global_clipnorm: cap on the L2 norm of all gradients together, default None.
        lr: alias of ``learning_rate``, default None.

    Raises:
        TypeError: an argument that is not a number, or an unknown keyword argument.
        ValueError: an argument out of its range, or both ``learning_rate`` and ``lr``.

    Example:
        >>> import numpy as np
        >>> from rnnkit.optimizers import SGD
        >>> p = np.array([1.0, 2.0])
        >>> SGD(learning_rate=0.1, clipnorm=1.0).apply([p], [np.array([3.0, -4.0])])
        >>> p
        array([0.94, 2.08])
    """

    name = "optimizer"
    default_lr = 0.001

    def __init__(
        self,
        learning_rate=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        lr=None,
        **kwargs,
    ):
        if kwargs:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s) {sorted(kwargs)}."
            )
        if learning_rate is not None and lr is not None:
            raise ValueError("Pass learning_rate or its alias lr, not both.")
        lr_value = learning_rate if learning_rate is not None else lr
        self.learning_rate = _positive(
            self.default_lr if lr_value is None else lr_value, "learning_rate"
        )
        self.clipnorm = None if clipnorm is None else _positive(clipnorm, "clipnorm")
        self.clipvalue = None if clipvalue is None else _positive(clipvalue, "clipvalue")
        self.global_clipnorm = (
            None if global_clipnorm is None else _positive(global_clipnorm, "global_clipnorm")
        )
        self.iterations = 0
        self.slots: dict[str, list[np.ndarray]] = {}

    @property
    def lr(self) -> float:
        return self.learning_rate

    @lr.setter
    def lr(self, value: float) -> None:
        self.learning_rate = _positive(value, "learning_rate")

    def clip(self, grads: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
        """Apply the clipping options; returns the clipped gradients and the global
        norm before clipping."""
        return self._clipped(grads), global_norm(grads)

    def _clipped(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        # a RowSparse gradient is clipped through its values: the rows it leaves out
        # are zeros, which neither clipping changes nor a norm counts
        if self.clipvalue is not None:
            grads = [
                RowSparse(g.rows, np.clip(g.values, -self.clipvalue, self.clipvalue), g.shape)
                if isinstance(g, RowSparse)
                else np.clip(g, -self.clipvalue, self.clipvalue)
                for g in grads
            ]
        if self.clipnorm is not None:
            clipped = []
            for g in grads:
                vals = g.values if isinstance(g, RowSparse) else g
                n = float(np.sqrt(np.sum(vals * vals)))
                clipped.append(g * (self.clipnorm / n) if n > self.clipnorm else g)
            grads = clipped
        if self.global_clipnorm is not None:
            n = global_norm(grads)
            if n > self.global_clipnorm:
                grads = [g * (self.global_clipnorm / n) for g in grads]
        return grads

    def apply(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """One update of ``params`` in place, after the clipping options (if any).
        (The gradients' global norm is ``global_norm(grads)``; the update itself
        computes it only for ``global_clipnorm``.)"""
        if len(params) != len(grads):  # zip would leave the extra weights unchanged
            raise ValueError(
                f"{type(self).__name__}.apply got {len(params)} weights and {len(grads)} "
                f"gradients; expected one gradient per weight."
            )
        for i, (p, g) in enumerate(zip(params, grads)):
            if not isinstance(g, RowSparse) and np.shape(g) != np.shape(p):
                # a broadcast update would silently move every row by the same step
                raise ValueError(
                    f"{type(self).__name__}: weight {i} has shape {np.shape(p)}, its "
                    f"gradient shape {np.shape(g)}."
                )
        if not self.slots:
            self._create_slots(params)
        elif len(self.slots[next(iter(self.slots))]) != len(params):
            raise ValueError(
                f"{type(self).__name__} was used with {len(self.slots[next(iter(self.slots))])}"
                f" weights, now given {len(params)}; use one optimizer per model."
            )
        grads = self._clipped(grads)
        self.iterations += 1
        for i, (p, g) in enumerate(zip(params, grads)):
            g = g.astype(p.dtype, copy=False)
            if isinstance(g, RowSparse):
                if g.shape != p.shape:
                    raise ValueError(
                        f"{type(self).__name__}: weight {i} has shape {p.shape}, its "
                        f"row-sparse gradient shape {g.shape}."
                    )
                self._update_rows(i, p, g)
            else:
                self._update(i, p, g)

    def _create_slots(self, params):
        pass

    def _update(self, i, p, g):
        raise NotImplementedError

    def _update_rows(self, i, p, g: RowSparse):
        """The update for a row-sparse gradient; by default the dense update on
        ``g.to_dense()`` (the reference, and the NumPy fallback of the compiled
        passes)."""
        self._update(i, p, g.to_dense())

    def get_config(self) -> dict:
        return {
            "learning_rate": self.learning_rate,
            "clipnorm": self.clipnorm,
            "clipvalue": self.clipvalue,
            "global_clipnorm": self.global_clipnorm,
        }

    def state(self) -> dict[str, np.ndarray]:
        """Slot arrays and the step count, for checkpoints."""
        out = {"iterations": np.array(self.iterations)}
        for name, arrays in self.slots.items():
            for i, a in enumerate(arrays):
                out[f"{name}/{i}"] = a
        return out

    def load_state(self, state: dict[str, np.ndarray], params) -> None:
        self._create_slots(params)
        self.iterations = int(state["iterations"])
        for name, arrays in self.slots.items():
            for i, a in enumerate(arrays):
                a[...] = state[f"{name}/{i}"]


_NORM_CHUNK = 1 << 16  # elements squared in float64 at a time


def global_norm(grads) -> float:
    """The L2 norm of all gradients together, accumulated in float64. Large float32
    gradients (an embedding's) are squared a chunk at a time, so that no float64 copy
    of a whole gradient is made (it was the peak of a training step's memory).

    Args:
        grads: arrays or ``RowSparse`` gradients (only their ``values`` are read).

    Returns:
        The norm, a float.

    Example:
        >>> import numpy as np
        >>> from rnnkit.optimizers import global_norm
        >>> global_norm([np.array([3.0]), np.array([4.0])])
        5.0
    """
    total = 0.0
    for g in grads:
        flat = np.ravel(g.values if isinstance(g, RowSparse) else g)
        for start in range(0, flat.size, _NORM_CHUNK):
            chunk = flat[start : start + _NORM_CHUNK]
            total += float(np.sum(np.square(chunk, dtype=np.float64)))
    return float(math.sqrt(total))


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, Keras's form:
    v ← momentum·v - lr·g;  p ← p + v  (Nesterov: p ← p + momentum·v - lr·g).

    Args:
        learning_rate: default None, 0.01.
        momentum: in [0, 1] (Keras's range), default 0 (no velocity kept).
        nesterov: Nesterov's form of the momentum update, a bool, default False.
        **kwargs: ``learning_rate``'s alias ``lr`` and the clipping options,
            ``clipnorm``, ``global_clipnorm`` and ``clipvalue`` (see ``Optimizer``).

    Raises:
        TypeError: an argument that is not a number, or an unknown keyword argument.
        ValueError: an argument out of its range, or both ``learning_rate`` and ``lr``.

    Example:
        >>> import numpy as np
        >>> from rnnkit.optimizers import SGD
        >>> p = np.array([1.0, 2.0])
        >>> SGD(learning_rate=0.1, momentum=0.9).apply([p], [np.array([3.0, -4.0])])
        >>> p
        array([0.7, 2.4])
    """

    name = "sgd"
    default_lr = 0.01

    def __init__(self, learning_rate=None, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        # Keras accepts [0, 1]; momentum 1 keeps every past step at full weight
        self.momentum = _fraction(momentum, "momentum", high_inclusive=True)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(
                f"Received an invalid value for argument nesterov, expected True or False, "
                f"got {nesterov!r}."
            )
        self.nesterov = bool(nesterov)

    def _create_slots(self, params):
        self.slots = {"velocity": [np.zeros_like(p) for p in params]} if self.momentum else {}

    def _update(self, i, p, g):
        lr = self.learning_rate
        if not self.momentum:
            p -= lr * g
            return
        v = self.slots["velocity"][i]
        v *= self.momentum
        v -= lr * g
        if self.nesterov:
            p += self.momentum * v - lr * g
        else:
            p += v

    def _update_rows(self, i, p, g):
        if not self.momentum:  # the untouched rows' gradient, 0, moves nothing
            p[g.rows] -= self.learning_rate * g.values
            return
        v = self.slots["velocity"][i]
        kernels = _kernels_for(p, g.values, v)
        if kernels is None:
            return super()._update_rows(i, p, g)
        one = p.dtype.type
        kernels.momentum_rows(
            p, g.rows, g.values, v, one(self.momentum), one(self.learning_rate), self.nesterov
        )

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """a ← ρ·a + (1-ρ)·g²;  p ← p - lr·g / (√a + ε).

    Args:
        learning_rate: default None, 0.001.
        rho: the decay of the mean square, in [0, 1), default 0.9.
        epsilon: a finite number >= 0, default 1e-7.
        **kwargs: ``learning_rate``'s alias ``lr`` and the clipping options,
            ``clipnorm``, ``global_clipnorm`` and ``clipvalue`` (see ``Optimizer``).

    Raises:
        TypeError: an argument that is not a number, or an unknown keyword argument.
        ValueError: an argument out of its range, or both ``learning_rate`` and ``lr``.

    Example:
        >>> import numpy as np
        >>> from rnnkit.optimizers import RMSprop
        >>> p = np.array([1.0, 2.0])
        >>> RMSprop(learning_rate=0.1).apply([p], [np.array([3.0, -4.0])])
        >>> np.round(p, 4)
        array([0.6838, 2.3162])
    """

    name = "rmsprop"

    def __init__(self, learning_rate=None, rho=0.9, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = _fraction(rho, "rho")
        self.epsilon = _positive(epsilon, "epsilon", allow_zero=True)

    def _create_slots(self, params):
        self.slots = {"rms": [np.zeros_like(p) for p in params]}

    def _update(self, i, p, g):
        a = self.slots["rms"][i]
        a *= self.rho
        a += (1 - self.rho) * g * g
        p -= self.learning_rate * g / (np.sqrt(a) + self.epsilon)

    def _update_rows(self, i, p, g):
        a = self.slots["rms"][i]
        kernels = _kernels_for(p, g.values, a)
        if kernels is None:
            return super()._update_rows(i, p, g)
        one = p.dtype.type
        kernels.rmsprop_rows(
            p,
            g.rows,
            g.values,
            a,
            *(one(x) for x in (self.rho, 1 - self.rho)),
            one(self.learning_rate),
            one(self.epsilon),
        )

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Adagrad(Optimizer):
    """a ← a + g²;  p ← p - lr·g / (√a + ε), a starting at 0.1 (Keras).

    Args:
        learning_rate: default None, 0.001.
        initial_accumulator_value: a's starting value, a finite number >= 0, default
            0.1.
        epsilon: a finite number >= 0, default 1e-7.
        **kwargs: ``learning_rate``'s alias ``lr`` and the clipping options,
            ``clipnorm``, ``global_clipnorm`` and ``clipvalue`` (see ``Optimizer``).

    Raises:
        TypeError: an argument that is not a number, or an unknown keyword argument.
        ValueError: an argument out of its range, or both ``learning_rate`` and ``lr``.

    Example:
        >>> import numpy as np
        >>> from rnnkit.optimizers import Adagrad
        >>> p = np.array([1.0, 2.0])
        >>> Adagrad(learning_rate=0.1).apply([p], [np.array([3.0, -4.0])])
        >>> np.round(p, 4)
        array([0.9006, 2.0997])
    """

    name = "adagrad"

    def __init__(self, learning_rate=None, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = _positive(
            initial_accumulator_value, "initial_accumulator_value", allow_zero=True
        )
        self.epsilon = _positive(epsilon, "epsilon", allow_zero=True)

    def _create_slots(self, params):
        self.slots = {
            "accumulator": [np.full_like(p, self.initial_accumulator_value) for p in params]
        }

    def _update(self, i, p, g):
        a = self.slots["accumulator"][i]
        a += g * g
        p -= self.learning_rate * g / (np.sqrt(a) + self.epsilon)

    def _update_rows(self, i, p, g):
        if not (self.epsilon > 0 or self.initial_accumulator_value > 0):
            # an untouched row's 0 / (√0 + 0) is NaN in the dense update: keep it dense
            return super()._update_rows(i, p, g)
        # a zero gradient leaves a row's accumulator and weights as they are: the same
        # lines over the rows used are the dense update
        a = self.slots["accumulator"][i]
        rows, values = g.rows, g.values
        acc = a[rows]
        acc += values * values
        a[rows] = acc
        p[rows] -= self.learning_rate * values / (np.sqrt(acc) + self.epsilon)

    def get_config(self):
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) as Keras writes it:
    m ← β1·m + (1-β1)·g;  v ← β2·v + (1-β2)·g²;
    p ← p - lr·√(1-β2^t)/(1-β1^t) · m / (√v + ε).

    ``epsilon_form="torch"`` adds ε after the bias corrections instead, as PyTorch's
    ``torch.optim.Adam`` and the paper's Algorithm 1 do:
    p ← p - lr/(1-β1^t) · m / (√v / √(1-β2^t) + ε). The two differ only through ε, which
    the Keras form weighs 1/√(1-β2^t) times more (about 30x at the first step): with
    PyTorch's settings (ε = 1e-8) a model learns faster at first in that form (tiny
    Shakespeare LSTM, docs/language-models.md). Use it, with ``epsilon=1e-8``, to match
    a PyTorch run.

    Args:
        learning_rate: default None, 0.001.
        beta_1: the first moment's decay, in [0, 1), default 0.9.
        beta_2: the second moment's decay, in [0, 1), default 0.999.
        epsilon: a finite number >= 0, default 1e-7.
        epsilon_form: ``"keras"`` (default) or ``"torch"``, where ε is added.
        **kwargs: ``learning_rate``'s alias ``lr`` and the clipping options,
            ``clipnorm``, ``global_clipnorm`` and ``clipvalue`` (see ``Optimizer``).

    Raises:
        TypeError: an argument that is not a number, or an unknown keyword argument.
        ValueError: an argument out of its range, an unknown ``epsilon_form``, or both
            ``learning_rate`` and ``lr``.

    Example:
        >>> import numpy as np
        >>> from rnnkit.optimizers import Adam
        >>> p = np.array([1.0, 2.0])
        >>> Adam(learning_rate=0.1).apply([p], [np.array([3.0, -4.0])])
        >>> np.round(p, 4)
        array([0.9, 2.1])
    """

    name = "adam"
    EPSILON_FORMS = ("keras", "torch")

    def __init__(
        self,
        learning_rate=None,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        epsilon_form="keras",
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _fraction(beta_1, "beta_1")
        self.beta_2 = _fraction(beta_2, "beta_2")
        self.epsilon = _positive(epsilon, "epsilon", allow_zero=True)
        if epsilon_form not in self.EPSILON_FORMS:
            raise ValueError(
                f"Received an invalid value for argument epsilon_form, expected one of "
                f"{self.EPSILON_FORMS}, got {epsilon_form!r}."
            )
        self.epsilon_form = epsilon_form

    def _create_slots(self, params):
        self.slots = {
            "m": [np.zeros_like(p) for p in params],
            "v": [np.zeros_like(p) for p in params],
        }

    def _step_sizes(self) -> tuple[float, float]:
        """(step, c2) of the update at this iteration: p ← p - step·m / (√v / c2 + ε)."""
        t = self.iterations
        if self.epsilon_form == "keras":
            return self.learning_rate * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t), 1.0
        # ε added to √v̂ = √(v / (1 - β2^t))
        return self.learning_rate / (1 - self.beta_1**t), math.sqrt(1 - self.beta_2**t)

    def _kernel_scalars(self, dtype, step, c2) -> tuple:
        one = np.dtype(dtype).type
        return tuple(
            one(x) for x in (self.beta_1, 1 - self.beta_1, self.beta_2, 1 - self.beta_2, step, c2)
        ) + (one(self.epsilon),)

    def _update_rows(self, i, p, g):
        m, v = self.slots["m"][i], self.slots["v"][i]
        kernels = _kernels_for(p, g.values, m, v)
        if kernels is None:
            return super()._update_rows(i, p, g)
        # every row's moments decay and every row moves: one pass over the table
        kernels.adam_rows(
            p, g.rows, g.values, m, v, *self._kernel_scalars(p.dtype, *self._step_sizes())
        )

    def _update(self, i, p, g):
        m, v = self.slots["m"][i], self.slots["v"][i]
        step, c2 = self._step_sizes()
        kernel = _fused_adam(p, g, m, v)
        if kernel is not None:  # the lines below as one compiled pass (rnnkit._fused_adam)
            kernel(*(a.reshape(-1) for a in (p, g, m, v)), *self._kernel_scalars(p.dtype, step, c2))
            return
        # the same operations in the same order as the formula, through two scratch
        # arrays instead of eight temporaries
        tmp = np.multiply(g, 1 - self.beta_1)
        m *= self.beta_1
        m += tmp
        np.multiply(g, g, out=tmp)
        tmp *= 1 - self.beta_2
        v *= self.beta_2
        v += tmp
        denom = np.sqrt(v)
        if c2 != 1.0:
            denom /= c2
        denom += self.epsilon
        np.multiply(m, step, out=tmp)
        tmp /= denom
        p -= tmp

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "epsilon_form": self.epsilon_form,
        }


class LazyAdam(Adam):
    """Adam whose update of a row-sparse gradient (an embedding's) moves only the rows
    the batch used: their moments and weights follow Adam's lines, every other row's
    moments and weights stay as they are. TensorFlow Addons' ``LazyAdam`` and
    PyTorch's ``SparseAdam`` (``epsilon=1e-8`` for its default; both add ε to √v, this
    class's default ``epsilon_form="keras"``) do the same; the bias corrections use
    the step count, as both do.

    This is a different optimizer from :class:`Adam`, not a faster form of it: under
    Adam a row no batch touches still moves (its momentum carries it) and its moments
    decay; here it waits until an id in it comes back, so results differ. It costs
    the rows used rather than the whole table, which is what makes it the choice for
    large vocabularies. Dense gradients (every other weight) get Adam's update. It
    takes :class:`Adam`'s arguments.

    Args:
        **kwargs: :class:`Adam`'s arguments.

    Example:
        >>> model.compile(optimizer=LazyAdam(learning_rate=1e-3), loss="...")  # doctest: +SKIP
        >>> model.compile(optimizer="lazy_adam", loss="...")  # doctest: +SKIP
    """

    name = "lazy_adam"

    def _update_rows(self, i, p, g):
        m, v = self.slots["m"][i], self.slots["v"][i]
        scalars = self._kernel_scalars(p.dtype, *self._step_sizes())
        kernels = _kernels_for(p, g.values, m, v)
        if kernels is not None:
            kernels.lazy_adam_rows(p, g.rows, g.values, m, v, *scalars)
            return
        # Adam's NumPy lines on the rows used (gathered, updated, scattered back)
        beta_1, omb1, beta_2, omb2, step, c2, eps = scalars
        rows, gr = g.rows, g.values
        mr = m[rows] * beta_1 + gr * omb1
        vr = v[rows] * beta_2 + (gr * gr) * omb2
        m[rows], v[rows] = mr, vr
        denom = np.sqrt(vr)
        if c2 != 1:
            denom /= c2
        p[rows] -= (mr * step) / (denom + eps)


_REGISTRY = {
    "sgd": SGD,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
    "adam": Adam,
    "lazy_adam": LazyAdam,
}


def get(identifier) -> Optimizer:
    """An optimizer from a name (``"adam"``) or an instance.

    Args:
        identifier: an ``Optimizer`` (returned as is), an ``Optimizer`` class or a
            name, case-insensitive (``"sgd"``, ``"rmsprop"``, ``"adagrad"``, ``"adam"``,
            ``"lazy_adam"``: a new instance with the defaults), or a ``{"class_name":
            ..., "config": {...}}`` dict (Keras's ``"Adam"`` spelling too).

    Returns:
        The optimizer.

    Raises:
        ValueError: for an unknown name, listing the known ones (or a config value out
            of range).
        TypeError: a config value that is not a number, or an unknown config key.

    Example:
        >>> from rnnkit import optimizers
        >>> optimizers.get("Adam").learning_rate
        0.001
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()  # the class itself: its defaults
    if isinstance(identifier, dict) and str(identifier.get("class_name", "")).lower() in _REGISTRY:
        return deserialize(identifier)
    if isinstance(identifier, str) and identifier.lower() in _REGISTRY:
        return _REGISTRY[identifier.lower()]()
    raise ValueError(
        f"Received an invalid value for argument optimizer, expected one of "
        f"{sorted(_REGISTRY)} or an Optimizer instance, got {identifier!r}."
    )


def serialize(opt: Optimizer) -> dict:
    """The config dict an optimizer is saved as, the one ``deserialize`` reads back
    (the settings only: the slots and step count are ``state()``'s).

    Args:
        opt: an ``Optimizer``.

    Returns:
        ``{"class_name": opt.name, "config": opt.get_config()}``.

    Example:
        >>> from rnnkit import optimizers
        >>> spec = optimizers.serialize(optimizers.SGD(0.1))
        >>> config = spec["config"]
        >>> spec["class_name"], config["learning_rate"], config["momentum"]
        ('sgd', 0.1, 0.0)
    """
    return {"class_name": opt.name, "config": opt.get_config()}


def deserialize(spec: dict) -> Optimizer:
    """A new optimizer from a ``serialize`` dict.

    Args:
        spec: ``{"class_name": name, "config": {...}}``.

    Returns:
        The optimizer, with no slots and step count 0.

    Raises:
        TypeError: ``spec`` or its config not a dict (or a config value not a number).
        ValueError: an unknown ``class_name`` (or a config value out of range).

    Example:
        >>> from rnnkit import optimizers
        >>> spec = {"class_name": "adam", "config": {"learning_rate": 0.01}}
        >>> optimizers.deserialize(spec).learning_rate
        0.01
    """
    if not isinstance(spec, dict) or not isinstance(spec.get("config", {}), dict):
        raise TypeError(
            f"Received an invalid value for argument spec, expected a dict "
            f'{{"class_name": ..., "config": {{...}}}}, got {spec!r}.'
        )
    cls = _REGISTRY.get(str(spec.get("class_name")).lower())
    if cls is None:
        raise ValueError(f"Unknown optimizer {spec.get('class_name')!r}.")
    return cls(**spec.get("config", {}))

"""Optimizers by name, updating weights in place, with Keras's defaults.

Every optimizer accepts ``learning_rate`` (or ``lr``, as the seeds' Keras code
writes it), ``clipnorm`` (each gradient's own L2 norm capped — Keras's meaning),
``global_clipnorm`` (the norm of all gradients together capped: Pascanu et al.
2013's clipping, what PyTorch's ``clip_grad_norm_`` does) and ``clipvalue``
(element-wise). Clipping happens before the update, in that order.
"""

from __future__ import annotations

import math

import numpy as np

from .utils import validation


def _fused_adam(p, g, m, v):
    """The accelerator's compiled Adam update (``rnnkit._fused_adam``) for these arrays,
    or None for the NumPy lines: the accelerator off or missing for this dtype
    (``cells.fused.for_dtype``, the one place that decides), or an array that is not
    C-contiguous in p's dtype (the kernel runs over flat views)."""
    from .cells import fused

    if fused.for_dtype(p.dtype) is None or not p.flags.writeable:
        return None
    if not all(a.flags.c_contiguous and a.dtype == p.dtype for a in (p, g, m, v)):
        return None
    from ._fused_adam import adam_update  # numba is there: for_dtype imported it

    return adam_update


class Optimizer:
    """Base class. Subclasses implement ``_update(i, param, grad, lr)``.

    Args:
        learning_rate: step size (``lr`` is accepted as an alias).
        clipnorm: cap on each gradient tensor's L2 norm.
        global_clipnorm: cap on the L2 norm of all gradients together.
        clipvalue: cap on each gradient element's absolute value.
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
        self.learning_rate = validation.positive_float(
            self.default_lr if lr_value is None else lr_value, "learning_rate"
        )
        self.clipnorm = (
            None if clipnorm is None else validation.positive_float(clipnorm, "clipnorm")
        )
        self.clipvalue = (
            None if clipvalue is None else validation.positive_float(clipvalue, "clipvalue")
        )
        self.global_clipnorm = (
            None
            if global_clipnorm is None
            else validation.positive_float(global_clipnorm, "global_clipnorm")
        )
        self.iterations = 0
        self.slots: dict[str, list[np.ndarray]] = {}

    @property
    def lr(self) -> float:
        return self.learning_rate

    @lr.setter
    def lr(self, value: float) -> None:
        self.learning_rate = validation.positive_float(value, "learning_rate")

    def clip(self, grads: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
        """Apply the clipping options; returns the clipped gradients and the global
        norm before clipping."""
        return self._clipped(grads), global_norm(grads)

    def _clipped(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        if self.clipvalue is not None:
            grads = [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm is not None:
            clipped = []
            for g in grads:
                n = float(np.sqrt(np.sum(g * g)))
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
            self._update(i, p, g.astype(p.dtype, copy=False))

    def _create_slots(self, params):
        pass

    def _update(self, i, p, g):
        raise NotImplementedError

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
    of a whole gradient is made (it was the peak of a training step's memory)."""
    total = 0.0
    for g in grads:
        flat = np.ravel(g)
        for start in range(0, flat.size, _NORM_CHUNK):
            chunk = flat[start : start + _NORM_CHUNK]
            total += float(np.sum(np.square(chunk, dtype=np.float64)))
    return float(math.sqrt(total))


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, Keras's form:
    v ← momentum·v - lr·g;  p ← p + v  (Nesterov: p ← p + momentum·v - lr·g)."""

    name = "sgd"
    default_lr = 0.01

    def __init__(self, learning_rate=None, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = validation.fraction(momentum, "momentum")
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

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """a ← ρ·a + (1-ρ)·g²;  p ← p - lr·g / (√a + ε)."""

    name = "rmsprop"

    def __init__(self, learning_rate=None, rho=0.9, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = validation.fraction(rho, "rho")
        self.epsilon = float(epsilon)

    def _create_slots(self, params):
        self.slots = {"rms": [np.zeros_like(p) for p in params]}

    def _update(self, i, p, g):
        a = self.slots["rms"][i]
        a *= self.rho
        a += (1 - self.rho) * g * g
        p -= self.learning_rate * g / (np.sqrt(a) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Adagrad(Optimizer):
    """a ← a + g²;  p ← p - lr·g / (√a + ε), a starting at 0.1 (Keras)."""

    name = "adagrad"

    def __init__(self, learning_rate=None, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def _create_slots(self, params):
        self.slots = {
            "accumulator": [np.full_like(p, self.initial_accumulator_value) for p in params]
        }

    def _update(self, i, p, g):
        a = self.slots["accumulator"][i]
        a += g * g
        p -= self.learning_rate * g / (np.sqrt(a) + self.epsilon)

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
    a PyTorch run."""

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
        self.beta_1 = validation.fraction(beta_1, "beta_1")
        self.beta_2 = validation.fraction(beta_2, "beta_2")
        self.epsilon = float(epsilon)
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

    def _update(self, i, p, g):
        m, v = self.slots["m"][i], self.slots["v"][i]
        t = self.iterations
        if self.epsilon_form == "keras":
            step = self.learning_rate * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
            c2 = 1.0
        else:  # ε added to √v̂ = √(v / (1 - β2^t))
            step = self.learning_rate / (1 - self.beta_1**t)
            c2 = math.sqrt(1 - self.beta_2**t)
        kernel = _fused_adam(p, g, m, v)
        if kernel is not None:  # the lines below as one compiled pass (rnnkit._fused_adam)
            one = p.dtype.type
            kernel(
                *(a.reshape(-1) for a in (p, g, m, v)),
                *(one(x) for x in (self.beta_1, 1 - self.beta_1, self.beta_2)),
                *(one(x) for x in (1 - self.beta_2, step, c2, self.epsilon)),
            )
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


_REGISTRY = {"sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad, "adam": Adam}


def get(identifier) -> Optimizer:
    """An optimizer from a name (``"adam"``) or an instance.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _REGISTRY:
        return _REGISTRY[identifier.lower()]()
    raise ValueError(
        f"Received an invalid value for argument optimizer, expected one of "
        f"{sorted(_REGISTRY)} or an Optimizer instance, got {identifier!r}."
    )


def serialize(opt: Optimizer) -> dict:
    return {"class_name": opt.name, "config": opt.get_config()}


def deserialize(spec: dict) -> Optimizer:
    cls = _REGISTRY.get(spec.get("class_name"))
    if cls is None:
        raise ValueError(f"Unknown optimizer {spec.get('class_name')!r}.")
    return cls(**spec.get("config", {}))

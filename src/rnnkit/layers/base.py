"""The one contract between layers.

Every layer:
  * ``build(input_shape)`` creates its weights (``input_shape`` excludes the batch);
  * ``forward(x, training=False, mask=None)`` computes its output and keeps what its
    backward needs;
  * ``backward(dy) -> dx`` returns the gradient for its input and fills the gradients
    of its weights, under the same names as the weights; while its
    ``input_grad_needed`` is False (a model training sets it on the first layer that
    has trainable weights, when nothing in front of it learns) it may skip dx and
    return None;
  * ``compute_output_shape`` / ``compute_mask`` say what leaves it;
  * ``weights()`` / ``gradients()`` list (name, array) pairs in Keras's
    ``get_weights()`` order, which models, optimizers, savers and the gradient checker
    use — they never reach inside a layer.
"""

from __future__ import annotations

import contextlib
import contextvars
import math

import numpy as np

from .. import backend
from ..utils import validation

# Keras's per-weight options: the argument prefix and the weight it applies to
_WEIGHT_OPTION_NAMES = {
    "kernel": "kernel",
    "recurrent": "recurrent_kernel",
    "bias": "bias",
    "embeddings": "embeddings",
    "gamma": "gamma",
    "beta": "beta",
}
_COMMON_KWARGS = {
    "name",
    "input_shape",
    "input_dim",
    "batch_input_shape",
    "dtype",
    "trainable",
    "activity_regularizer",
    "seed",
    # Keras's choice of kernel (1 or 2) and loop unrolling: the results are the same
    # whichever is taken, so both are accepted and change nothing here
    "implementation",
    "unroll",
} | {f"{p}_{kind}" for p in _WEIGHT_OPTION_NAMES for kind in ("regularizer", "constraint")}


class Layer:
    """Base class of all layers.

    A subclass implements ``build``, ``forward`` and ``backward`` (the module's
    contract); calling a layer on an array builds it on first use and runs
    ``forward``. Every argument is a keyword argument.

    Args:
        name: the layer's name; default None, a Keras-style unique name from the
            class (``dense``, ``dense_1``…).
        input_shape: the shape of one sample (no batch axis; an int for one axis), for
            the first layer of a model, as in Keras. Default None.
        batch_input_shape: the same with a leading batch axis, which is dropped;
            read when ``input_shape`` is not given. Default None.
        input_dim: shorthand for ``input_shape=(input_dim,)``, a positive int; read
            when neither of the above is given. Default None.
        dtype: float dtype of the weights; default None, :func:`rnnkit.backend.floatx`.
        trainable: whether the optimizer updates this layer's weights. Default True.
        kernel_regularizer: a penalty on that weight (see :mod:`rnnkit.regularizers`),
            added to the training loss, its gradient to the weight's gradient. Default
            None.
        recurrent_regularizer, bias_regularizer, embeddings_regularizer: the same for
            those weights.
        activity_regularizer: a penalty on the layer's output, divided by the batch
            size (Keras 3). Default None.
        kernel_constraint: a projection of that weight after each optimizer step (see
            :mod:`rnnkit.constraints`). Default None.
        recurrent_constraint, bias_constraint, embeddings_constraint: the same for
            those weights.
        seed: an int seeding this layer's generator (its initial weights and dropout
            masks); default None, drawn from the global seed.
        implementation, unroll: accepted as Keras has them; they change nothing
            (one implementation computes every result).

    Raises:
        TypeError: an unknown keyword argument.
        ValueError: a regularizer or constraint for a weight the layer does not have
            (when the layer is built), or an unknown regularizer or constraint.

    Example:
        >>> from rnnkit.layers import Dense
        >>> layer = Dense(3, name="out", input_shape=(4,), seed=0)
        >>> layer(np.ones((2, 4))).shape
        (2, 3)
        >>> layer.name, tuple(name for name, _ in layer.weights()), layer.count_params()
        ('out', ('kernel', 'bias'), 15)
    """

    supports_masking = False
    #: False while the caller will not read backward's dx (see the module docstring)
    input_grad_needed = True

    def __init__(self, **kwargs):
        validation.check_kwargs(kwargs, _COMMON_KWARGS, type(self).__name__)
        self.name = kwargs.get("name") or backend.unique_name(_snake(type(self).__name__))
        shape = kwargs.get("input_shape")
        if shape is None and kwargs.get("batch_input_shape") is not None:
            shape = tuple(kwargs["batch_input_shape"])[1:]
        if shape is None and kwargs.get("input_dim") is not None:
            shape = (validation.positive_int(kwargs["input_dim"], "input_dim"),)
        if shape is not None:
            if isinstance(shape, (int, np.integer)):
                shape = (shape,)
            shape = tuple(None if s is None else int(s) for s in shape)
        self.input_shape_arg: tuple | None = shape
        self.dtype = backend.resolve_dtype(kwargs.get("dtype"))
        self.trainable = bool(kwargs.get("trainable", True))
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.built = False
        self.input_shape: tuple | None = None
        self.rng = backend.child_rng()
        self.seed = kwargs.get("seed")
        if self.seed is not None:  # after child_rng: the global stream moves the same
            self.rng = np.random.default_rng(self.seed)
        self.implementation = kwargs.get("implementation")
        self._init_weight_options(kwargs)

    # ---- regularizers and constraints (Keras's per-weight options) -----------------
    def _init_weight_options(self, kwargs: dict) -> None:
        from .. import constraints, regularizers

        self.weight_regularizers: dict = {}
        self.weight_constraints: dict = {}
        for prefix, weight in _WEIGHT_OPTION_NAMES.items():
            reg = regularizers.get(kwargs.get(f"{prefix}_regularizer"), f"{prefix}_regularizer")
            con = constraints.get(kwargs.get(f"{prefix}_constraint"), f"{prefix}_constraint")
            if reg is not None:
                self.weight_regularizers[weight] = reg
            if con is not None:
                self.weight_constraints[weight] = con
        self.activity_regularizer = regularizers.get(
            kwargs.get("activity_regularizer"), "activity_regularizer"
        )
        self._activity_outputs = None
        if self.weight_regularizers or self.activity_regularizer is not None:
            # the penalties' gradients join the layer's own in its backward pass, so
            # every model (Sequential, functional, wrappers) gets them unchanged
            self.forward = self._forward_with_penalties
            self.backward = self._backward_with_penalties
            if hasattr(type(self), "backward_logits"):
                self.backward_logits = self._backward_logits_with_penalties

    def _check_weight_options(self) -> None:
        names = {n for n, _ in self.weights()}
        for weight in list(self.weight_regularizers) + list(self.weight_constraints):
            if weight not in names:
                prefix = next(p for p, w in _WEIGHT_OPTION_NAMES.items() if w == weight)
                raise ValueError(
                    f"Layer {self.name!r} ({type(self).__name__}) has no weight {weight!r} "
                    f"for its {prefix}_regularizer / {prefix}_constraint; its weights are "
                    f"{sorted(names)}."
                )

    def _forward_with_penalties(self, x, training=False, mask=None, **kwargs):
        y = type(self).forward(self, x, training=training, mask=mask, **kwargs)
        if self.activity_regularizer is not None:
            self._activity_outputs = list(y) if isinstance(y, (list, tuple)) else [y]
        return y

    def _activity_grads(self):
        outs = self._activity_outputs or []
        return [self.activity_regularizer.gradient(o) / o.dtype.type(max(len(o), 1)) for o in outs]

    def _backward_with_penalties(self, dy):
        if self.activity_regularizer is not None and self._activity_outputs:
            grads = self._activity_grads()
            if isinstance(dy, (list, tuple)):
                dy = [g if d is None else d + g for d, g in zip(dy, grads)]
            else:
                dy = dy + grads[0]
        # a backward that goes through backward_logits (Dense's) must not add twice
        self._in_penalty_backward = True
        try:
            dx = type(self).backward(self, dy)
        finally:
            self._in_penalty_backward = False
        self._add_penalty_grads()
        return dx

    def _backward_logits_with_penalties(self, dz):
        if vars(self).get("_in_penalty_backward"):
            return type(self).backward_logits(self, dz)
        if self.activity_regularizer is not None and self._activity_outputs:
            # through the activation: the penalty is on its output, the fused loss's
            # gradient on its input
            dz = dz + self.activation.vjp(self._activity_grads()[0], self._activity_outputs[0])
        dx = type(self).backward_logits(self, dz)
        self._add_penalty_grads()
        return dx

    def _add_penalty_grads(self) -> None:
        if not self.trainable:
            return
        for name, reg in self.weight_regularizers.items():
            self.grads[name] = self.grads[name] + reg.gradient(self.params[name])

    def regularization_loss(self) -> float:
        """The penalties of this layer (and of the layers it wraps): its weights'
        regularizers at their current values, plus the activity penalty of the last
        forward pass. 0.0 when it has none."""
        total = 0.0
        if self.trainable:
            for name, reg in self.weight_regularizers.items():
                total += reg(self.params[name])
            if self.activity_regularizer is not None and self._activity_outputs:
                total += sum(
                    self.activity_regularizer(o) / max(len(o), 1) for o in self._activity_outputs
                )
        for inner in self._inner_layers():
            total += inner.regularization_loss()
        return total

    def apply_constraints(self) -> None:
        """Project each constrained weight in place (after an optimizer step)."""
        if self.trainable:
            for name, constraint in self.weight_constraints.items():
                w = self.params[name]
                w[...] = constraint(w)
        for inner in self._inner_layers():
            inner.apply_constraints()

    def _inner_layers(self) -> list:
        found = []
        for attr in ("forward_layer", "backward_layer", "layer"):
            inner = vars(self).get(attr)
            if isinstance(inner, Layer) and inner is not self:
                found.append(inner)
        return found

    # ---- building ---------------------------------------------------------------
    def build(self, input_shape: tuple) -> None:
        self.input_shape = tuple(input_shape)
        self.built = True

    def ensure_built(self, input_shape: tuple) -> None:
        if not self.built:
            budget = _weight_budget.get()
            if budget is None:
                self.build(tuple(input_shape))
            else:
                with budget.counting(self):
                    self.build(tuple(input_shape))
            self._check_weight_options()

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def compute_mask(self, x, mask):
        """The mask leaving this layer: passed through if the layer supports masking."""
        return mask if self.supports_masking else None

    # ---- running ----------------------------------------------------------------
    def __call__(self, x, training: bool = False, mask=None, **kwargs):
        """Run the layer eagerly on an array (builds it on first use), or — called on
        symbolic tensors from ``rnnkit.models.Input`` — add it to a model graph."""
        from ..models.functional import call_symbolic, is_symbolic

        if is_symbolic(x):
            return call_symbolic(self, x, **kwargs)
        x = self.check_input(x)
        self.ensure_built(x.shape[1:])
        return self.forward(x, training=training, mask=mask, **kwargs)

    # ---- the symbolic graph: what Keras calls layer.input / layer.output ----------
    def _first_call(self, what: str):
        calls = vars(self).get("_inbound_nodes")
        if not calls:
            raise AttributeError(
                f"The layer {self.name!r} has never been called and thus has no defined {what}."
            )
        return calls[0]

    @property
    def input(self):
        """The symbolic tensor(s) this layer was first called on in a model graph."""
        node = self._first_call("input")
        return list(node.inputs) if node.list_input else node.inputs[0]

    @property
    def output(self):
        """The symbolic tensor(s) of this layer's first call in a model graph, e.g.
        ``Model(model.input, model.layers[1].output)`` for its features."""
        outs = self._first_call("output").outputs
        return list(outs) if len(outs) > 1 else outs[0]

    def check_input(self, x):
        """The input as an array in the layer's dtype (Keras's dtype policy: a float64
        array into a float32 layer computes in float32)."""
        x = validation.as_array(x, f"layer {self.name!r}")
        return x.astype(self.dtype, copy=False)

    def forward(self, x, training: bool = False, mask=None):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    # ---- weights ----------------------------------------------------------------
    def weights(self) -> list[tuple[str, np.ndarray]]:
        """(name, array) pairs in get_weights() order."""
        return list(self.params.items())

    def gradients(self) -> list[np.ndarray]:
        """Gradients of :meth:`weights`, same order, from the last backward pass."""
        return [self.grads[name] for name in self.params]

    def trainable_weights(self) -> list[tuple[str, np.ndarray]]:
        return self.weights() if self.trainable else []

    def get_weights(self) -> list[np.ndarray]:
        return [w.copy() for _, w in self.weights()]

    def check_weights(self, weights) -> list[np.ndarray]:
        """Check arrays for :meth:`set_weights` without assigning any.

        Args:
            weights: one array per weight, in get_weights() order.

        Returns:
            The arrays as they would be stored: in each weight's dtype.

        Raises:
            ValueError: wrong count or shape, a read-only weight, or a NaN or inf,
                naming the layer and the weight.
            TypeError: not a list of arrays (a single ndarray), or an array that is not
                numeric (object, string, complex).

        Example:
            >>> from rnnkit.layers import Dense
            >>> layer = Dense(2, name="head", input_shape=(3,))
            >>> layer.ensure_built((3,))
            >>> checked = layer.check_weights([np.ones((3, 2), "int64"), np.zeros(2)])
            >>> checked[0].dtype
            dtype('float32')
            >>> try:
            ...     layer.check_weights([np.zeros((3, 4)), np.zeros(2)])
            ... except ValueError as error:
            ...     print(error)
            Layer 'head' weight 'kernel': expected shape (3, 2), got (3, 4).
        """
        current = self.weights()
        if isinstance(weights, np.ndarray) or not hasattr(weights, "__iter__"):
            raise TypeError(
                f"Layer {self.name!r}: set_weights expects a list of arrays, got "
                f"{type(weights).__name__}."
            )
        weights = list(weights)
        if len(weights) != len(current):
            raise ValueError(
                f"Layer {self.name!r} expects {len(current)} weight arrays "
                f"({[n for n, _ in current]}), got {len(weights)}."
            )
        checked = []
        for (name, target), value in zip(current, weights):
            try:
                value = np.asarray(value)
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"Layer {self.name!r} weight {name!r}: expected an array, got "
                    f"{type(value).__name__} ({exc})."
                ) from None
            if value.dtype.kind not in "biuf":
                raise TypeError(
                    f"Layer {self.name!r} weight {name!r}: expected a numeric array, got "
                    f"dtype {value.dtype}."
                )
            if value.shape != target.shape:
                raise ValueError(
                    f"Layer {self.name!r} weight {name!r}: expected shape {target.shape}, "
                    f"got {value.shape}."
                )
            if not target.flags.writeable:  # found now, not half-way through assigning
                raise ValueError(f"Layer {self.name!r} weight {name!r} is read-only.")
            with np.errstate(over="ignore", invalid="ignore"):
                value = value.astype(target.dtype, copy=False)
            if value.dtype.kind == "f" and not _all_finite(value):
                raise ValueError(
                    f"Layer {self.name!r} weight {name!r}: holds NaN or inf (or values too "
                    f"large for {target.dtype})."
                )
            checked.append(value)
        return checked

    def set_weights(self, weights) -> None:
        """Load arrays in get_weights() order; shapes must match exactly. Every array
        is checked (:meth:`check_weights`) before any is assigned, so a refused call
        leaves the layer as it was.

        Args:
            weights: one array per weight, in get_weights() order; each is cast to
                its weight's dtype and copied into the layer's own array.

        Raises:
            ValueError: wrong count or shape, a read-only weight, or a NaN or inf,
                naming the layer and the weight.
            TypeError: not a list of arrays, or an array that is not numeric.

        Example:
            >>> from rnnkit.layers import Dense
            >>> layer = Dense(2, input_shape=(3,))
            >>> layer.ensure_built((3,))
            >>> layer.set_weights([np.ones((3, 2)), np.zeros(2)])
            >>> y = layer(np.ones((1, 3)))  # each output sums three ones
            >>> y.shape, float(y.sum())
            ((1, 2), 6.0)
        """
        checked = self.check_weights(weights)
        for (_, target), value in zip(self.weights(), checked):
            target[...] = value

    def count_params(self) -> int:
        return int(sum(w.size for _, w in self.weights()))

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name}
        if self.input_shape_arg is not None:
            config["input_shape"] = list(self.input_shape_arg)
        from .. import constraints, regularizers

        for prefix, weight in _WEIGHT_OPTION_NAMES.items():
            if weight in self.weight_regularizers:
                config[f"{prefix}_regularizer"] = regularizers.serialize(
                    self.weight_regularizers[weight]
                )
            if weight in self.weight_constraints:
                config[f"{prefix}_constraint"] = constraints.serialize(
                    self.weight_constraints[weight]
                )
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if self.seed is not None:
            config["seed"] = self.seed
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


_FINITE_CHUNK = 1 << 20  # elements tested at a time: no bool copy of a whole embedding


def _all_finite(array: np.ndarray) -> bool:
    flat = array.reshape(-1)
    return all(
        bool(np.isfinite(flat[i : i + _FINITE_CHUNK]).all())
        for i in range(0, flat.size, _FINITE_CHUNK)
    )


class WeightBudgetError(ValueError):
    """Building layers would create more weight values than a :func:`weight_budget`
    allows (or a weight of a negative shape).

    Args:
        *args: the message, as for any exception.

    Example:
        >>> isinstance(WeightBudgetError("too big"), ValueError)
        True
    """


class _WeightBudget:
    def __init__(self, values: int, origin: str):
        self.left = int(values)
        self.total = int(values)
        self.origin = origin

    @contextlib.contextmanager
    def counting(self, layer):
        """While ``layer`` builds, its initializers (and its cell's) count every value
        they create against the budget and refuse one that would exceed it, before it
        is allocated."""
        swapped = []
        owners = [layer] + [
            v for v in vars(layer).values() if hasattr(v, "build") and not isinstance(v, Layer)
        ]
        for owner in owners:
            for attr, value in list(vars(owner).items()):
                if attr.endswith("initializer") and callable(value):
                    swapped.append((owner, attr, value))
                    setattr(owner, attr, _CountedInitializer(value, self, layer.name))
        try:
            yield
        finally:
            for owner, attr, value in swapped:
                setattr(owner, attr, value)


class _CountedInitializer:
    def __init__(self, init, budget: _WeightBudget, layer_name: str):
        self.init, self.budget, self.layer_name = init, budget, layer_name

    def __call__(self, shape, dtype, rng):
        dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        if any(int(d) < 0 for d in dims):
            raise WeightBudgetError(
                f"{self.budget.origin}: layer {self.layer_name!r} would create a weight of "
                f"shape {dims}."
            )
        values = math.prod(int(d) for d in dims)
        if values > self.budget.left:
            raise WeightBudgetError(
                f"{self.budget.origin}: layer {self.layer_name!r} would create a weight of "
                f"shape {dims} ({values:,} values), more than the "
                f"{self.budget.total:,} values the saved weights hold in all."
            )
        self.budget.left -= values
        return self.init(shape, dtype, rng)


_weight_budget: contextvars.ContextVar[_WeightBudget | None] = contextvars.ContextVar(
    "rnnkit_weight_budget", default=None
)


@contextlib.contextmanager
def weight_budget(values: int, origin: str):
    """Bound the weights that layers built inside the block may create, in all.

    Loading a model builds it from an untrusted config: within this block every
    initializer a layer's ``build`` calls is checked first, so that a config asking
    for ``units=10**12`` is refused before anything is allocated.

    Args:
        values: how many weight values (elements, all weights together) may be made.
        origin: what to name in the error, e.g. the file.

    Raises:
        WeightBudgetError: (a ValueError) from a build that would exceed the bound.

    Example:
        >>> from rnnkit.layers import Dense
        >>> try:
        ...     with weight_budget(100, "'m.rnnkit'"):
        ...         Dense(10**6).ensure_built((8,))
        ... except WeightBudgetError as error:
        ...     print(error)
        'm.rnnkit': layer 'dense...' would create a weight of shape (8, 1000000) ...
    """
    token = _weight_budget.set(_WeightBudget(values, origin))
    try:
        yield
    finally:
        _weight_budget.reset(token)


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if (
            ch.isupper()
            and i
            and (not name[i - 1].isupper() or (i + 1 < len(name) and name[i + 1].islower()))
        ):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)

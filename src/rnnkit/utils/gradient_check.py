"""Numerical gradient checks: central differences against a layer's backward pass.

Used by the test suite for every layer, loss and option, and public so that anyone
writing a new layer can check it the same way. Run it in float64.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """‖a - n‖ / max(‖a‖ + ‖n‖, 1e-30): 0 for identical arrays, 1 for opposite ones.

    Args:
        analytic, numeric: arrays of one shape (read as float64).

    Returns:
        The relative error, a float.

    Example:
        >>> import numpy as np
        >>> from rnnkit.utils.gradient_check import relative_error
        >>> relative_error(np.array([1.0]), np.array([-1.0]))
        1.0
    """
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    denom = max(float(np.linalg.norm(a) + np.linalg.norm(n)), 1e-30)
    return float(np.linalg.norm(a - n)) / denom


def numerical_gradient(f: Callable[[], float], array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """dF/d(array) by central differences, perturbing ``array`` in place.

    Each entry is restored after its two evaluations, so ``array`` ends as it began.

    Args:
        f: a function of no arguments that reads ``array`` and returns a float.
        array: the float array to perturb (float64 for a meaningful check).
        eps: the step, default 1e-6.

    Returns:
        A float64 array of ``array``'s shape.

    Example:
        >>> import numpy as np
        >>> from rnnkit.utils.gradient_check import numerical_gradient
        >>> w = np.array([1.0, 2.0])
        >>> np.round(numerical_gradient(lambda: float(np.sum(w**2)), w), 6)
        array([2., 4.])
    """
    grad = np.zeros(array.shape, dtype=np.float64)
    for idx in np.ndindex(array.shape):  # index the array itself: works for any layout
        old = array[idx]
        array[idx] = old + eps
        up = f()
        array[idx] = old - eps
        down = f()
        array[idx] = old
        grad[idx] = (up - down) / (2 * eps)
    return grad


def _weighted_sum(out, probes) -> float:
    if isinstance(out, (list, tuple)):
        return float(sum(np.sum(o * p) for o, p in zip(out, probes) if p is not None))
    return float(np.sum(out * probes))


def check_layer(
    layer,
    x: np.ndarray,
    *,
    forward_kwargs: dict | None = None,
    before_forward: Callable[[], None] | None = None,
    check_input: bool = True,
    eps: float = 1e-6,
    seed: int = 0,
) -> dict[str, float]:
    """Relative errors of ``layer``'s analytic gradients (input and every weight).

    The scalar checked is L = Σ output ⊙ R for a fixed random R (one per output when
    the layer returns a list). ``before_forward`` runs before every forward pass, e.g.
    to re-seed dropout so every pass draws the same mask.

    Args:
        layer: the layer, built on ``x``'s shape if it is not yet (float64 weights for
            a meaningful check).
        x: the input batch; a float input is copied as float64, an integer one (token
            ids) is used as is.
        forward_kwargs: keyword arguments of every ``layer.forward`` call, default None;
            an ``initial_state`` there is checked too.
        before_forward: a function of no arguments run before every forward pass,
            default None.
        check_input: check the gradient of ``x`` too, default True.
        eps: the central-difference step, default 1e-6.
        seed: seeds R, default 0.

    Returns:
        ``{"x": err, "<weight name>": err, ..., "initial_state/<i>": err}``.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.utils.gradient_check import check_layer
        >>> x = np.random.default_rng(0).standard_normal((2, 3))
        >>> errors = check_layer(layers.Dense(2, dtype="float64"), x)
        >>> sorted(errors), max(errors.values()) < 1e-6
        (['bias', 'kernel', 'x'], True)
    """
    kwargs = dict(forward_kwargs or {})
    rng = np.random.default_rng(seed)
    x = np.array(x, dtype=np.float64) if np.issubdtype(np.asarray(x).dtype, np.floating) else x
    layer.ensure_built(np.asarray(x).shape[1:])

    def run():
        if before_forward is not None:
            before_forward()
        return layer.forward(x, **kwargs)

    out = run()
    probes = (
        [rng.standard_normal(np.shape(o)) for o in out]
        if isinstance(out, (list, tuple))
        else rng.standard_normal(np.shape(out))
    )

    def loss() -> float:
        return _weighted_sum(run(), probes)

    run()
    dx = layer.backward(probes)
    analytic = dict(zip([n for n, _ in layer.weights()], [g.copy() for g in layer.gradients()]))
    init_grads = getattr(layer, "initial_state_grads", None)
    init_grads = None if init_grads is None else [g.copy() for g in init_grads]
    errors = {}
    for name, w in layer.weights():
        errors[name] = relative_error(analytic[name], numerical_gradient(loss, w, eps))
    if check_input and dx is not None:
        errors["x"] = relative_error(dx, numerical_gradient(loss, x, eps))
    if kwargs.get("initial_state") is not None and init_grads is not None:
        for i, s in enumerate(kwargs["initial_state"]):
            errors[f"initial_state/{i}"] = relative_error(
                init_grads[i], numerical_gradient(loss, s, eps)
            )
    return errors


def check_loss(loss, y_true, y_pred, *, sample_weight=None, mask=None, logits=False, eps=1e-6):
    """Relative error of a loss's gradient w.r.t. y_pred (or the logits).

    Args:
        loss: a ``rnnkit.losses.Loss``.
        y_true: the targets.
        y_pred: the predictions (or logits), copied as float64.
        sample_weight: default None.
        mask: default None.
        logits: check the fused from-logits gradient, default False.
        eps: the central-difference step, default 1e-6.

    Returns:
        The relative error, a float.

    Example:
        >>> import numpy as np
        >>> from rnnkit import losses
        >>> from rnnkit.utils.gradient_check import check_loss
        >>> y_pred = np.random.default_rng(0).standard_normal((2, 3))
        >>> check_loss(losses.MeanSquaredError(), np.zeros((2, 3)), y_pred) < 1e-8
        True
    """
    y_pred = np.array(y_pred, dtype=np.float64)
    _, grad = loss.value_and_grad(y_true, y_pred, sample_weight, mask, logits=logits)

    def f():
        return loss.value_and_grad(y_true, y_pred, sample_weight, mask, logits=logits)[0]

    return relative_error(grad, numerical_gradient(f, y_pred, eps))


def check_model(model, x, y, *, sample_weight=None, eps=1e-6) -> dict[str, float]:
    """Relative errors of a compiled model's weight gradients for its loss on (x, y).

    Args:
        model: a compiled model (float64 weights for a meaningful check).
        x: the inputs.
        y: the targets.
        sample_weight: default None.
        eps: the central-difference step, default 1e-6.

    Returns:
        ``{"<weight name>": err, ...}`` over the trainable weights.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential
        >>> from rnnkit.utils.gradient_check import check_model
        >>> model = Sequential([layers.Input((3,)), layers.Dense(2, dtype="float64")])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x = np.random.default_rng(0).standard_normal((2, 3))
        >>> max(check_model(model, x, np.zeros((2, 2))).values()) < 1e-6
        True
    """
    loss, _, _, grad, fused = model.compute_loss(x, y, sample_weight, training=False)
    model.backward(grad, from_logits=fused)
    analytic = [g.copy() for g in model.gradients()]

    def f():
        return model.compute_loss(x, y, sample_weight, training=False)[0]

    return {
        name: relative_error(a, numerical_gradient(f, w, eps))
        for (name, w), a in zip(model.trainable_weights(), analytic)
    }

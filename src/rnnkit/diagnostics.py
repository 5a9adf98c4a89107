"""Gradient-flow diagnostics for recurrent layers: how far back does the gradient reach?

The notes' argument: backpropagation through time multiplies dL/dh_t by the step
Jacobian ∂h_{t+1}/∂h_t = diag(f'(z_{t+1}))·Wᵀ once per step, so over a distance
T - t the gradient is scaled by a product of T - t such matrices, which shrinks or
grows geometrically with the recurrent weights' scale. This module measures that,
from the model's own BPTT pass:

* :func:`state_gradient_norms` — |dL/dh_t| for every sample and step, recorded by the
  recurrent layer during ``model.backward`` (the ``record_state_grads`` hook);
* :func:`jacobian_norms` — the Frobenius norms of the Jacobian products dh_T/dh_t for
  one sequence, by backpropagating the H unit vectors through a float64 copy of the
  layer (a batch of H copies of the sequence; row i of the Jacobian product is the
  gradient that reaches h_t from dL/dh_T = e_i). For the LSTM the state is the pair
  (h, c): ``"h"`` is ∂h_T/∂h_t holding c_t fixed, ``"c"`` is ∂h_T/∂c_t holding h_t
  fixed (the path through the cell state, the one the forget gate protects), and
  ``"state"`` = sqrt(h² + c²) is the norm of the Jacobian with respect to the whole
  state. Note ∂h_T/∂c_T = 0 in that convention (h_T is a state variable of its own);
* :func:`spectral_radii` — the spectral radius of each recurrent kernel block (one per
  gate for gated cells), against which the decay is usually read;
* :func:`gate_saturation` — the fraction of gate units whose sigmoid output is below
  0.05 or above 0.95 (a tanh candidate counts when (v + 1) / 2 is, i.e. |v| > 0.9);
* :func:`fit_decay` — the per-step factor: exp of the slope of a least-squares line
  through log(norm) against the distance T - t;
* :class:`GradientDiagnostics` — a training callback writing all of it per epoch,
  on a fixed probe batch, to a JSON file in a run folder.

The command ``rnnkit gradients`` (``rnnkit.cli.gradients``) draws the decay curves.

Example:
    >>> from rnnkit.layers import SimpleRNN
    >>> layer = SimpleRNN(8, activation="linear", recurrent_initializer="orthogonal")
    >>> _ = layer(np.zeros((1, 5, 2)))
    >>> norms = jacobian_norms(layer, np.zeros((5, 2)))
    >>> bool(np.allclose(norms["h"], np.sqrt(8)))   # an orthogonal W keeps the norm
    True
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
from pathlib import Path

import numpy as np

from .callbacks import Callback
from .cells import GRUCell, LSTMCell, SimpleRNNCell
from .layers.recurrent import RNN
from .utils.linalg import spectral_radius

SATURATION_LOW = 0.05
SATURATION_HIGH = 0.95


# ---- finding the recurrent layers -----------------------------------------------
def recurrent_layers(model) -> list[RNN]:
    """The recurrent layers of a Sequential model, in order (both directions of a
    Bidirectional wrapper count as layers of their own).

    Raises:
        TypeError: if ``model`` has no ``layers`` list.

    Args:
        model: a Sequential model (anything with a ``layers`` list).

    Returns:
        The list of :class:`rnnkit.layers.RNN` layers, empty when there are none.

    Example:
        >>> model, x, y = fresh_probe_model("gru", units=4, steps=6, batch=3)
        >>> tuple(type(layer).__name__ for layer in recurrent_layers(model))
        ('GRU',)
    """
    layers = getattr(model, "layers", None)
    if not isinstance(layers, list):
        raise TypeError(
            f"Received an invalid value for argument model, expected a Sequential model, "
            f"got {type(model).__name__}."
        )
    found: list[RNN] = []
    for layer in layers:
        if isinstance(layer, RNN):
            found.append(layer)
        for inner in ("forward_layer", "backward_layer"):
            sub = getattr(layer, inner, None)
            if isinstance(sub, RNN):
                found.append(sub)
    return found


def _require_rnn(layer) -> RNN:
    if not isinstance(layer, RNN):
        raise TypeError(
            f"Received an invalid value for argument layer, expected a recurrent layer "
            f"(SimpleRNN, LSTM, GRU or RNN), got {type(layer).__name__}."
        )
    if not layer.built:
        raise ValueError(
            f"Received an invalid value for argument layer: layer {layer.name!r} is not "
            f"built yet (call it on data or build its model first)."
        )
    return layer


def gate_names(layer: RNN) -> tuple[str, ...]:
    """The gate blocks of the layer's fused weights, in Keras's order: ``("h",)`` for
    SimpleRNN, ``("i", "f", "c", "o")`` for LSTM, ``("z", "r", "h")`` for GRU.

    Args:
        layer: a built recurrent layer.

    Returns:
        The tuple of names (``("g0", "g1", …)`` for another cell with several gates).

    Raises:
        TypeError, ValueError: for a layer that is not a built recurrent layer.

    Example:
        >>> model, x, y = fresh_probe_model("lstm", units=4, steps=6, batch=3)
        >>> layer = recurrent_layers(model)[0]
        >>> gate_names(layer)
        ('i', 'f', 'c', 'o')
    """
    cell = _require_rnn(layer).cell
    if isinstance(cell, LSTMCell):
        return ("i", "f", "c", "o")
    if isinstance(cell, GRUCell):
        return ("z", "r", "h")
    return tuple(f"g{k}" for k in range(cell.n_gates)) if cell.n_gates > 1 else ("h",)


# ---- spectral radius ------------------------------------------------------------
def spectral_radii(layer: RNN) -> dict[str, float]:
    """The spectral radius of each (H, H) block of the recurrent kernel W.

    Args:
        layer: a built SimpleRNN, LSTM or GRU.

    Returns:
        ``{"W_h": ρ}`` for SimpleRNN; ``{"W_i", "W_f", "W_c", "W_o"}`` for LSTM and
        ``{"W_z", "W_r", "W_h"}`` for GRU, each the radius of that gate's block.

    Raises:
        TypeError, ValueError: for a layer that is not a built recurrent layer.

    Example:
        >>> model, x, y = fresh_probe_model("lstm", units=4, steps=6, batch=3)
        >>> layer = recurrent_layers(model)[0]
        >>> sorted(spectral_radii(layer))
        ['W_c', 'W_f', 'W_i', 'W_o']
    """
    layer = _require_rnn(layer)
    w = layer.cell.params["recurrent_kernel"]
    units = layer.units
    return {
        f"W_{name}": spectral_radius(w[:, k * units : (k + 1) * units])
        for k, name in enumerate(gate_names(layer))
    }


# ---- gate saturation ------------------------------------------------------------
def gate_saturation(
    layer: RNN, low: float = SATURATION_LOW, high: float = SATURATION_HIGH
) -> dict[str, float]:
    """Fraction of saturated units per gate in the layer's last forward pass.

    A sigmoid gate unit is saturated when its output is < ``low`` or > ``high``; a
    tanh unit (LSTM candidate c, GRU candidate h, a tanh SimpleRNN's state) when
    (v + 1) / 2 is, i.e. |v| > high - low. Linear or ReLU units are not reported.
    Masked steps are left out.

    Args:
        layer: a SimpleRNN, LSTM or GRU that has run ``forward``.
        low, high: the thresholds, 0 <= low < high <= 1 (default 0.05, 0.95).

    Returns:
        dict gate name -> fraction in [0, 1] (``{"h": ...}`` for a tanh SimpleRNN).

    Raises:
        ValueError: bad thresholds, or no forward pass cached.

    Example:
        >>> model, x, y = fresh_probe_model("lstm", units=4, steps=6, batch=3)
        >>> layer = recurrent_layers(model)[0]
        >>> _ = layer(x)
        >>> sorted(gate_saturation(layer))
        ['c', 'f', 'i', 'o']
    """
    layer = _require_rnn(layer)
    if not (0.0 <= low < high <= 1.0):
        raise ValueError(
            f"Received invalid values for arguments low and high, expected "
            f"0 <= low < high <= 1, got low={low!r}, high={high!r}."
        )
    cache = layer._cache
    if cache is None:
        raise ValueError(
            f"Layer {layer.name!r} has no forward pass to read gates from: run it on a batch first."
        )
    cell, units = layer.cell, layer.units
    if isinstance(cell, SimpleRNNCell):
        acts = cache["S"][0][1:]  # the states, (T, B, H)
        kinds = (cell.activation.name,)
    else:
        acts = cache["cache"].get("gates")  # (T, B, G·H)
        if acts is None:
            raise ValueError(
                f"Layer {layer.name!r}: the gates of its last forward pass were overwritten "
                f"by backward() (BPTT reuses their buffer); read gate_saturation between "
                f"forward and backward, or run the layer forward again."
            )
        sig, act = cell.recurrent_activation.name, cell.activation.name
        kinds = (sig, sig, act, sig) if isinstance(cell, LSTMCell) else (sig, sig, act)
    keep = cache["mask"]  # (T, B) or None
    out = {}
    for k, (name, kind) in enumerate(zip(gate_names(layer), kinds)):
        values = acts[..., k * units : (k + 1) * units]
        if kind in ("sigmoid", "hard_sigmoid"):
            unit = values
        elif kind == "tanh":
            unit = (values + 1.0) / 2.0
        else:
            continue
        saturated = (unit < low) | (unit > high)
        if keep is not None:
            counted = np.broadcast_to(keep[:, :, None], saturated.shape)
            total = int(counted.sum())
            out[name] = float(saturated[counted].sum() / total) if total else math.nan
        else:
            out[name] = float(saturated.mean())
    return out


# ---- |dL/dh_t| from the model's own BPTT ----------------------------------------
def state_gradient_norms(model, x, y, sample_weight=None) -> tuple[float, dict[str, np.ndarray]]:
    """|dL/dh_t| for every recurrent layer, sample and step, from one BPTT pass.

    Runs the model forward (``training=False``: no dropout) and backward on (x, y)
    with the layers' ``record_state_grads`` hook switched on; the hook records, for
    each sample and step, the L2 norm of the gradient reaching the state after step
    t (all paths summed). The model's weights are unchanged; its weight gradients and
    forward caches are overwritten, and the carried states of stateful layers are
    restored afterwards.

    Args:
        model: a compiled Sequential model with at least one recurrent layer.
        x, y: a batch and its targets, as for ``model.fit``.
        sample_weight: per-sample loss weights. Default None.

    Returns:
        (loss, norms) where norms maps each recurrent layer's name to an array of
        shape (batch, T), steps in input order (index k is the state after step k+1).

    Raises:
        ValueError: an uncompiled model, one without recurrent layers, or bad data.

    Example:
        >>> model, x, y = fresh_probe_model("lstm", units=4, steps=6, batch=3)
        >>> layer = recurrent_layers(model)[0]
        >>> loss, norms = state_gradient_norms(model, x, y)
        >>> isinstance(loss, float), norms[layer.name].shape
        (True, (3, 6))
    """
    return _state_gradient_norms(model, x, y, sample_weight)


def _state_gradient_norms(model, x, y, sample_weight=None, between=None):
    """:func:`state_gradient_norms`; ``between(layers)``, when given, runs after the
    forward pass and before BPTT (which overwrites the layers' gate buffers)."""
    layers = recurrent_layers(model)
    if not layers:
        raise ValueError(
            f"Received an invalid value for argument model: model {model.name!r} has no "
            f"recurrent layer."
        )
    if model.loss is None:
        raise ValueError(
            f"Received an invalid value for argument model: model {model.name!r} is not "
            f"compiled; dL/dh_t needs its loss (call model.compile(loss=...))."
        )
    x, y = model._check_data(x, y)
    saved = [(layer, layer.record_state_grads, _copy_states(layer)) for layer in layers]
    try:
        for layer in layers:
            layer.record_state_grads = True
        loss, _, _, grad, fused = model.compute_loss(x, y, sample_weight, training=False)
        if between is not None:
            between(layers)
        model.backward(grad, from_logits=fused)
        norms = {layer.name: np.array(layer.state_grad_norms) for layer in layers}
    finally:
        for layer, flag, states in saved:
            layer.record_state_grads = flag
            layer.states = states
    return float(loss), norms


def _copy_states(layer: RNN):
    return None if layer.states is None else [s.copy() for s in layer.states]


# ---- Jacobian products dh_T/dh_t --------------------------------------------------
def _probe_copy(layer: RNN, dtype) -> RNN:
    """A copy of ``layer`` sharing nothing mutable with it, weights cast to ``dtype``,
    returning only its last output and recording |dL/dh_t|."""
    probe = copy.copy(layer)
    probe.cell = copy.copy(layer.cell)
    probe.cell.params = {k: np.array(v, dtype=dtype) for k, v in layer.cell.params.items()}
    probe.cell.grads = {k: np.zeros_like(v) for k, v in probe.cell.params.items()}
    probe.dtype = np.dtype(dtype)
    probe.return_sequences = False
    probe.return_state = False
    probe.stateful = False
    probe.states = None
    probe.dropout = probe.recurrent_dropout = 0.0
    probe.record_state_grads = True
    probe.state_grad_norms = None
    probe.release_buffers()  # its own buffers, not the layer's
    return probe


def jacobian_norms(layer: RNN, sequence, mask=None, dtype="float64") -> dict[str, np.ndarray]:
    """Frobenius norms of the Jacobian products dh_T/dh_t for one input sequence.

    A float64 copy of the layer (the layer itself is untouched) reads a batch of H
    copies of the sequence; backpropagating dL/dh_T = e_i for copy i through it makes
    the recorded |dL/dh_t| of copy i the norm of row i of dh_T/dh_t, so the Frobenius
    norm is the root of the sum of squares over the batch. Masked steps are dropped
    from the sequence first (a masked step carries the state unchanged, so the
    dynamics over the remaining steps are the same).

    Args:
        layer: a built SimpleRNN, LSTM or GRU (possibly inside a model).
        sequence: one input sequence, (T, features) or (1, T, features).
        mask: a boolean (T,) mask of the sequence's real steps. Default None.
        dtype: the float type of the computation (default float64, so that norms
            down to 1e-300 stay representable).

    Returns:
        ``{"h": (T,)}``, and for an LSTM also ``"c"`` (∂h_T/∂c_t) and ``"state"``
        (the norm with respect to the pair (h_t, c_t)); index k is the state after
        step k+1 (distance T - 1 - k from the end), so the last entry is dh_T/dh_T,
        the identity, of norm sqrt(H).

    Raises:
        TypeError, ValueError: for a layer that is not a built recurrent layer, or a
            sequence of the wrong shape or feature count.

    Example:
        >>> model, x, y = fresh_probe_model("lstm", units=4, steps=6, batch=3)
        >>> layer = recurrent_layers(model)[0]
        >>> norms = jacobian_norms(layer, x[0])
        >>> h = norms["h"]
        >>> sorted(norms), h.shape, float(h[-1])  # the last: dh_T/dh_T, norm sqrt(4)
        (['c', 'h', 'state'], (6,), 2.0)
    """
    layer = _require_rnn(layer)
    seq = np.asarray(sequence)
    if seq.ndim == 3 and seq.shape[0] == 1:
        seq = seq[0]
    if seq.ndim != 2 or seq.shape[0] == 0:
        raise ValueError(
            f"Received an invalid value for argument sequence, expected one sequence of "
            f"shape (T, features) with T >= 1, got shape {np.asarray(sequence).shape}."
        )
    features = layer.input_shape[-1]
    if seq.shape[1] != features:
        raise ValueError(
            f"Received an invalid value for argument sequence, expected {features} "
            f"features per step for layer {layer.name!r}, got {seq.shape[1]}."
        )
    if mask is not None:
        mask = np.asarray(mask, dtype=bool).reshape(-1)
        if mask.shape != (seq.shape[0],):
            raise ValueError(
                f"Received an invalid value for argument mask, expected shape "
                f"({seq.shape[0]},), got {mask.shape}."
            )
        if not mask.any():
            raise ValueError("Received an invalid value for argument mask: every step is masked.")
        seq = seq[mask]
    probe = _probe_copy(layer, dtype)
    units, steps = layer.units, seq.shape[0]
    batch = np.repeat(seq[None].astype(dtype), units, axis=0)

    c_norms = None
    if isinstance(probe.cell, LSTMCell):
        c_norms = np.zeros((steps, units))
        inner = probe.cell.backward_step

        def backward_step(t, dstates, *args, **kwargs):
            # dstates[1] is dL/dc_t with h_t held fixed: the path through c_{t+1}
            if dstates[1] is not None:
                c_norms[t] = np.linalg.norm(dstates[1], axis=-1)
            return inner(t, dstates, *args, **kwargs)

        probe.cell.backward_step = backward_step  # on the copy only

    probe.forward(batch, training=False)
    probe.backward(np.eye(units, dtype=probe.dtype))
    rows = probe.state_grad_norms  # (H, T), input order
    out = {"h": np.sqrt(np.sum(rows.astype(np.float64) ** 2, axis=0))}
    if c_norms is not None:
        if probe.go_backwards:
            c_norms = c_norms[::-1]
        out["c"] = np.sqrt(np.sum(c_norms**2, axis=1))
        out["state"] = np.sqrt(out["h"] ** 2 + out["c"] ** 2)
    return out


def layer_input(model, x, layer: RNN):
    """The input (and mask) that ``layer`` receives when ``model`` reads ``x``.

    Returns:
        (inputs, mask) with mask None when no layer before produces one.

    Raises:
        ValueError: if ``layer`` is not in the model.

    Args:
        model: a Sequential model holding ``layer`` (or a Bidirectional around it).
        x: a batch of inputs, as for ``model.predict``.
        layer: the layer, or one direction of a Bidirectional of the model.

    Example:
        >>> model, x, y = fresh_probe_model("lstm", units=4, steps=6, batch=3)
        >>> layer = recurrent_layers(model)[0]
        >>> inputs, mask = layer_input(model, x[:1], layer)
        >>> inputs.shape, mask
        ((1, 6, 1), None)
    """
    x = model._check_x(x)
    mask = None
    for candidate in model.layers:
        if candidate is layer or layer in (
            getattr(candidate, "forward_layer", None),
            getattr(candidate, "backward_layer", None),
        ):
            return x, mask
        out_mask = candidate.compute_mask(x, mask)
        x = candidate.forward(x, training=False, mask=mask)
        mask = out_mask
    raise ValueError(
        f"Received an invalid value for argument layer: {layer!r} is not a layer of model "
        f"{model.name!r}."
    )


# ---- the per-step factor --------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class DecayFit:
    """A least-squares line log(norm) = intercept + slope · distance.

    Attributes:
        factor: exp(slope), the mean per-step factor (< 1 vanishing, > 1 exploding).
        slope, intercept: the line's coefficients (natural log).
        n_points: how many finite, positive norms the line was fitted to.

    Example:
        >>> fit = DecayFit(factor=0.5, slope=-0.693, intercept=0.0, n_points=4)
        >>> fit.as_dict()["factor"]
        0.5
    """

    factor: float
    slope: float
    intercept: float
    n_points: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def fit_decay(norms, distances=None) -> DecayFit:
    """Fit the per-step decay (or growth) factor of a gradient-norm curve.

    Args:
        norms: 1-D norms in input order (index k is step k+1 of T), as returned by
            :func:`jacobian_norms` or a batch mean of :func:`state_gradient_norms`.
        distances: the distance T - t of each entry; default None, ``T - 1 - k``.

    Returns:
        a :class:`DecayFit`; zeros, infs and NaNs (underflow, overflow) are left out.

    Raises:
        ValueError: fewer than two usable points, or mismatched lengths.

    Example:
        >>> fit = fit_decay([1.0, 2.0, 4.0, 8.0])  # halves with every step back
        >>> round(fit.factor, 6), fit.n_points
        (0.5, 4)
    """
    norms = np.asarray(norms, dtype=np.float64).reshape(-1)
    if distances is None:
        distances = np.arange(norms.size - 1, -1, -1, dtype=np.float64)
    distances = np.asarray(distances, dtype=np.float64).reshape(-1)
    if distances.shape != norms.shape:
        raise ValueError(
            f"Received an invalid value for argument distances, expected {norms.size} "
            f"entries (one per norm), got {distances.size}."
        )
    ok = np.isfinite(norms) & (norms > 0)
    if np.unique(distances[ok]).size < 2:
        raise ValueError(
            f"Received an invalid value for argument norms, expected at least two finite "
            f"positive norms at different distances, got {int(ok.sum())}."
        )
    slope, intercept = np.polyfit(distances[ok], np.log(norms[ok]), 1)
    return DecayFit(float(np.exp(slope)), float(slope), float(intercept), int(ok.sum()))


# ---- everything at once, and the callback ---------------------------------------
def probe(model, x, y, sample_weight=None, jacobian_sample: int | None = 0) -> dict:
    """All diagnostics of every recurrent layer on one batch, JSON-ready.

    Args:
        model: a compiled Sequential model.
        x, y: the probe batch.
        sample_weight: loss weights. Default None.
        jacobian_sample: index of the sequence whose Jacobian products are measured,
            or None to skip them (they cost H forward-backward passes of one sequence).
            Default 0.

    Returns:
        ``{"loss": float, "layers": {name: {"state_grad_norm": [T floats, batch mean
        of |dL/dh_t|], "state_grad_decay": fit or None, "jacobian": {"h": [...],
        ...}, "jacobian_decay": fit or None, "spectral_radius": {...},
        "gate_saturation": {...}}}}``.

    Raises:
        ValueError: as :func:`state_gradient_norms`, or a jacobian_sample out of range.

    Example:
        >>> model, x, y = fresh_probe_model("lstm", units=4, steps=6, batch=3)
        >>> layer = recurrent_layers(model)[0]
        >>> layers = probe(model, x, y)["layers"]
        >>> sorted(layers[layer.name])[:3], len(layers[layer.name])
        (['gate_saturation', 'jacobian', 'jacobian_decay'], 6)
    """
    saturation = {}

    def read_saturation(layers):  # the forward pass just run, before BPTT
        saturation.update({layer.name: gate_saturation(layer) for layer in layers})

    loss, norms = _state_gradient_norms(model, x, y, sample_weight, between=read_saturation)
    layers = recurrent_layers(model)
    x = model._check_x(x)
    if jacobian_sample is not None and not 0 <= int(jacobian_sample) < len(x):
        raise ValueError(
            f"Received an invalid value for argument jacobian_sample, expected an index in "
            f"[0, {len(x)}), got {jacobian_sample!r}."
        )
    report: dict = {"loss": loss, "layers": {}}
    for layer in layers:
        mean = norms[layer.name].mean(axis=0)
        entry = {
            "state_grad_norm": mean.tolist(),
            "state_grad_decay": _fit_or_none(mean),
            "spectral_radius": spectral_radii(layer),
            "gate_saturation": saturation[layer.name],
        }
        report["layers"][layer.name] = entry
    if jacobian_sample is not None:
        i = int(jacobian_sample)
        for layer in layers:
            inputs, mask = layer_input(model, x[i : i + 1], layer)
            jac = jacobian_norms(layer, inputs, None if mask is None else mask[0])
            entry = report["layers"][layer.name]
            entry["jacobian"] = {k: v.tolist() for k, v in jac.items()}
            entry["jacobian_decay"] = _fit_or_none(jac.get("state", jac["h"]))
    return report


def _fit_or_none(norms) -> dict | None:
    try:
        return fit_decay(norms).as_dict()
    except ValueError:
        return None


class GradientDiagnostics(Callback):
    """Records gradient-flow diagnostics on a fixed probe batch during ``fit``.

    Before training (epoch 0) and after every ``every``-th epoch (epoch e counts the
    epochs completed), runs :func:`probe` and rewrites ``run_dir/filename`` (JSON,
    atomically) with all records so far: per recurrent layer the batch mean of
    |dL/dh_t| per step, the Jacobian-product norms of the first probe sequence, the
    fitted per-step factors, the spectral radius of each recurrent kernel block and
    the gate saturation. The probe runs without dropout and draws no random numbers,
    so training with the callback gives the same weights as without it.

    With matplotlib installed it also redraws ``run_dir/<filename stem>.png``
    (:func:`plot_gradient_history`): how |dL/dh_t| over the steps, the fitted decay
    factor, the spectral radius and the gate saturation change from epoch to epoch.

    Args:
        x, y: the probe batch (kept small: it runs forward and backward once, and H
            copies of one sequence for the Jacobian).
        run_dir: folder to write to (created if missing).
        filename: the JSON file's name in ``run_dir``. Default
            ``"gradient_diagnostics.json"``.
        every: record every this many epochs, a positive int. Default 1.
        jacobian: also measure the Jacobian products. Default True.
        sample_weight: loss weights of the probe batch. Default None.

    Raises:
        ValueError: a non-positive ``every``.

    Example:
        >>> import tempfile
        >>> model, x, y = fresh_probe_model("lstm", units=4, steps=6, batch=3)
        >>> cb = GradientDiagnostics(x, y, tempfile.mkdtemp())
        >>> _ = model.fit(x, y, epochs=2, callbacks=[cb], verbose=0)  # doctest: +SKIP
        >>> [record["epoch"] for record in cb.records]  # doctest: +SKIP
        [0, 1, 2]
    """

    def __init__(
        self,
        x,
        y,
        run_dir,
        filename: str = "gradient_diagnostics.json",
        every: int = 1,
        jacobian: bool = True,
        sample_weight=None,
    ):
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every <= 0:
            raise ValueError(
                f"Received an invalid value for argument every, expected a positive integer, "
                f"got {every!r}."
            )
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.path = Path(run_dir) / filename
        self.every = int(every)
        self.jacobian = bool(jacobian)
        self.records: list[dict] = []

    def _record(self, epoch: int, logs=None) -> None:
        report = probe(self.model, self.x, self.y, self.sample_weight, 0 if self.jacobian else None)
        report = {"epoch": epoch, **report}
        if logs:
            report["logs"] = {k: float(v) for k, v in logs.items()}
        self.records.append(report)
        self._write()

    def _write(self) -> None:
        from .runs import write_json

        os.makedirs(self.path.parent, exist_ok=True)
        x = np.asarray(self.x)
        write_json(
            self.path,
            {
                "probe": {"samples": int(x.shape[0]), "steps": int(x.shape[1])},
                "saturation_thresholds": [SATURATION_LOW, SATURATION_HIGH],
                "records": self.records,
            },
        )
        plot_gradient_history(self.records, self.path.with_suffix(".png"))

    def on_train_begin(self, logs=None):
        self.records = []
        self._record(0)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self._record(epoch + 1, logs)


# ---- decay curves of one layer (the ``rnnkit gradients`` command) ----------------
CELL_CHOICES = ("rnn", "lstm", "gru")
ACTIVATION_CHOICES = ("tanh", "relu")
INIT_CHOICES = {"glorot": "glorot_uniform", "orthogonal": "orthogonal", "identity": "identity"}


def fresh_probe_model(
    cell: str = "rnn",
    activation: str = "tanh",
    init: str = "glorot",
    units: int = 64,
    steps: int = 200,
    features: int = 1,
    batch: int = 16,
    seed: int = 0,
    gain: float = 1.0,
):
    """A freshly initialised float64 model ``recurrent layer -> Dense(1)`` (MSE) and a
    random batch for it, the setting of ``rnnkit gradients`` without ``--model``.

    The input is standard normal, (batch, steps, features); the targets standard
    normal, (batch, 1). The loss depends on h_T only, so dL/dh_t = dL/dh_T · dh_T/dh_t.

    Args:
        cell: ``"rnn"`` (SimpleRNN), ``"lstm"`` or ``"gru"``. Default ``"rnn"``.
        activation: ``"tanh"`` or ``"relu"`` (the state's, or the candidate's for
            gated cells). Default ``"tanh"``.
        init: recurrent initializer, ``"glorot"`` (glorot_uniform), ``"orthogonal"``
            or ``"identity"`` (with relu: the IRNN of Le et al. 2015). Default
            ``"glorot"``.
        units, steps, features, batch: sizes, positive ints. Defaults 64, 200, 1, 16.
        seed: seeds the weights and the data (and, through
            :func:`rnnkit.set_random_seed`, the global seed). Default 0.
        gain: multiplies the initial recurrent kernel (default 1; e.g. 1.5 for an
            orthogonal W of spectral radius 1.5).

    Returns:
        (model, x, y).

    Raises:
        ValueError: an unknown cell, activation or init, or a non-positive size.

    Example:
        >>> model, x, y = fresh_probe_model("lstm", units=4, steps=6, batch=3)
        >>> type(model.layers[0]).__name__, x.shape, y.shape, x.dtype
        ('LSTM', (3, 6, 1), (3, 1), dtype('float64'))
    """
    from .backend import set_random_seed
    from .layers import GRU, LSTM, Dense, SimpleRNN
    from .models import Sequential
    from .utils.validation import positive_int

    classes = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
    for argument, value, allowed in (
        ("cell", cell, CELL_CHOICES),
        ("activation", activation, ACTIVATION_CHOICES),
        ("init", init, tuple(INIT_CHOICES)),
    ):
        if value not in allowed:
            raise ValueError(
                f"Received an invalid value for argument {argument}, expected one of "
                f"{list(allowed)}, got {value!r}."
            )
    units, steps = positive_int(units, "units"), positive_int(steps, "steps")
    features, batch = positive_int(features, "features"), positive_int(batch, "batch")
    if not (isinstance(gain, (int, float)) and math.isfinite(gain) and gain > 0):
        raise ValueError(
            f"Received an invalid value for argument gain, expected a positive number, "
            f"got {gain!r}."
        )
    set_random_seed(int(seed))
    layer = classes[cell](
        units,
        activation=activation,
        recurrent_initializer=INIT_CHOICES[init],
        input_shape=(steps, features),
        dtype="float64",
    )
    model = Sequential([layer, Dense(1, dtype="float64")])
    layer.cell.params["recurrent_kernel"] *= gain
    model.compile(loss="mse", optimizer="sgd")
    rng = np.random.default_rng(int(seed))
    x = rng.normal(size=(batch, steps, features))
    y = rng.normal(size=(batch, 1))
    return model, x, y


def decay_report(model, x, y=None, layer: RNN | None = None, jacobian_sample: int = 0) -> dict:
    """The decay curves of one recurrent layer against the distance T - t.

    Args:
        model: a Sequential model holding ``layer``; compiled if ``y`` is given.
        x: a batch of inputs.
        y: its targets, or None to skip |dL/dh_t| (the Jacobian products need none).
            Default None.
        layer: the recurrent layer to measure; default None, the model's first.
        jacobian_sample: which sequence of ``x`` the Jacobian products are taken on.
            Default 0.

    Returns:
        a JSON-ready dict: ``layer``, ``cell``, ``units``, ``steps``, ``distance``
        (T-1 … 0), ``state_grad_norm`` (batch mean of |dL/dh_t|, or None),
        ``state_grad_decay`` (a :class:`DecayFit` dict or None), ``jacobian``
        (``{"h": [...]}``, plus ``"c"`` and ``"state"`` for an LSTM),
        ``jacobian_decay`` (one fit per curve, None where it cannot be fitted),
        ``spectral_radius``.

    Raises:
        ValueError: no recurrent layer, a layer not in the model, bad data.

    Example:
        >>> model, x, y = fresh_probe_model("lstm", units=4, steps=6, batch=3)
        >>> layer = recurrent_layers(model)[0]
        >>> report = decay_report(model, x, y)
        >>> report["steps"], report["distance"]
        (6, [5, 4, 3, 2, 1, 0])
    """
    layers = recurrent_layers(model)
    if layer is None:
        if not layers:
            raise ValueError(
                f"Received an invalid value for argument model: model {model.name!r} has no "
                f"recurrent layer."
            )
        layer = layers[0]
    elif layer not in layers:
        raise ValueError(
            f"Received an invalid value for argument layer: {layer!r} is not a recurrent "
            f"layer of model {model.name!r}."
        )
    x = model._check_x(x)
    if not 0 <= jacobian_sample < len(x):
        raise ValueError(
            f"Received an invalid value for argument jacobian_sample, expected an index in "
            f"[0, {len(x)}), got {jacobian_sample!r}."
        )
    report: dict = {
        "layer": layer.name,
        "cell": type(layer).__name__,
        "units": layer.units,
        "state_grad_norm": None,
        "state_grad_decay": None,
    }
    if y is not None:
        _, norms = state_gradient_norms(model, x, y)
        mean = norms[layer.name].mean(axis=0)
        report["state_grad_norm"] = mean.tolist()
        report["state_grad_decay"] = _fit_or_none(mean)
    inputs, mask = layer_input(model, x[jacobian_sample : jacobian_sample + 1], layer)
    jac = jacobian_norms(layer, inputs, None if mask is None else mask[0])
    steps = len(jac["h"])
    report["steps"] = steps
    report["distance"] = list(range(steps - 1, -1, -1))
    report["jacobian"] = {k: v.tolist() for k, v in jac.items()}
    report["jacobian_decay"] = {k: _fit_or_none(v) for k, v in jac.items()}
    report["spectral_radius"] = spectral_radii(layer)
    return report


_CURVE_LABELS = {
    "h": "‖∂h_T/∂h_t‖_F",
    "c": "‖∂h_T/∂c_t‖_F",
    "state": "‖∂h_T/∂(h_t, c_t)‖_F",
}


def plot_decay(report: dict, path, title: str = "") -> str | None:
    """Draw the curves of :func:`decay_report` on a log scale against T - t, with
    their fitted lines dashed. Returns the path written, or None without matplotlib.

    Args:
        report: a dict of :func:`decay_report`.
        path: the PNG to write.
        title: the figure's title; default ``""``, the cell, units and steps.

    Returns:
        The path written, or None without matplotlib.

    Example:
        >>> import os, tempfile
        >>> model, x, y = fresh_probe_model("rnn", units=4, steps=6, batch=3)
        >>> path = os.path.join(tempfile.mkdtemp(), "decay.png")
        >>> plot_decay(decay_report(model, x, y), path) == path  # doctest: +SKIP
        True
    """
    from .plotting import _pyplot, _save

    plt = _pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    distance = np.asarray(report["distance"], dtype=float)
    curves = []
    if report.get("state_grad_norm") is not None:
        curves.append(
            ("|dL/dh_t| (batch mean)", report["state_grad_norm"], report["state_grad_decay"])
        )
    for key, values in report["jacobian"].items():
        curves.append((_CURVE_LABELS.get(key, key), values, report["jacobian_decay"].get(key)))
    for label, values, fit in curves:
        values = np.asarray(values, dtype=float)
        shown = np.where(values > 0, values, np.nan)
        factor = "" if fit is None else f" (×{fit['factor']:.3g}/step)"
        (line,) = ax.semilogy(distance, shown, label=label + factor)
        if fit is not None:
            ax.semilogy(
                distance,
                np.exp(fit["intercept"] + fit["slope"] * distance),
                "--",
                color=line.get_color(),
                linewidth=0.8,
            )
    ax.set_xlabel("distance T − t (steps)")
    ax.set_ylabel("norm (log scale)")
    ax.set_title(title or f"{report['cell']}({report['units']}), T = {report['steps']}")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    written = _save(fig, path)
    plt.close(fig)
    return written


def plot_gradient_history(records: list[dict], path) -> str | None:
    """How gradient flow changed during training, from :class:`GradientDiagnostics`'s
    records: per recurrent layer, the batch mean of |dL/dh_t| against the step (log
    scale, one curve per recorded epoch, darker = later), and beside it per epoch the
    fitted per-step factor of that curve, the spectral radius of each recurrent kernel
    block and the mean saturated fraction of each gate. Returns the path written, or
    None without matplotlib or records.

    Args:
        records: :class:`GradientDiagnostics`'s ``records`` (or the ``"records"`` of
            the JSON file it writes).
        path: the PNG to write.

    Returns:
        The path written, or None without matplotlib or without records.

    Example:
        >>> plot_gradient_history([], "history.png") is None  # no records: nothing drawn
        True
    """
    from .plotting import _pyplot, _save

    plt = _pyplot()
    if plt is None or not records:
        return None
    names = list(records[0]["layers"])
    fig, axes = plt.subplots(len(names), 2, figsize=(11, 3.6 * len(names)), squeeze=False)
    epochs = [r["epoch"] for r in records]
    cmap = plt.get_cmap("viridis_r")  # early epochs light, late ones dark
    for row, name in zip(axes, names):
        curve_ax, trend_ax = row
        for k, record in enumerate(records):
            norms = np.asarray(record["layers"][name]["state_grad_norm"], dtype=float)
            shade = cmap(k / max(1, len(records) - 1))
            shown = np.where(norms > 0, norms, np.nan)
            curve_ax.semilogy(np.arange(1, len(norms) + 1), shown, color=shade, linewidth=1)
        curve_ax.set_xlabel("step t")
        curve_ax.set_ylabel("|dL/dh_t| (batch mean, log)")
        curve_ax.set_title(f"{name}: epochs {epochs[0]} (light) to {epochs[-1]} (dark)")
        curve_ax.grid(True, which="major", alpha=0.3)
        entries = [r["layers"][name] for r in records]
        factors = [
            np.nan if e["state_grad_decay"] is None else e["state_grad_decay"]["factor"]
            for e in entries
        ]
        trend_ax.plot(epochs, factors, "o-", label="|dL/dh_t| factor per step")
        for block in entries[0]["spectral_radius"]:
            radii = [e["spectral_radius"][block] for e in entries]
            trend_ax.plot(epochs, radii, "s--", label=f"spectral radius {block}")
        for gate in entries[0]["gate_saturation"] or {}:
            sat = [e["gate_saturation"][gate] for e in entries]
            trend_ax.plot(epochs, sat, "^:", label=f"saturated {gate}")
        trend_ax.set_xlabel("epoch")
        trend_ax.set_title(f"{name}: per epoch")
        trend_ax.grid(True, alpha=0.3)
        trend_ax.legend(fontsize=7)
    fig.tight_layout()
    written = _save(fig, path)
    plt.close(fig)
    return written


__all__ = [
    "DecayFit",
    "plot_gradient_history",
    "decay_report",
    "fresh_probe_model",
    "plot_decay",
    "GradientDiagnostics",
    "fit_decay",
    "gate_names",
    "gate_saturation",
    "jacobian_norms",
    "layer_input",
    "probe",
    "recurrent_layers",
    "spectral_radii",
    "spectral_radius",
    "state_gradient_norms",
]

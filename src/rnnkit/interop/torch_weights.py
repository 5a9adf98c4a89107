"""PyTorch weights into rnnkit models: ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``,
``nn.Linear`` and ``nn.Embedding``, from a state_dict, a ``.safetensors`` file or a
``.pt`` file.

The layouts (the one place they are converted):

* recurrent layers: PyTorch stores ``weight_ih_l{k}`` (G·H, I) and ``weight_hh_l{k}``
  (G·H, H) with the gates stacked along the rows; rnnkit (as Keras) stores ``kernel``
  (I, G·H) and ``recurrent_kernel`` (H, G·H). The LSTM's gates are i, f, g, o in both;
  the GRU's are r, z, n in PyTorch and z, r, h in rnnkit, so the first two blocks
  swap. PyTorch has two biases, ``bias_ih`` and ``bias_hh``: SimpleRNN and LSTM add
  them only ever as a sum, which is rnnkit's one bias; the GRU (PyTorch's formulation
  is Keras's ``reset_after=True``) keeps them apart as the two rows of its (2, 3H)
  bias. ``_reverse`` tensors are a ``Bidirectional`` layer's backward half, and layer
  k of a ``num_layers`` module is the k-th of as many consecutive rnnkit layers.
  ``batch_first`` changes only how a module reads its input, not its weights.
* ``nn.Linear``: ``weight`` (out, in) is the transposed Dense ``kernel``.
* ``nn.Embedding``: ``weight`` is the ``embeddings`` matrix as it is.

Everything is checked (every tensor present, none left over, every shape) before any
weight of the model changes: an error leaves the model as it was.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import numpy as np

from ..layers import Bidirectional, Dense, Embedding, Layer, TimeDistributed
from ..layers.recurrent import GRU, LSTM, RNN, SimpleRNN

__all__ = ["load_torch_weights", "read_state_dict", "torch_rnn_to_keras"]

_RNN_KEY = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$")
_TORCH_SUFFIXES = (".pt", ".pth", ".bin")


def _gate_order(kind: str, units: int) -> np.ndarray:
    """Row indices into PyTorch's stacked gates, in rnnkit's (Keras's) gate order."""
    blocks = [1, 0, 2] if kind == "gru" else list(range({"lstm": 4, "gru": 3}.get(kind, 1)))
    return np.concatenate([np.arange(b * units, (b + 1) * units) for b in blocks])


def torch_rnn_to_keras(kind: str, weight_ih, weight_hh, bias_ih=None, bias_hh=None) -> list:
    """One direction of one PyTorch recurrent layer in rnnkit's (Keras's) layout.

    Args:
        kind: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        weight_ih, weight_hh: PyTorch's (G·H, I) and (G·H, H) matrices.
        bias_ih, bias_hh: PyTorch's (G·H,) biases, both or neither.

    Returns:
        ``[kernel, recurrent_kernel]`` plus ``bias`` when biases are given: the list
        ``set_weights`` of a SimpleRNN, LSTM or GRU takes.

    Example:
        >>> w_ih, w_hh = np.ones((12, 2)), np.ones((12, 3))
        >>> [w.shape for w in torch_rnn_to_keras("lstm", w_ih, w_hh)]
        [(2, 12), (3, 12)]
    """
    if kind not in ("rnn", "lstm", "gru"):
        raise ValueError(f"kind must be 'rnn', 'lstm' or 'gru', got {kind!r}.")
    w_ih, w_hh = np.asarray(weight_ih), np.asarray(weight_hh)
    units = w_hh.shape[1]
    idx = _gate_order(kind, units)
    out = [w_ih[idx].T.copy(), w_hh[idx].T.copy()]
    if (bias_ih is None) != (bias_hh is None):
        raise ValueError("bias_ih and bias_hh come together: pass both or neither.")
    if bias_ih is not None:
        b_ih, b_hh = np.asarray(bias_ih), np.asarray(bias_hh)
        out.append(np.stack([b_ih[idx], b_hh[idx]]) if kind == "gru" else b_ih + b_hh)
    return out


def _to_numpy(name: str, value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, without importing torch for it
        value = value.detach().cpu()
        try:
            return value.numpy()
        except TypeError:  # bfloat16 and other types NumPy lacks
            return value.float().numpy()
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise TypeError(
            f"Tensor {name!r}: expected a numeric torch tensor or NumPy array, got "
            f"{type(value).__name__} of dtype {arr.dtype}."
        )
    return arr


def read_state_dict(source) -> dict[str, np.ndarray]:
    """A state_dict as NumPy arrays, from memory or a file.

    Args:
        source: a mapping of names to torch tensors or NumPy arrays; or the path of a
            ``.safetensors`` file (read with ``safetensors.numpy``: no PyTorch needed)
            or of a ``.pt`` / ``.pth`` / ``.bin`` file holding a state_dict (read with
            ``torch.load(weights_only=True)``: no pickled code runs).

    Returns:
        ``{name: array}`` in the source's order (a ``.safetensors`` file stores its
        names sorted).

    Raises:
        FileNotFoundError: no such file.
        ImportError: the package a file type needs is not installed.
        ValueError: an unknown file type, or a file that is not a state_dict.
        TypeError: a value that is not a tensor or array.

    Example:
        >>> read_state_dict({"weight": np.eye(2)})["weight"].shape
        (2, 2)
    """
    if isinstance(source, Mapping):
        return {str(k): _to_numpy(str(k), v) for k, v in source.items()}
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"Received an invalid value for argument state_dict, expected a mapping of "
            f"tensors or a file path, got {type(source).__name__}."
        )
    path = os.fspath(source)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No weights file at {path!r}.")
    lower = path.lower()
    if lower.endswith(".safetensors"):
        try:
            from safetensors import SafetensorError
            from safetensors.numpy import load_file
        except ImportError:
            raise ImportError(
                f"Reading {path!r} needs the safetensors package: pip install rnnkit[safetensors]."
            ) from None
        try:
            return dict(load_file(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise ValueError(f"{path!r} is not a readable .safetensors file: {exc}") from None
    if lower.endswith(_TORCH_SUFFIXES):
        try:
            import torch
        except ImportError:
            raise ImportError(
                f"Reading {path!r} needs PyTorch (pip install torch); a .safetensors file "
                f"needs only the safetensors package."
            ) from None
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a corrupt or unsafe file
            raise ValueError(
                f"{path!r} could not be read as a state_dict with torch.load("
                f"weights_only=True): {type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(data, Mapping):
            raise ValueError(
                f"{path!r} holds a {type(data).__name__}, not a state_dict (a mapping of "
                f"tensor names to tensors)."
            )
        return read_state_dict(data)
    raise ValueError(
        f"{path!r}: unknown weights file type; expected .safetensors, .pt, .pth or .bin."
    )


def _modules(state: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """The state_dict grouped by module prefix ("" for a bare module), in order."""
    groups: dict[str, dict[str, np.ndarray]] = {}
    for key, value in state.items():
        prefix, _, leaf = key.rpartition(".")
        groups.setdefault(prefix, {})[leaf] = value
    return groups


def _full(prefix: str, leaf: str) -> str:
    return f"{prefix}.{leaf}" if prefix else leaf


def _torch_layers(params: dict) -> int:
    """How many stacked layers a recurrent module's parameters describe (0: not one)."""
    found = [_RNN_KEY.match(k) for k in params]
    if not found or not all(found):
        return 0
    return 1 + max(int(m.group(2)) for m in found)


def _kind(layer: RNN) -> str:
    if isinstance(layer, LSTM):
        return "lstm"
    if isinstance(layer, GRU):
        return "gru"
    if isinstance(layer, SimpleRNN):
        return "rnn"
    raise ValueError(f"Layer {layer.name!r}: a {type(layer).__name__} has no PyTorch module.")


def _expect(name: str, arr: np.ndarray | None, shape: tuple) -> np.ndarray:
    if arr is None:
        raise ValueError(f"Tensor {name!r} is missing from the state_dict.")
    if tuple(arr.shape) != tuple(shape):
        raise ValueError(
            f"Tensor {name!r} has shape {tuple(arr.shape)}; the rnnkit layer needs {tuple(shape)}."
        )
    return arr


def _rnn_direction(prefix, params, used, k, suffix, layer: RNN) -> list[np.ndarray]:
    kind = _kind(layer)
    if kind == "gru" and not getattr(layer.cell, "reset_after", True):
        raise ValueError(
            f"Layer {layer.name!r} is a GRU with reset_after=False; PyTorch's GRU is the "
            f"reset_after=True formulation."
        )
    current = dict(layer.weights())
    if not current:
        raise ValueError(f"Layer {layer.name!r} is not built: build the model first.")
    n_in, width = current["kernel"].shape
    units = layer.units
    names = {p: f"{p}_l{k}{suffix}" for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    w_ih = _expect(_full(prefix, names["weight_ih"]), params.get(names["weight_ih"]), (width, n_in))
    w_hh = _expect(
        _full(prefix, names["weight_hh"]), params.get(names["weight_hh"]), (width, units)
    )
    used.update({names["weight_ih"], names["weight_hh"]})
    has_bias = names["bias_ih"] in params or names["bias_hh"] in params
    if has_bias != ("bias" in current):
        what = "has" if has_bias else "has no"
        raise ValueError(
            f"Tensor {_full(prefix, names['bias_ih'])!r}: the PyTorch module {what} biases "
            f"but rnnkit layer {layer.name!r} has use_bias={'bias' in current}; build it "
            f"with use_bias={has_bias}."
        )
    biases = (None, None)
    if has_bias:
        biases = tuple(
            _expect(_full(prefix, names[b]), params.get(names[b]), (width,))
            for b in ("bias_ih", "bias_hh")
        )
        used.update({names["bias_ih"], names["bias_hh"]})
    return torch_rnn_to_keras(kind, w_ih, w_hh, *biases)


def _recurrent(prefix, params, used, k, layer) -> list[np.ndarray]:
    """Layer k of a PyTorch recurrent module as ``layer``'s set_weights list."""
    reverse = any(key.endswith(f"_l{k}_reverse") for key in params)
    if isinstance(layer, Bidirectional):
        if not reverse:
            raise ValueError(
                f"Tensor {_full(prefix, f'weight_ih_l{k}_reverse')!r} is missing: rnnkit "
                f"layer {layer.name!r} is Bidirectional, the PyTorch module is not."
            )
        return _rnn_direction(prefix, params, used, k, "", layer.forward_layer) + _rnn_direction(
            prefix, params, used, k, "_reverse", layer.backward_layer
        )
    if not isinstance(layer, RNN):
        raise ValueError(
            f"Module {prefix or '(top level)'!r} is a PyTorch recurrent layer; rnnkit layer "
            f"{layer.name!r} is a {type(layer).__name__}."
        )
    if reverse:
        raise ValueError(
            f"Tensor {_full(prefix, f'weight_ih_l{k}_reverse')!r}: the PyTorch module is "
            f"bidirectional; rnnkit layer {layer.name!r} needs a Bidirectional wrapper."
        )
    if layer.go_backwards:
        raise ValueError(
            f"Layer {layer.name!r} has go_backwards=True; a PyTorch layer reads forwards."
        )
    return _rnn_direction(prefix, params, used, k, "", layer)


def _plain(prefix, params, used, layer) -> list[np.ndarray]:
    """An nn.Linear or nn.Embedding as ``layer``'s set_weights list."""
    target = layer.layer if isinstance(layer, TimeDistributed) else layer
    current = dict(target.weights())
    if not current:
        raise ValueError(f"Layer {layer.name!r} is not built: build the model first.")
    weight = params.get("weight")
    used.add("weight")
    if isinstance(target, Embedding):
        out = [_expect(_full(prefix, "weight"), weight, current["embeddings"].shape)]
    elif isinstance(target, Dense) and "kernel" in current:
        kernel = current["kernel"]
        out = [_expect(_full(prefix, "weight"), weight, kernel.T.shape).T]
        if ("bias" in params) != ("bias" in current):
            raise ValueError(
                f"Tensor {_full(prefix, 'bias')!r}: the PyTorch module "
                f"{'has' if 'bias' in params else 'has no'} a bias but rnnkit layer "
                f"{layer.name!r} has use_bias={'bias' in current}."
            )
        if "bias" in params:
            out.append(_expect(_full(prefix, "bias"), params["bias"], current["bias"].shape))
            used.add("bias")
    else:
        raise ValueError(
            f"Module {prefix or '(top level)'!r} (tensors {sorted(params)}) has no rnnkit "
            f"counterpart in layer {layer.name!r} ({type(layer).__name__}); expected an "
            f"Embedding or a Dense."
        )
    return out


def _layer_list(model) -> list[Layer]:
    if isinstance(model, Layer):
        return [model]
    layers = getattr(model, "layers", None)
    if layers is None:
        raise TypeError(
            f"Received an invalid value for argument model, expected an rnnkit model or "
            f"layer, got {type(model).__name__}."
        )
    return list(layers)


def _resolve(target, by_name: dict[str, Layer]) -> list[Layer]:
    items = target if isinstance(target, (list, tuple)) else [target]
    out = []
    for item in items:
        if isinstance(item, Layer):
            out.append(item)
        elif item in by_name:
            out.append(by_name[item])
        else:
            raise ValueError(
                f"mapping names layer {item!r}, which the model does not have; its layers "
                f"are {sorted(by_name)}."
            )
    return out


def load_torch_weights(model, state_dict, mapping: dict | None = None, strict: bool = True):
    """Load PyTorch weights into a built rnnkit model (or one layer).

    Args:
        model: a built Sequential or functional Model, or a single built layer.
        state_dict: a mapping of names to torch tensors or NumPy arrays, or the path of
            a ``.safetensors`` / ``.pt`` file (see :func:`read_state_dict`).
        mapping: which rnnkit layer each PyTorch module fills:
            ``{module_prefix: layer name or layer}``, or a list of them for a
            recurrent module with ``num_layers > 1`` (one rnnkit layer per PyTorch
            layer). ``""`` is the prefix of a bare module's own tensors
            (``nn.LSTM(...).state_dict()``). Without a mapping, modules whose prefix
            is an rnnkit layer's name go to that layer; otherwise the modules, in the
            state_dict's order, fill the model's layers that have weights, in order.
        strict: when True (default), every tensor must be used and, without an
            explicit mapping, every layer with weights filled.

    Returns:
        ``{module_prefix: [rnnkit layer names]}``: what went where.

    Raises:
        ValueError: a tensor missing, left over or of the wrong shape, or a module and
            a layer that do not correspond (the message names the tensor or layer);
            the model is then unchanged.
        TypeError, FileNotFoundError, ImportError: as :func:`read_state_dict`.

    A SimpleRNN's activation is not in a state_dict: give the rnnkit layer the
    module's ``nonlinearity`` (``"tanh"`` or ``"relu"``).

    Example:
        >>> import torch                                      # doctest: +SKIP
        >>> lstm = torch.nn.LSTM(3, 8, batch_first=True)      # doctest: +SKIP
        >>> model = Sequential([LSTM(8, input_shape=(None, 3))])  # doctest: +SKIP
        >>> load_torch_weights(model, lstm.state_dict())      # doctest: +SKIP
        {'': ['lstm']}
    """
    state = read_state_dict(state_dict)
    layers = _layer_list(model)
    unbuilt = [layer.name for layer in layers if not layer.built]
    if unbuilt:
        raise ValueError(
            f"Layers {unbuilt} are not built: build the model (an input_shape on its first "
            f"layer, or model.build(input_shape)) before loading weights."
        )
    by_name = {layer.name: layer for layer in layers}
    groups = _modules(state)
    if not groups:
        raise ValueError("The state_dict is empty.")

    assignment: dict[str, list[Layer]] = {}
    if mapping is not None:
        if not isinstance(mapping, Mapping):
            raise TypeError(
                f"Received an invalid value for argument mapping, expected a dict, got "
                f"{type(mapping).__name__}."
            )
        for prefix, target in mapping.items():
            if prefix not in groups:
                raise ValueError(
                    f"mapping names module {prefix!r}, which the state_dict does not have; "
                    f"its modules are {sorted(groups)}."
                )
            assignment[prefix] = _resolve(target, by_name)
        unmapped = [p for p in groups if p not in mapping]
        if unmapped and strict:
            keys = [k for k in state if k.rpartition(".")[0] in unmapped]
            raise ValueError(f"Unexpected tensors {keys} (their modules are not in mapping).")
    elif isinstance(model, Layer) and len(groups) == 1:
        assignment = {next(iter(groups)): [model]}
    elif all(p in by_name for p in groups):
        assignment = {p: [by_name[p]] for p in groups}
    else:
        free = [layer for layer in layers if layer.weights()]
        for prefix, params in groups.items():
            count = max(1, _torch_layers(params))
            if len(free) < count:
                keys = [_full(prefix, k) for k in params]
                raise ValueError(
                    f"Unexpected tensors {keys}: the model has no layers with weights left "
                    f"for module {prefix or '(top level)'!r}."
                )
            assignment[prefix], free = free[:count], free[count:]
        if free and strict:
            raise ValueError(f"The state_dict has no tensors for layers {[l.name for l in free]}.")

    # check everything, then assign
    planned: list[tuple[Layer, list[np.ndarray]]] = []
    for prefix, targets in assignment.items():
        params, used = groups[prefix], set()
        n_rnn = _torch_layers(params)
        if n_rnn:
            if len(targets) != n_rnn:
                raise ValueError(
                    f"Module {prefix or '(top level)'!r} has {n_rnn} stacked recurrent "
                    f"layer(s); it is mapped to {len(targets)} rnnkit layer(s) "
                    f"{[l.name for l in targets]}."
                )
            for k, layer in enumerate(targets):
                planned.append((layer, _recurrent(prefix, params, used, k, layer)))
        else:
            if len(targets) != 1:
                raise ValueError(
                    f"Module {prefix or '(top level)'!r} fills one layer; it is mapped to "
                    f"{[l.name for l in targets]}."
                )
            planned.append((targets[0], _plain(prefix, params, used, targets[0])))
        extra = [_full(prefix, k) for k in params if k not in used]
        if extra:
            raise ValueError(
                f"Unexpected tensors {extra} in module {prefix or '(top level)'!r} (rnnkit "
                f"has no place for them; an LSTM with proj_size is not supported)."
            )
    seen: set[int] = set()
    for layer, _ in planned:
        if id(layer) in seen:
            raise ValueError(f"Layer {layer.name!r} is filled by two PyTorch modules.")
        seen.add(id(layer))
    for layer, values in planned:
        current = layer.weights()
        if len(values) != len(current) or any(
            v.shape != w.shape for (_, w), v in zip(current, values)
        ):  # a layer variant the conversion does not know
            raise ValueError(
                f"Layer {layer.name!r} holds {[(n, w.shape) for n, w in current]}; the "
                f"PyTorch tensors give {[v.shape for v in values]}."
            )
        for (name, _), value in zip(current, values):
            if not np.all(np.isfinite(value)):
                raise ValueError(f"Layer {layer.name!r} weight {name!r}: non-finite values.")
    for layer, values in planned:
        current = [w for _, w in layer.weights()]
        layer.set_weights([v.astype(w.dtype, copy=False) for w, v in zip(current, values)])
    return {prefix: [layer.name for layer in targets] for prefix, targets in assignment.items()}

"""Export a Sequential or functional model to ONNX, for onnxruntime and other runtimes.

``model.export("model.onnx")`` (Keras 3's name) or :func:`export_onnx` writes a file
whose outputs equal ``model.predict`` (float32): recurrent layers become ONNX's own
``RNN`` / ``LSTM`` / ``GRU`` operators (see :mod:`rnnkit.interop._onnx_recurrent` for
the weight layouts and how Keras's masks survive), the other layers a few standard
operators each. The batch and time axes are dynamic.

The graph's interface:

* inputs: ``input`` for a Sequential model (int64 token ids when it starts with an
  Embedding, else float32), a functional model's ``Input`` names; then, for every
  recurrent layer (each direction of a Bidirectional) whose initial states the model
  does not feed itself, ``<layer>/initial_h`` (and ``<layer>/initial_c`` for an LSTM),
  (batch, units), zeros when not given;
* outputs: ``output`` (one) or ``output_0``, ``output_1``, … (several), then every
  recurrent layer's ``<layer>/final_h`` (and ``/final_c``): feed them back as the
  next chunk's initial states to run a long sequence piece by piece.

Anything that cannot be exported as rnnkit computes it (a stateful layer, unless
``stateful="stream"``; an activation ONNX lacks; a layer this exporter does not know)
raises a ValueError naming the layer before any file is written. Needs the ``onnx`` package
(``pip install rnnkit[onnx]``); ``onnxruntime`` runs the result.

Example:
    >>> from rnnkit.models import Sequential
    >>> from rnnkit.layers import LSTM, Dense
    >>> model = Sequential([LSTM(8, input_shape=(None, 3)), Dense(2)])
    >>> model.export("model.onnx")  # doctest: +SKIP
    >>> import onnxruntime  # doctest: +SKIP
    >>> session = onnxruntime.InferenceSession("model.onnx")  # doctest: +SKIP
    >>> y = session.run(["output"], {"input": x.astype("float32")})[0]  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .. import layers as _layers
from ..layers import (
    Activation,
    Add,
    BahdanauAttention,
    Bidirectional,
    Concatenate,
    Dense,
    DotAttention,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    GlobalMaxAveragePooling1D,
    GlobalMaxPooling1D,
    Masking,
    RepeatVector,
    SpatialDropout1D,
    TiedDense,
    TimeDistributed,
)
from ..layers.attention import _NEG
from ..layers.recurrent import RNN
from ..utils.io import atomic_write
from . import _onnx_recurrent as recurrent
from ._onnx_graph import GraphBuilder, activation_spec

if TYPE_CHECKING:
    import onnx

#: the ONNX operator set the exported graphs use (onnxruntime 1.14 and later run it)
OPSET = 18
_IR_VERSION = 8  # the lowest IR version that carries opset 18
# one ONNX file is one protobuf message, which cannot exceed 2 GiB; the weights must fit
# below that with room for the graph
MAX_WEIGHT_BYTES = (2 << 30) - (64 << 20)


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "ONNX export needs the onnx package, which is not installed: pip install rnnkit[onnx]"
        ) from None
    return onnx


class _Value(NamedTuple):
    """A value of the graph: its name and rnnkit's sample shape (no batch axis)."""

    name: str
    shape: tuple


def export_onnx(model, filepath, *, stateful: str = "error") -> onnx.ModelProto:
    """Write ``model`` to ``filepath`` as an ONNX model (atomically: the file appears
    whole or not at all, and an export that fails leaves no file).

    Args:
        model: a built :class:`rnnkit.models.Sequential` or functional
            :class:`rnnkit.models.Model`.
        filepath: where to write (conventionally ``*.onnx``).
        stateful: what to do with a ``stateful=True`` recurrent layer, whose carried
            states a graph cannot keep between runs: ``"error"`` (default) refuses it;
            ``"stream"`` exports it as a stateless layer whose initial-state inputs and
            final-state outputs the caller carries from one run to the next (what the
            layer does between batches; the states it holds now are not exported).

    Returns:
        The ``onnx.ModelProto`` written (its ``graph.input`` / ``graph.output`` list
        the names to feed and fetch).

    Raises:
        ImportError: the ``onnx`` package is missing.
        TypeError: ``model`` is not a Sequential or functional Model.
        ValueError: ``stateful`` is neither ``"error"`` nor ``"stream"``; a model
            without layers, an unbuilt model, more weights than one ONNX file holds,
            or a layer that cannot be exported, naming it. No file is written then.

    Example:
        >>> import os, tempfile
        >>> from rnnkit.models import Sequential
        >>> from rnnkit.layers import LSTM, Dense
        >>> model = Sequential([LSTM(8, input_shape=(None, 3), name="rec"), Dense(2)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.onnx")
        >>> proto = export_onnx(model, path)
        >>> os.path.exists(path), proto.graph.output[0].name
        (True, 'output')
    """
    proto = to_onnx(model, stateful=stateful)
    data = proto.SerializeToString()
    with atomic_write(os.fspath(filepath), "wb") as f:
        f.write(data)
    return proto


def to_onnx(model, *, stateful: str = "error") -> onnx.ModelProto:
    """The ONNX ``ModelProto`` of ``model``, checked by ``onnx.checker``; nothing is
    written.

    Args:
        model: a built :class:`rnnkit.models.Sequential` or functional
            :class:`rnnkit.models.Model`.
        stateful: what to do with a ``stateful=True`` recurrent layer: ``"error"``
            (default) refuses it; ``"stream"`` exports it as a stateless layer whose
            initial-state inputs and final-state outputs the caller carries from one
            run to the next (see :func:`export_onnx`).

    Returns:
        The checked ``onnx.ModelProto``: inputs ``input`` (Sequential) or the ``Input``
        names, then each recurrent layer's ``<layer>/initial_h`` (``/initial_c``);
        outputs ``output`` (or ``output_0``, ``output_1``, …), then each recurrent
        layer's ``<layer>/final_h`` (``/final_c``).

    Raises:
        ImportError: the ``onnx`` package is missing.
        TypeError: ``model`` is not a Sequential or functional Model.
        ValueError: ``stateful`` is neither ``"error"`` nor ``"stream"`` (checked
            first); a model without layers, an unbuilt model, more weights than one
            ONNX file holds, or a layer that cannot be exported, naming it.

    Example:
        >>> from rnnkit.models import Sequential
        >>> from rnnkit.layers import LSTM, Dense
        >>> model = Sequential([LSTM(8, input_shape=(None, 3), name="rec"), Dense(2)])
        >>> proto = to_onnx(model)
        >>> tuple(i.name for i in proto.graph.input)
        ('input', 'rec/initial_h', 'rec/initial_c')
        >>> tuple(o.name for o in proto.graph.output)
        ('output', 'rec/final_h', 'rec/final_c')
    """
    if stateful not in ("error", "stream"):
        raise ValueError(
            f"Received an invalid value for argument stateful, expected 'error' or 'stream', "
            f"got {stateful!r}."
        )
    onnx = _import_onnx()
    from ..models.functional import Model
    from ..models.sequential import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(
            f"ONNX export takes an rnnkit Sequential or functional Model, got "
            f"{type(model).__name__}."
        )
    if not model.layers:
        raise ValueError(f"ONNX export: model {model.name!r} has no layers.")
    if not model.built:
        raise ValueError(
            f"ONNX export: model {model.name!r} is not built; give its first layer "
            f"input_shape, or call build() or fit() first."
        )
    g = GraphBuilder(onnx)
    exporter = _Exporter(g, stream_stateful=stateful == "stream")
    if isinstance(model, Model):
        outputs = exporter.functional(model)
    else:
        outputs = exporter.sequential(model)
    tp = onnx.TensorProto
    names = ["output"] if len(outputs) == 1 else [f"output_{k}" for k in range(len(outputs))]
    for value, name in zip(outputs, names):
        dims = ["batch"] + [f"{name}_dim{k + 1}" for k in range(len(value.shape))]
        g.add_output(value.name, g.fresh(name), tp.FLOAT, dims)
    # model outputs first, then the recurrent layers' final states (added as they came)
    n_model = len(outputs)
    state_outputs = g.outputs[:-n_model]
    g.outputs = g.outputs[-n_model:] + state_outputs

    weight_bytes = sum(len(t.raw_data) for t in g.initializers)
    if weight_bytes > MAX_WEIGHT_BYTES:
        raise ValueError(
            f"ONNX export: model {model.name!r} has {weight_bytes / 2**30:.2f} GiB of float32 "
            f"weights; one ONNX file holds at most {MAX_WEIGHT_BYTES / 2**30:.2f} GiB (the "
            f"2 GiB limit of its protobuf message)."
        )
    from .. import __version__

    graph = onnx.helper.make_graph(
        g.nodes, model.name, g.inputs, g.outputs, initializer=g.initializers
    )
    proto = onnx.helper.make_model(
        graph,
        opset_imports=[onnx.helper.make_opsetid("", OPSET)],
        producer_name="rnnkit",
        producer_version=__version__,
        ir_version=_IR_VERSION,
    )
    onnx.checker.check_model(proto, full_check=True)
    return proto


class _Exporter:
    """Turns layers into nodes, mirroring each layer's ``forward`` and
    ``compute_mask`` (the masks are (B, T) bool values)."""

    def __init__(self, g: GraphBuilder, stream_stateful: bool = False):
        self.g = g
        self.stream_stateful = stream_stateful
        self.tp = g.onnx.TensorProto

    # ---- models --------------------------------------------------------------------
    def sequential(self, model) -> list[_Value]:
        first = model.layers[0]
        shape = tuple(model._input_shape)
        ids = isinstance(first, Embedding)
        dims = ["batch"] + _sample_dims(shape, ids, "time", "input")
        name = self.g.fresh("input")
        self.g.add_input(name, self.tp.INT64 if ids else self.tp.FLOAT, dims)
        value, mask = _Value(name, shape), None
        for layer in model.layers:
            if isinstance(value, list):
                raise ValueError(
                    f"ONNX export: layer {layer.name!r} follows a layer with several outputs "
                    f"in a Sequential model."
                )
            outs, mask = self.layer(layer, value, mask, None)
            value = outs[0] if len(outs) == 1 else outs
        return value if isinstance(value, list) else [value]

    def functional(self, model) -> list[_Value]:
        values: dict[int, _Value] = {}
        masks: dict[int, str | None] = {}
        for tensor in model.inputs:
            ids = any(
                isinstance(node.layer, Embedding) for node in model.nodes if tensor in node.inputs
            )
            name = self.g.fresh(tensor.name)
            shape = _sample_shape(tensor)
            dims = ["batch"] + _sample_dims(shape, ids, f"{name}_time", name)
            self.g.add_input(name, self.tp.INT64 if ids else self.tp.FLOAT, dims)
            values[id(tensor)] = _Value(name, shape)
            masks[id(tensor)] = None
        for node in model.nodes:
            ins = [values[id(t)] for t in node.inputs]
            arg = ins if node.list_input else ins[0]
            mask = masks[id(node.inputs[-1])] if node.list_input else masks[id(node.inputs[0])]
            initial = [values[id(t)].name for t in node.initial_state] or None
            outs, out_mask = self.layer(node.layer, arg, mask, initial)
            if node.list_input:
                out_mask = None
            if len(outs) != len(node.outputs):
                raise ValueError(
                    f"ONNX export: layer {node.layer.name!r} gave {len(outs)} outputs where "
                    f"the model has {len(node.outputs)}."
                )
            for t, v in zip(node.outputs, outs):
                values[id(t)] = _Value(v.name, _sample_shape(t))
                masks[id(t)] = out_mask if t.index == 0 else None
        return [values[id(t)] for t in model.outputs]

    # ---- layers --------------------------------------------------------------------
    def layer(self, layer, x, mask, initial):
        """``(outputs, output mask)`` of ``layer`` on ``x`` (a _Value, or a list of them
        for the merge and attention layers)."""
        if initial is not None and not isinstance(layer, RNN):
            raise ValueError(f"ONNX export: layer {layer.name!r} takes no initial_state.")
        kind = type(layer)
        if isinstance(layer, RNN):
            return self.rnn(layer, x, mask, initial)
        method = _LAYER_METHODS.get(kind)
        if method is None:
            raise ValueError(
                f"ONNX export: layer {layer.name!r} ({kind.__name__}) is not exportable; "
                f"exportable layers: {', '.join(sorted(c.__name__ for c in _LAYER_METHODS))}, "
                f"SimpleRNN, LSTM, GRU."
            )
        shape = self.output_shape(layer, x)
        outs, out_mask = getattr(self, method)(layer, x, mask)
        if not isinstance(outs, list):
            outs = [outs]
        shapes = shape if isinstance(shape, list) else [shape]
        return [_Value(o, tuple(s)) for o, s in zip(outs, shapes)], out_mask

    @staticmethod
    def output_shape(layer, x):
        return layer.compute_output_shape(
            tuple(v.shape for v in x) if isinstance(x, list) else x.shape
        )

    def activation(self, activation, x: str, where: str) -> str:
        g = self.g
        if getattr(activation, "name", None) == "softmax":
            return g.op("Softmax", [x], "softmax", axis=-1)
        op, alpha, beta = activation_spec(activation, where)
        if op == "Affine":  # linear
            return x
        if op == "HardSigmoid":
            return g.op(op, [x], "hard_sigmoid", alpha=alpha, beta=beta)
        return g.op(op, [x], op.lower())

    def param(self, layer, key: str, make=None) -> str:
        """The initializer of ``layer.params[key]`` (or of ``make()``), float32."""
        make = make or (lambda: layer.params[key])
        return self.g.weight((id(layer), key), lambda: _f32(make()), f"{layer.name}_{key}")

    def dense(self, layer, x, mask):
        g = self.g
        kernel = self.param(layer, "kernel", lambda: layer.kernel)  # (TiedDense: Eᵀ)
        y = g.op("MatMul", [x.name, kernel], f"{layer.name}_matmul")
        if layer.use_bias:
            bias = self.param(layer, "bias")
            y = g.op("Add", [y, bias], f"{layer.name}_add")
        return self.activation(layer.activation, y, f"the activation of layer {layer.name!r}"), mask

    def activation_layer(self, layer, x, mask):
        return self.activation(layer.activation, x.name, f"layer {layer.name!r}"), mask

    def identity(self, layer, x, mask):
        return x.name, mask

    def embedding(self, layer, x, mask):
        g = self.g
        table = self.param(layer, "embeddings")
        y = g.op("Gather", [table, x.name], layer.name, axis=0)
        if layer.mask_zero:
            keep = g.op("Not", [g.op("Equal", [x.name, g.const(0, "int64")])])
            mask = keep if mask is None else g.op("And", [keep, mask])
        return y, mask

    def masking(self, layer, x, mask):
        g = self.g
        value = layer.mask_value
        # rnnkit compares float32 steps with the float64 mask_value: a value float32
        # cannot hold masks nothing, as NaN (never equal) does here
        target = value if float(np.float32(value)) == value else float("nan")
        differs = g.op("Not", [g.op("Equal", [x.name, g.const(target)])])
        keep = g.cast(g.reduce("ReduceMax", g.cast(differs, self.tp.FLOAT), [-1]), self.tp.BOOL)
        if mask is not None:
            keep = g.op("And", [keep, mask])
        y = g.op("Mul", [x.name, g.cast(g.unsqueeze(keep, [2]), self.tp.FLOAT)], layer.name)
        return y, keep

    def flatten(self, layer, x, mask):
        return self.g.op("Flatten", [x.name], layer.name, axis=1), None

    def repeat_vector(self, layer, x, mask):
        g = self.g
        y = g.op("Tile", [g.unsqueeze(x.name, [1]), g.const([1, layer.n, 1], "int64")], layer.name)
        return y, None

    def _valid_steps(self, mask: str) -> str:
        """The mask with all-padding rows made all-valid (rnnkit's pooling and
        attention: such a row uses every step, never NaN)."""
        g = self.g
        kept = g.reduce("ReduceMax", g.cast(mask, self.tp.FLOAT), [1], keepdims=1)
        any_kept = g.cast(kept, self.tp.BOOL)
        return g.op("Or", [mask, g.op("Not", [any_kept])])

    def _max_pool(self, x: str, mask) -> str:
        g = self.g
        if mask is not None:
            valid = g.unsqueeze(self._valid_steps(mask), [2])
            x = g.where(valid, x, g.const(-np.inf))
        return g.reduce("ReduceMax", x, [1])

    def _average_pool(self, x: str, mask) -> str:
        g = self.g
        if mask is None:
            return g.reduce("ReduceMean", x, [1])
        valid = g.cast(self._valid_steps(mask), self.tp.FLOAT)  # (B, T)
        weights = g.op("Div", [valid, g.reduce("ReduceSum", valid, [1], keepdims=1)])
        return g.reduce("ReduceSum", g.op("Mul", [x, g.unsqueeze(weights, [2])]), [1])

    def max_pooling(self, layer, x, mask):
        return self._max_pool(x.name, mask), None

    def average_pooling(self, layer, x, mask):
        return self._average_pool(x.name, mask), None

    def max_average_pooling(self, layer, x, mask):
        parts = [self._max_pool(x.name, mask), self._average_pool(x.name, mask)]
        return self.g.op("Concat", parts, layer.name, axis=-1), None

    def time_distributed(self, layer, x, mask):
        g = self.g
        inner = layer.layer
        flat_shape = g.op("Concat", [g.const([-1], "int64"), g.shape(x.name, 2)], axis=0)
        flat = g.op("Reshape", [x.name, flat_shape])
        outs, _ = self.layer(inner, _Value(flat, tuple(x.shape[1:])), None, None)
        if len(outs) != 1:
            raise ValueError(
                f"ONNX export: layer {layer.name!r} wraps {inner.name!r}, which has several "
                f"outputs."
            )
        y = outs[0].name
        back = g.op("Concat", [g.shape(x.name, 0, 2), g.shape(y, 1)], axis=0)
        return g.op("Reshape", [y, back], layer.name), mask

    def concatenate(self, layer, xs, mask):
        return self.g.op("Concat", [v.name for v in xs], layer.name, axis=layer.axis), None

    def add(self, layer, xs, mask):
        return self.g.op("Sum", [v.name for v in xs], layer.name), None

    def attention(self, layer, xs, mask):
        g = self.g
        query, values = xs
        single = len(query.shape) == 1
        q = g.unsqueeze(query.name, [1]) if single else query.name  # (B, Tq, dq)
        v = values.name  # (B, Tv, dv)
        if isinstance(layer, DotAttention):
            if layer.score == "general":
                kernel = self.param(layer, "kernel")
                q = g.op("MatMul", [q, kernel])
            scores = g.op("MatMul", [q, g.transpose(v, [0, 2, 1])])
            if layer.scale:
                scores = g.op("Mul", [scores, g.const(layer._factor)])
        else:  # Bahdanau: vᵀ·tanh(q·W_q + v·W_k)
            wq, wk = self.param(layer, "query_kernel"), self.param(layer, "key_kernel")
            sv = self.param(layer, "score_vector")
            qp = g.unsqueeze(g.op("MatMul", [q, wq]), [2])  # (B, Tq, 1, U)
            kp = g.unsqueeze(g.op("MatMul", [v, wk]), [1])  # (B, 1, Tv, U)
            scores = g.op("MatMul", [g.op("Tanh", [g.op("Add", [qp, kp])]), sv])  # (B, Tq, Tv)
        if mask is not None:
            keep = g.unsqueeze(self._valid_steps(mask), [1])  # (B, 1, Tv)
            scores = g.where(keep, scores, g.const(_NEG))
        weights = g.op("Softmax", [scores], f"{layer.name}_weights", axis=-1)
        context = g.op("MatMul", [weights, v])
        if single:
            context = g.squeeze(context, [1])
        return g.op("Identity", [context], layer.name), None

    # ---- convolution, pooling over windows, normalization ----------------------------
    def _channels_first(self, x: str, op_type: str, hint: str, **attrs) -> str:
        """``op_type`` (Conv, MaxPool, AveragePool: channels first) on (B, T, C) ``x``."""
        g = self.g
        inputs = [g.transpose(x, [0, 2, 1])] + list(attrs.pop("weights", []))
        return g.transpose(g.op(op_type, inputs, hint, **attrs), [0, 2, 1])

    @staticmethod
    def _window_padding(padding: str, span: int) -> dict:
        """ONNX padding attributes for Keras's: "same" is SAME_UPPER (TensorFlow's: the
        odd step after), "causal" all before."""
        if padding == "same":
            return {"auto_pad": "SAME_UPPER"}
        if padding == "causal":
            return {"pads": [span - 1, 0]}
        return {"pads": [0, 0]}

    def _same_padding(self, x: str, stride: int, span: int) -> str:
        """``x`` (B, T, C) zero-padded as Keras's "same" pads it, for the lengths only
        known at run time: total = max((ceil(T / s) - 1)·s + span - T, 0), the odd step
        after (onnxruntime refuses SAME_UPPER with a dilation)."""
        g = self.g
        length = g.shape(x, 1, 2)
        s = g.const([stride], "int64")
        out = g.op("Div", [g.op("Add", [length, g.const([stride - 1], "int64")]), s])
        total = g.op("Sub", [g.op("Mul", [g.op("Sub", [out, g.const([1], "int64")]), s]), length])
        total = g.op("Max", [g.op("Add", [total, g.const([span], "int64")]), g.const([0], "int64")])
        before = g.op("Div", [total, g.const([2], "int64")])
        after = g.op("Sub", [total, before])
        zero = g.const([0], "int64")
        pads = g.op("Concat", [zero, before, zero, zero, after, zero], axis=0)
        return g.op("Pad", [x, pads])

    def conv1d(self, layer, x, mask):
        span = layer.dilation_rate * (layer.kernel_size - 1) + 1
        # Keras's kernel (kernel_size, channels, filters) as ONNX's (filters, channels, k)
        weights = [self.param(layer, "kernel", lambda: layer.params["kernel"].transpose(2, 1, 0))]
        if layer.use_bias:
            weights.append(self.param(layer, "bias"))
        source, padding = x.name, layer.padding
        if padding == "same" and layer.dilation_rate > 1:
            source, padding = self._same_padding(x.name, layer.strides, span), "valid"
        y = self._channels_first(
            source,
            "Conv",
            layer.name,
            weights=weights,
            kernel_shape=[layer.kernel_size],
            strides=[layer.strides],
            dilations=[layer.dilation_rate],
            **self._window_padding(padding, span),
        )
        return self.activation(layer.activation, y, f"the activation of layer {layer.name!r}"), None

    def window_pooling(self, layer, x, mask):
        op = "MaxPool" if type(layer).__name__ == "MaxPooling1D" else "AveragePool"
        attrs = {"kernel_shape": [layer.pool_size], "strides": [layer.strides]}
        attrs.update(self._window_padding(layer.padding, layer.pool_size))
        if op == "AveragePool":
            attrs["count_include_pad"] = 0  # padding is not counted, as in Keras
        return self._channels_first(x.name, op, layer.name, **attrs), None

    def batch_normalization(self, layer, x, mask):
        """Inference: the moving statistics, folded into one scale and shift per feature."""
        p = layer.params
        inv_std = 1.0 / np.sqrt(np.asarray(p["moving_variance"], np.float64) + layer.epsilon)
        scale = inv_std * (np.asarray(p["gamma"], np.float64) if layer.scale else 1.0)
        shift = -np.asarray(p["moving_mean"], np.float64) * scale
        if layer.center:
            shift = shift + np.asarray(p["beta"], np.float64)
        g = self.g
        y = g.op("Mul", [x.name, self.param(layer, "folded_scale", lambda: scale)])
        return g.op("Add", [y, self.param(layer, "folded_shift", lambda: shift)], layer.name), mask

    def layer_normalization(self, layer, x, mask):
        features = x.shape[-1]
        ones, zeros = np.ones(features), np.zeros(features)
        gamma = self.param(
            layer, "gamma" if layer.scale else "ones", lambda: layer.params.get("gamma", ones)
        )
        beta = self.param(
            layer, "beta" if layer.center else "zeros", lambda: layer.params.get("beta", zeros)
        )
        y = self.g.op(
            "LayerNormalization", [x.name, gamma, beta], layer.name, axis=-1, epsilon=layer.epsilon
        )
        return y, mask

    # ---- recurrent layers ------------------------------------------------------------
    def _check_stateful(self, layer) -> None:
        if layer.stateful and not self.stream_stateful:
            raise ValueError(
                f"ONNX export: layer {layer.name!r} has stateful=True, which an ONNX graph "
                f"cannot carry between runs; export with stateful='stream' (the command "
                f"line's --stateful stream) to carry its states through the graph's "
                f"initial-state inputs and final-state outputs instead."
            )

    def _check_sequence(self, layer, x):
        if isinstance(x, list) or len(x.shape) != 2:
            raise ValueError(
                f"ONNX export: layer {layer.name!r} needs (batch, time, features) input."
            )

    def rnn(self, layer, x, mask, initial):
        self._check_sequence(layer, x)
        self._check_stateful(layer)
        g = self.g
        [(sequence, states)] = recurrent.emit(
            g, x.name, [(layer, layer.go_backwards)], mask, [initial], layer.return_sequences
        )
        if layer.return_sequences:
            # Keras's order: a layer reading backwards gives its outputs in reading order
            out = g.reverse(sequence, 1) if layer.go_backwards else sequence
        else:
            out = states[0]
        shape = layer.compute_output_shape(x.shape)
        shapes = shape if isinstance(shape, list) else [shape]
        outs = [out] + states if layer.return_state else [out]
        values = [_Value(o, tuple(s)) for o, s in zip(outs, shapes)]
        return values, mask if layer.return_sequences else None

    def bidirectional(self, layer, x, mask):
        self._check_sequence(layer, x)
        g = self.g
        fwd, bwd = layer.forward_layer, layer.backward_layer
        self._check_stateful(fwd)
        self._check_stateful(bwd)
        rs = layer.return_sequences
        fused = (
            not fwd.go_backwards
            and bwd.go_backwards
            and type(fwd.cell) is type(bwd.cell)
            and recurrent.op_config(fwd) == recurrent.op_config(bwd)
        )
        if fused:  # one operator, direction="bidirectional"
            (seq_f, states_f), (seq_b, states_b) = recurrent.emit(
                g, x.name, [(fwd, False), (bwd, True)], mask, [None, None], rs
            )
        else:
            [(seq_f, states_f)] = recurrent.emit(
                g, x.name, [(fwd, fwd.go_backwards)], mask, [None], rs
            )
            [(seq_b, states_b)] = recurrent.emit(
                g, x.name, [(bwd, bwd.go_backwards)], mask, [None], rs
            )
        if rs:
            yf = g.reverse(seq_f, 1) if fwd.go_backwards else seq_f
            # the backward half is flipped back to input order (rnnkit's Bidirectional)
            yb = seq_b if bwd.go_backwards else g.reverse(seq_b, 1)
        else:
            yf, yb = states_f[0], states_b[0]
        mode = layer.merge_mode
        if mode == "concat":
            out = [g.op("Concat", [yf, yb], layer.name, axis=-1)]
        elif mode == "sum":
            out = [g.op("Add", [yf, yb], layer.name)]
        elif mode == "mul":
            out = [g.op("Mul", [yf, yb], layer.name)]
        elif mode == "ave":
            out = [g.op("Mul", [g.op("Add", [yf, yb]), g.const(0.5)], layer.name)]
        else:
            out = [yf, yb]
        outs = out + (states_f + states_b if layer.return_state else [])
        return outs, mask if rs else None


_LAYER_METHODS = {
    Dense: "dense",
    TiedDense: "dense",
    Activation: "activation_layer",
    Dropout: "identity",
    SpatialDropout1D: "identity",
    Embedding: "embedding",
    Masking: "masking",
    Flatten: "flatten",
    RepeatVector: "repeat_vector",
    GlobalMaxPooling1D: "max_pooling",
    GlobalAveragePooling1D: "average_pooling",
    GlobalMaxAveragePooling1D: "max_average_pooling",
    TimeDistributed: "time_distributed",
    Concatenate: "concatenate",
    Add: "add",
    DotAttention: "attention",
    BahdanauAttention: "attention",
    Bidirectional: "bidirectional",
}


# layers registered when this rnnkit has them (by name: they came with Keras 3's examples)
for _name, _method in {
    "Conv1D": "conv1d",
    "MaxPooling1D": "window_pooling",
    "AveragePooling1D": "window_pooling",
    "BatchNormalization": "batch_normalization",
    "LayerNormalization": "layer_normalization",
}.items():
    _cls = getattr(_layers, _name, None)
    if _cls is not None:
        _LAYER_METHODS[_cls] = _method


def _f32(array) -> np.ndarray:
    return np.asarray(array, dtype=np.float32)


def _sample_shape(tensor) -> tuple:
    """A symbolic tensor's shape without the batch axis."""
    return tuple(getattr(tensor, "sample_shape", tensor.shape))


def _sample_dims(shape, ids: bool, time_name: str, prefix: str) -> list:
    """ONNX dims of an input's sample shape: every axis but the features dynamic (the
    first is time), the features' size fixed when known; all dynamic for token ids."""
    dims: list[int | str] = []
    for k, size in enumerate(shape):
        last = k == len(shape) - 1 and not ids
        if last and size is not None:
            dims.append(int(size))
        else:
            dims.append(time_name if k == 0 else f"{prefix}_dim{k + 1}")
    return dims

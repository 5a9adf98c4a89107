"""The functional API, in Keras's style: ``Input``, layers called on symbolic tensors,
and ``Model(inputs, outputs)`` — several inputs, several outputs, shared layers, and
recurrent states passed as ``initial_state`` (an encoder's states into a decoder).

Example (an encoder-decoder trained with teacher forcing)::

    enc_in = Input(shape=(None,))
    _, h, c = LSTM(64, return_state=True)(Embedding(30, 16, mask_zero=True)(enc_in))
    dec_in = Input(shape=(None,))
    dec = LSTM(64, return_sequences=True)(Embedding(30, 16)(dec_in), initial_state=[h, c])
    out = Dense(30, activation="softmax")(dec)
    model = Model([enc_in, dec_in], out)

A functional model trains with the same loop as Sequential (``fit``, ``evaluate``,
``predict``, checkpoints, callbacks) and saves to the same file format.
"""

from __future__ import annotations

import copy
import itertools

import numpy as np

from .. import backend, losses
from .. import metrics as metrics_mod
from ..layers import Embedding, Layer, deserialize, serialize
from ..layers.input_layer import Input
from ..layers.recurrent import RNN
from ..utils import validation
from .sequential import Sequential


class SymbolicTensor:
    """A placeholder for an array in a model graph (Keras's ``KerasTensor``): the
    layer call (node) that produces it, and its shape. ``shape`` has the batch axis
    first, as Keras's; ``sample_shape`` is the same without it.

    ``Input`` and layers called on symbolic tensors make them; there is rarely a reason
    to build one by hand.

    Args:
        shape: the sample shape (without the batch axis).
        node: the :class:`Node` that produces it (default None: a model input).
        index: which of the node's outputs it is (default 0).
        name: its name (default None).
        dtype: its dtype (default None: :func:`rnnkit.backend.floatx`).

    Example:
        >>> from rnnkit import layers
        >>> from rnnkit.models import Input
        >>> h = layers.Dense(4)(Input(shape=(7, 3)))
        >>> h.shape, h.sample_shape, h.ndim
        ((None, 7, 4), (7, 4), 3)
    """

    def __init__(self, shape, node=None, index: int = 0, name: str | None = None, dtype=None):
        self.sample_shape = tuple(shape)
        self.node = node
        self.index = index
        self.name = name
        self.dtype = backend.resolve_dtype(None) if dtype is None else np.dtype(dtype)
        self.input_layer = None  # the InputLayer of a model input

    @property
    def shape(self) -> tuple:
        return (None,) + self.sample_shape

    @property
    def ndim(self) -> int:
        return len(self.sample_shape) + 1

    def __repr__(self) -> str:
        return f"<SymbolicTensor shape={self.shape} name={self.name!r}>"


def _pick(fn, k):
    """A metric on output ``k`` of a several-output model."""
    return lambda y, p, m: fn(y[k], p[k], None if m is None else m[k])


_node_ids = itertools.count()


def next_node_id() -> int:
    """The next number in the order graph nodes and input layers are created in.

    Returns:
        An int, larger than every one returned before in this process.

    Example:
        >>> from rnnkit.models.functional import next_node_id
        >>> first = next_node_id()
        >>> next_node_id() > first
        True
    """
    return next(_node_ids)


class Node:
    """One call of a layer in the graph (made by :func:`call_symbolic`).

    Args:
        layer: the layer called.
        inputs: the :class:`SymbolicTensor` inputs of the call.
        initial_state: the symbolic initial states passed to a recurrent layer, or
            None.

    Example:
        >>> from rnnkit import layers
        >>> from rnnkit.models import Input
        >>> dense = layers.Dense(2)
        >>> node = dense(Input(shape=(3,))).node
        >>> node.layer is dense, len(node.inputs), len(node.outputs)
        (True, 1, 1)
    """

    def __init__(self, layer, inputs, initial_state):
        self.id = next_node_id()  # creation order: a topological order, as Keras's
        self.layer = layer
        self.inputs = list(inputs)  # SymbolicTensors
        self.initial_state = list(initial_state or [])
        self.outputs: list[SymbolicTensor] = []
        self.list_input = False


def is_symbolic(x) -> bool:
    """Whether ``x`` is a :class:`SymbolicTensor`, or a list or tuple holding one.

    Args:
        x: anything.

    Returns:
        True for a symbolic tensor or a list/tuple with at least one; else False.

    Example:
        >>> import numpy as np
        >>> from rnnkit.models import Input
        >>> from rnnkit.models.functional import is_symbolic
        >>> is_symbolic(Input(shape=(3,))), is_symbolic(np.ones(3))
        (True, False)
    """
    if isinstance(x, SymbolicTensor):
        return True
    return isinstance(x, (list, tuple)) and any(isinstance(t, SymbolicTensor) for t in x)


def call_symbolic(layer: Layer, x, initial_state=None, **kwargs):
    """``layer(x)`` on symbolic tensors: build the layer and record the call.

    A layer called on a symbolic tensor calls this.

    Args:
        layer: the layer to call.
        x: a :class:`SymbolicTensor`, or a list or tuple of them (for layers that
            take several inputs).
        initial_state: symbolic tensors of a recurrent layer's initial states
            (default None).
        **kwargs: none is supported.

    Returns:
        The output :class:`SymbolicTensor`, or a list of them for a layer with
        several outputs (a recurrent layer with ``return_state=True``).

    Raises:
        TypeError: keyword arguments, a mix of symbolic tensors and arrays in ``x``,
            or an ``initial_state`` that is not symbolic.
        ValueError: an ``initial_state`` for a layer that is not recurrent.

    Example:
        >>> from rnnkit import layers
        >>> from rnnkit.models import Input
        >>> from rnnkit.models.functional import call_symbolic
        >>> outputs = call_symbolic(layers.LSTM(4, return_state=True), Input(shape=(None, 3)))
        >>> tuple(t.shape for t in outputs)
        ((None, 4), (None, 4), (None, 4))
    """
    if kwargs:
        raise TypeError(
            f"Layer {layer.name!r} called symbolically with unsupported {sorted(kwargs)}."
        )
    list_input = isinstance(x, (list, tuple))
    inputs = list(x) if list_input else [x]
    if not all(isinstance(t, SymbolicTensor) for t in inputs):
        raise TypeError(f"Layer {layer.name!r}: mix of symbolic tensors and arrays in its input.")
    states = [] if initial_state is None else list(initial_state)
    if not all(isinstance(t, SymbolicTensor) for t in states):
        raise TypeError(f"Layer {layer.name!r}: initial_state must be symbolic tensors here.")
    if states and not isinstance(layer, RNN):
        raise ValueError(f"Layer {layer.name!r} takes no initial_state.")
    shape = tuple(t.sample_shape for t in inputs) if list_input else inputs[0].sample_shape
    layer.ensure_built(shape)
    node = Node(layer, inputs, states)
    node.list_input = list_input
    out_shape = layer.compute_output_shape(shape)
    dtype = layer.dtype
    if isinstance(out_shape, list):
        node.outputs = [SymbolicTensor(s, node, i, dtype=dtype) for i, s in enumerate(out_shape)]
    else:
        node.outputs = [SymbolicTensor(out_shape, node, 0, dtype=dtype)]
    # layer.input / layer.output read the first call, as Keras's do
    if "_inbound_nodes" not in vars(layer):
        layer._inbound_nodes = []
    layer._inbound_nodes.append(node)
    return node.outputs if isinstance(out_shape, list) else node.outputs[0]


class Model(Sequential):
    """A model defined by its inputs and outputs (Keras's functional ``Model``).

    Args:
        inputs: an ``Input`` tensor or a list of them (the model then takes a list of
            arrays).
        outputs: a symbolic tensor or a list of them (the model then predicts a
            list).
        name: the model's name (default None: ``model``, ``model_1``, ...).

    A model with several outputs trains on a list of targets with a loss per output
    (see :meth:`compile`) and predicts a list.

    Raises:
        ValueError: an input that is not an ``Input(...)`` tensor, an output that is
            not symbolic, or a wrapper layer (``Bidirectional``, ``TimeDistributed``)
            called more than once.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Input, Model
        >>> inputs = Input(shape=(5, 3))
        >>> h = layers.GRU(4)(inputs)
        >>> model = Model(inputs, [layers.Dense(1)(h), layers.Dense(2, activation="softmax")(h)])
        >>> model.compile("adam", ["mse", "sparse_categorical_crossentropy"], loss_weights=[1, 0.5])
        >>> x = np.random.default_rng(0).normal(size=(8, 5, 3))
        >>> targets = [np.zeros((8, 1)), np.zeros(8, int)]
        >>> _ = model.fit(x, targets, epochs=1, batch_size=4, verbose=0)
        >>> tuple(p.shape for p in model.predict(x))
        ((8, 1), (8, 2))
    """

    def __init__(self, inputs, outputs, name: str | None = None):
        super().__init__(name=name or backend.unique_name("model"))
        self._multi_in = isinstance(inputs, (list, tuple))
        self._multi_out = isinstance(outputs, (list, tuple))
        self.inputs = list(inputs) if self._multi_in else [inputs]
        self.outputs = list(outputs) if self._multi_out else [outputs]
        for t in self.inputs:
            if not isinstance(t, SymbolicTensor) or t.node is not None:
                raise ValueError(f"Model inputs must be Input(...) tensors, got {t!r}.")
        for t in self.outputs:
            if not isinstance(t, SymbolicTensor):
                raise ValueError(f"Model outputs must be symbolic tensors, got {t!r}.")
        self.nodes = self._order()
        # the layers that compute: what the config, the weights and the graph run on
        self._graph_layers = list(dict.fromkeys(node.layer for node in self.nodes))
        # model.layers as Keras 3 lists them, input layers included, so that
        # model.layers[i] is the same layer as in Keras
        self.layers = self._keras_layer_order()
        counts: dict[int, int] = {}
        for node in self.nodes:
            counts[id(node.layer)] = counts.get(id(node.layer), 0) + 1
        self._shared = {i for i, n in counts.items() if n > 1}
        for layer in self.layers:
            if (
                id(layer) in self._shared
                and hasattr(layer, "forward_layer")
                or (id(layer) in self._shared and hasattr(layer, "layer"))
            ):
                raise ValueError(f"Layer {layer.name!r}: wrappers cannot be shared (yet).")
        self._input_shape = tuple(self.inputs[0].sample_shape)

    def _keras_layer_order(self) -> list:
        """The layers in Keras 3's order (keras/src/ops/function.py, map_graph): by
        depth, the longest path to an output, deepest first; ties by the order a
        depth-first walk from the outputs first meets them (a call's inputs before
        its initial_state)."""

        def parents(item):
            if not isinstance(item, Node):
                return []
            found = []
            for t in item.inputs + item.initial_state:
                parent = t.node if t.node is not None else t.input_layer
                if parent is not None:
                    found.append(parent)
            return found

        def layer_of(item):
            return item.layer if isinstance(item, Node) else item

        post, done, first_seen = [], set(), {}

        def visit(item):
            if id(item) in done:
                return
            first_seen.setdefault(id(layer_of(item)), len(first_seen))
            done.add(id(item))
            for parent in parents(item):
                visit(parent)
            post.append(item)

        for t in self.outputs:
            start = t.node if t.node is not None else t.input_layer
            if start is not None:
                visit(start)
        item_depth: dict[int, int] = {}
        layer_depth: dict[int, int] = {}
        layers: dict[int, object] = {}
        for item in reversed(post):
            layer = layer_of(item)
            layers[id(layer)] = layer
            depth = max(item_depth.get(id(item), 0), layer_depth.get(id(layer), 0))
            layer_depth[id(layer)] = item_depth[id(item)] = depth
            for parent in parents(item):
                item_depth[id(parent)] = max(depth + 1, item_depth.get(id(parent), 0))
        for t in self.inputs:  # an input no output needs still is one
            if t.input_layer is not None and id(t.input_layer) not in layers:
                layers[id(t.input_layer)] = t.input_layer
                layer_depth[id(t.input_layer)], first_seen[id(t.input_layer)] = 0, -1
        return sorted(
            layers.values(), key=lambda layer: (-layer_depth[id(layer)], first_seen[id(layer)])
        )

    def _order(self) -> list[Node]:
        """The nodes in an order where every node comes after its inputs."""
        order, seen, visiting = [], set(), set()
        known_inputs = {id(t) for t in self.inputs}

        def visit(tensor):
            node = tensor.node
            if node is None:
                if id(tensor) not in known_inputs:
                    raise ValueError(
                        f"Input {tensor.name!r} is needed by the outputs but is not among the "
                        f"model's inputs."
                    )
                return
            if id(node) in seen:
                return
            if id(node) in visiting:
                raise ValueError("The graph has a cycle.")
            visiting.add(id(node))
            for t in node.inputs + node.initial_state:
                visit(t)
            visiting.discard(id(node))
            seen.add(id(node))
            order.append(node)

        for t in self.outputs:
            visit(t)
        return sorted(order, key=lambda node: node.id)

    # ---- shapes and checks --------------------------------------------------------
    @property
    def output_shape(self):
        """The output shape with the batch axis (a list for several outputs).

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Input, Model
            >>> inputs = Input(shape=(5, 3))
            >>> model = Model(inputs, layers.Dense(2, name="d")(layers.LSTM(4, name="l")(inputs)))
            >>> model.output_shape
            (None, 2)
        """
        shapes = [t.shape for t in self.outputs]
        return shapes if self._multi_out else shapes[0]

    def build(self, input_shape) -> None:  # built at construction
        """Nothing to do: a functional model is built when it is made.

        Args:
            input_shape: ignored.

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Input, Model
            >>> inputs = Input(shape=(5, 3))
            >>> model = Model(inputs, layers.Dense(2, name="d")(layers.LSTM(4, name="l")(inputs)))
            >>> model.build((None, 5, 3))
            >>> model.built
            True
        """

    def add(self, layer):
        """Refused: a functional model is defined by its inputs and outputs.

        Args:
            layer: ignored.

        Raises:
            TypeError: always.

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Input, Model
            >>> inputs = Input(shape=(5, 3))
            >>> model = Model(inputs, layers.Dense(2, name="d")(layers.LSTM(4, name="l")(inputs)))
            >>> try:
            ...     model.add(layers.Dense(1))
            ... except TypeError:
            ...     print("refused")
            refused
        """
        raise TypeError("A functional Model is defined by its inputs and outputs; it has no add().")

    def _check_x(self, x):
        arrays = list(x) if isinstance(x, (list, tuple)) else [x]
        if len(arrays) != len(self.inputs):
            raise ValueError(
                f"Model {self.name!r} has {len(self.inputs)} input(s); got {len(arrays)} array(s)."
            )
        out, n = [], None
        for tensor, arr in zip(self.inputs, arrays):
            arr = validation.as_array(arr, f"x ({tensor.name})")
            if arr.ndim != tensor.ndim or any(
                e is not None and e != g for e, g in zip(tensor.sample_shape, arr.shape[1:])
            ):
                raise ValueError(
                    f"Input {tensor.name!r} expects (samples, "
                    f"{', '.join('?' if e is None else str(e) for e in tensor.sample_shape)}), got "
                    f"shape {arr.shape}."
                )
            if n is not None and len(arr) != n:
                raise ValueError(f"Inputs have different numbers of samples: {n} and {len(arr)}.")
            n = len(arr)
            consumers = [nd.layer for nd in self.nodes if tensor in nd.inputs]
            if any(isinstance(l, Embedding) for l in consumers):
                arr = next(l for l in consumers if isinstance(l, Embedding)).check_ids(arr)
            else:
                validation.check_finite(arr, f"x ({tensor.name})")
                arr = arr.astype(backend.floatx(), copy=False)
            out.append(arr)
        return out if self._multi_in else out[0]

    # ---- several outputs: a loss per output, weighted and summed --------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None) -> None:
        """As :meth:`Sequential.compile`; with several outputs ``loss`` may be one loss
        for all or a list (one per output), ``loss_weights`` a list of factors for the
        weighted sum, and each metric is reported per output (``<output>_<metric>``,
        named after the output's layer).

        Args:
            optimizer: an optimizer or its name (default ``"rmsprop"``).
            loss: a loss (name or object) for every output, or a list of one per
                output.
            metrics: a list of metrics (names or functions), default None.
            loss_weights: a list of one factor per output (default None: all 1.0).

        Raises:
            ValueError: a list of losses or ``loss_weights`` whose length is not the
                number of outputs (and whatever :meth:`Sequential.compile` raises).

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Input, Model
            >>> inputs = Input(shape=(3,))
            >>> model = Model(inputs, [layers.Dense(1, name="a")(inputs),
            ...                        layers.Dense(1, name="b")(inputs)])
            >>> model.compile("sgd", "mse", metrics=["mae"], loss_weights=[1.0, 2.0])
            >>> model.loss_weights, tuple(name for name, _ in model.metric_fns)
            ([1.0, 2.0], ('a_mae', 'b_mae'))
        """
        n = len(self.outputs)
        specs = list(loss) if isinstance(loss, (list, tuple)) else [loss] * n
        if len(specs) != n:
            raise ValueError(f"Model {self.name!r} has {n} outputs; got {len(specs)} losses.")
        super().compile(optimizer, specs[0], metrics)
        self.output_losses = [losses.get(spec) for spec in specs]
        weights = [1.0] * n if loss_weights is None else [float(w) for w in loss_weights]
        if len(weights) != n:
            raise ValueError(
                f"Model {self.name!r} has {n} outputs; got {len(weights)} loss_weights."
            )
        self.loss_weights = weights
        if self._multi_out:
            per_output = []
            for k, tensor in enumerate(self.outputs):
                label = tensor.node.layer.name
                for m in metrics or []:
                    name, fn = metrics_mod.get(m, self.output_losses[k].name)
                    per_output.append((f"{label}_{name}", _pick(fn, k)))
            self.metric_fns = per_output

    def _check_y(self, y, n):
        if not self._multi_out:
            return super()._check_y(y, n)
        ys = list(y) if isinstance(y, (list, tuple)) else [y]
        if len(ys) != len(self.outputs):
            raise ValueError(
                f"Model {self.name!r} has {len(self.outputs)} outputs; got {len(ys)} target "
                f"array(s)."
            )
        out = []
        for k, (tensor, arr) in enumerate(zip(self.outputs, ys)):
            arr = validation.as_array(arr, f"y[{k}]")
            if len(arr) != n:
                raise ValueError(
                    f"x and y[{k}] must have the same number of samples; got {n} and {len(arr)}."
                )
            if self.output_losses[k].name == "sparse_categorical_crossentropy":
                classes = tensor.sample_shape[-1]
                if arr.min() < 0 or arr.max() >= classes:
                    raise ValueError(
                        f"Labels y[{k}] must be class ids in [0, {classes}); got min "
                        f"{arr.min()}, max {arr.max()}."
                    )
            out.append(arr)
        return out

    def _fused_flags(self) -> list[bool]:
        flags = []
        for tensor, loss in zip(self.outputs, self.output_losses):
            layer = tensor.node.layer
            act = getattr(layer, "activation", None)
            flags.append(
                not loss.from_logits
                and loss.fusable_activation is not None
                and getattr(act, "name", None) == loss.fusable_activation
                and hasattr(layer, "backward_logits")
                and sum(tensor in node.inputs for node in self.nodes) == 0
            )
        return flags

    def compute_loss(self, x, y, sample_weight=None, training=True):
        """As :meth:`Sequential.compute_loss`; with several outputs the loss is the
        ``loss_weights``-weighted sum of the outputs' losses.

        Args:
            x: the input batch (a list for several inputs).
            y: its targets (a list for several outputs).
            sample_weight: per-sample weights, shared by the outputs (default None).
            training: run in training mode (default True).

        Returns:
            ``(loss, y_pred, masks, gradients, fused)``; with several outputs
            ``y_pred``, ``masks``, ``gradients`` (each scaled by its loss weight) and
            ``fused`` are lists, one entry per output.

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Input, Model
            >>> inputs = Input(shape=(5, 3))
            >>> h = layers.LSTM(4)(inputs)
            >>> model = Model(inputs, [layers.Dense(1, name="a")(h), layers.Dense(2, name="b")(h)])
            >>> model.compile("sgd", ["mse", "mse"], loss_weights=[1.0, 0.0])
            >>> x, y = np.ones((2, 5, 3)), [np.ones((2, 1)), np.ones((2, 2))]
            >>> loss, outs, masks, grads, fused = model.compute_loss(x, y)
            >>> tuple(g.shape for g in grads), float(np.abs(grads[1]).max())
            (((2, 1), (2, 2)), 0.0)
        """
        if not self._multi_out:
            return super().compute_loss(x, y, sample_weight, training)
        outs, masks = self.forward(x, training=training)
        flags = self._fused_flags()
        total, grads = 0.0, []
        for tensor, out, mask, target, loss, weight, fused in zip(
            self.outputs, outs, masks, y, self.output_losses, self.loss_weights, flags
        ):
            pred = tensor.node.layer.logits if fused else out
            value, grad = loss.value_and_grad(target, pred, sample_weight, mask, logits=fused)
            total += weight * value
            grads.append(grad * weight)
        return total, outs, masks, grads, flags

    def _trim_padding(self, x, y=None):
        return x, y

    def _fused_output(self) -> bool:
        if self._multi_out or self.loss is None:
            return False
        node = self.outputs[0].node
        return node is not None and node.layer is self.layers[-1] and super()._fused_output()

    # ---- running the graph --------------------------------------------------------
    def forward(self, x, training: bool = False):
        """Run the graph on checked arrays (no input validation here).

        Args:
            x: the input batch (a list for several inputs).
            training: run in training mode (dropout on) (default False).

        Returns:
            ``(output, output mask)``; lists of them for several outputs.

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Input, Model
            >>> inputs = Input(shape=(5, 3))
            >>> h = layers.LSTM(4)(inputs)
            >>> model = Model(inputs, [layers.Dense(1, name="a")(h), layers.Dense(2, name="b")(h)])
            >>> outs, masks = model.forward(np.ones((2, 5, 3)))
            >>> tuple(o.shape for o in outs), masks
            (((2, 1), (2, 2)), [None, None])
        """
        arrays = x if self._multi_in else [x]
        values = {id(t): a for t, a in zip(self.inputs, arrays)}
        masks = {id(t): None for t in self.inputs}
        self._snapshots = {}
        for node in self.nodes:
            layer = node.layer
            ins = [values[id(t)] for t in node.inputs]
            arg = ins if node.list_input else ins[0]
            mask = masks[id(node.inputs[-1])] if node.list_input else masks[id(node.inputs[0])]
            kwargs = {}
            if node.initial_state:
                kwargs["initial_state"] = [values[id(t)] for t in node.initial_state]
            out = layer.forward(arg, training=training, mask=mask, **kwargs)
            out_mask = None if node.list_input else layer.compute_mask(arg, mask)
            outs = out if isinstance(out, list) else [out]
            for t, v in zip(node.outputs, outs):
                values[id(t)] = v
                masks[id(t)] = out_mask if t.index == 0 else None
            if id(layer) in self._shared:  # keep this call's cache for its backward
                self._snapshots[id(node)] = {
                    k: copy.deepcopy(v)
                    for k, v in vars(layer).items()
                    if k.startswith("_")
                    and k not in ("_step_scratch", "_workspace", "_inbound_nodes")
                }
        self._values = values
        ys = [values[id(t)] for t in self.outputs]
        ms = [masks[id(t)] for t in self.outputs]
        if self._multi_out:
            return ys, ms
        return ys[0], ms[0]

    def backward(self, dy, from_logits: bool = False, input_grad: bool = True):
        """Backpropagate through the graph; returns dL/d(inputs). ``input_grad`` is
        Sequential's option; a graph computes every input's gradient regardless.

        Args:
            dy: dL/d(output) (a list for several outputs; None for an output without
                gradient), or dL/d(logits) with ``from_logits``.
            from_logits: ``dy`` is the gradient of the output layers' logits: a bool,
                or a list of one per output (default False).
            input_grad: ignored (default True).

        Returns:
            dL/d(input) (a list for several inputs; None for integer inputs).

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Input, Model
            >>> inputs = Input(shape=(5, 3))
            >>> h = layers.LSTM(4)(inputs)
            >>> model = Model(inputs, [layers.Dense(1, name="a")(h), layers.Dense(2, name="b")(h)])
            >>> outs, _ = model.forward(np.ones((2, 5, 3)), training=True)
            >>> model.backward([np.ones_like(o) for o in outs]).shape
            (2, 5, 3)
        """
        values = self._values
        grads: dict[int, np.ndarray] = {}

        def add(tensor, g):
            if g is None:
                return
            grads[id(tensor)] = g if id(tensor) not in grads else grads[id(tensor)] + g

        for t, g in zip(self.outputs, dy if self._multi_out else [dy]):
            add(t, g)
        flags = from_logits if isinstance(from_logits, list) else [from_logits] * len(self.outputs)
        fused_nodes = [t.node for t, f in zip(self.outputs, flags) if f]
        accum: dict[int, list] = {}
        for node in reversed(self.nodes):
            layer = node.layer
            douts = [grads.get(id(t)) for t in node.outputs]
            if all(g is None for g in douts):
                continue
            if id(node) in self._snapshots:
                vars(layer).update(self._snapshots[id(node)])
            if len(node.outputs) == 1:
                d = douts[0]
            else:  # return_state: the main output's gradient may be absent
                d = list(douts)
                if d[0] is None:
                    d[0] = np.zeros_like(values[id(node.outputs[0])])
            fused = node in fused_nodes
            dx = layer.backward_logits(d) if fused else layer.backward(d)
            if id(layer) in self._shared:
                acc = accum.setdefault(id(layer), [np.zeros_like(g) for g in layer.gradients()])
                for a, g in zip(acc, layer.gradients()):
                    a += g
            dxs = dx if node.list_input else [dx]
            for t, g in zip(node.inputs, dxs):
                add(t, g)
            if node.initial_state:
                for t, g in zip(node.initial_state, layer.initial_state_grads):
                    add(t, g)
        for layer in self.layers:
            if id(layer) in accum:
                for name, total in zip(layer.params, accum[id(layer)]):
                    layer.grads[name] = total
        return (
            [grads.get(id(t)) for t in self.inputs]
            if self._multi_in
            else grads.get(id(self.inputs[0]))
        )

    def step(self, x_t, states=None):
        """Refused: step-by-step inference runs on Sequential models.

        Args:
            x_t: ignored.
            states: ignored (default None).

        Raises:
            NotImplementedError: always.

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Input, Model
            >>> inputs = Input(shape=(5, 3))
            >>> model = Model(inputs, layers.Dense(2, name="d")(layers.LSTM(4, name="l")(inputs)))
            >>> try:
            ...     model.step(None)
            ... except NotImplementedError:
            ...     print("refused")
            refused
        """
        raise NotImplementedError(
            "Step-by-step inference runs on Sequential models; build the decoder for "
            "inference as a Sequential that shares the trained layers."
        )

    # ---- description and saving ---------------------------------------------------
    def summary(self, print_fn=print) -> None:
        """Print each layer call, its output shapes and parameter count.

        Args:
            print_fn: called with each line (default ``print``).

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Input, Model
            >>> inputs = Input(shape=(5, 3))
            >>> model = Model(inputs, layers.Dense(2, name="d")(layers.LSTM(4, name="l")(inputs)))
            >>> model.summary()  # doctest: +ELLIPSIS
            Model: "model..."
              l (LSTM) -> (None, 4)  params 128
              d (Dense) -> (None, 2)  params 10
            Total params: 138
        """
        print_fn(f'Model: "{self.name}"')
        for node in self.nodes:
            shapes = [str(t.shape) for t in node.outputs]
            print_fn(
                f"  {node.layer.name} ({type(node.layer).__name__}) -> {', '.join(shapes)}"
                f"  params {node.layer.count_params():,}"
            )
        print_fn(f"Total params: {self.count_params():,}")

    def get_config(self) -> dict:
        """The graph, as :meth:`from_config` takes it (no weights).

        Returns:
            A JSON-able dict: the inputs' shapes and names, the serialized layers,
            the layer calls (nodes) and the outputs.

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Input, Model
            >>> inputs = Input(shape=(5, 3))
            >>> model = Model(inputs, layers.Dense(2, name="d")(layers.LSTM(4, name="l")(inputs)))
            >>> config = model.get_config()
            >>> shapes = tuple(i["shape"] for i in config["inputs"])
            >>> len(config["layers"]), len(config["nodes"]), shapes
            (2, 2, ([5, 3],))
        """
        layer_index = {id(l): i for i, l in enumerate(self._graph_layers)}
        names: dict[int, list] = {}
        for i, t in enumerate(self.inputs):
            names[id(t)] = ["input", i]
        nodes = []
        for k, node in enumerate(self.nodes):
            for t in node.outputs:
                names[id(t)] = ["node", k, t.index]
            nodes.append(
                {
                    "layer": layer_index[id(node.layer)],
                    "inputs": [names[id(t)] for t in node.inputs],
                    "initial_state": [names[id(t)] for t in node.initial_state],
                    "list_input": node.list_input,
                }
            )
        return {
            "name": self.name,
            "inputs": [{"shape": list(t.sample_shape), "name": t.name} for t in self.inputs],
            "multi_input": self._multi_in,
            "multi_output": self._multi_out,
            "layers": [serialize(l) for l in self._graph_layers],
            "nodes": nodes,
            "outputs": [names[id(t)] for t in self.outputs],
        }

    @classmethod
    def from_config(cls, config: dict) -> Model:
        """A new model with the graph of :meth:`get_config` (fresh weights).

        Args:
            config: the dict :meth:`get_config` returned.

        Returns:
            The model.

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Input, Model
            >>> inputs = Input(shape=(5, 3))
            >>> model = Model(inputs, layers.Dense(2, name="d")(layers.LSTM(4, name="l")(inputs)))
            >>> copy = Model.from_config(model.get_config())
            >>> copy.output_shape, copy.count_params()
            ((None, 2), 138)
        """
        layers = [deserialize(spec) for spec in config["layers"]]
        inputs = [Input(shape=tuple(s["shape"]), name=s["name"]) for s in config["inputs"]]
        produced: list[list[SymbolicTensor]] = []

        def resolve(ref):
            if ref[0] == "input":
                return inputs[ref[1]]
            return produced[ref[1]][ref[2]]

        for spec in config["nodes"]:
            args = [resolve(r) for r in spec["inputs"]]
            states = [resolve(r) for r in spec["initial_state"]] or None
            out = call_symbolic(
                layers[spec["layer"]], args if spec["list_input"] else args[0], initial_state=states
            )
            produced.append(out if isinstance(out, list) else [out])
        outputs = [resolve(r) for r in config["outputs"]]
        return cls(
            inputs if config["multi_input"] else inputs[0],
            outputs if config["multi_output"] else outputs[0],
            name=config["name"],
        )

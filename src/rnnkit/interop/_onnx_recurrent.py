"""Recurrent layers as ONNX's own RNN / LSTM / GRU operators, masks included.

Weights: rnnkit keeps Keras's layouts, U (I, G·H), W (H, G·H), b; ONNX wants
W (D, G·H, I), R (D, G·H, H) and B (D, 2·G·H) = [input bias, recurrent bias], gates
stacked along the rows. LSTM gates go from Keras's i, f, c, o to ONNX's i, o, f, c; the
GRU's z, r, h is the same order in both, and rnnkit's reset-after GRU is ONNX's
``linear_before_reset=1`` with b (row 0 of Keras's (2, 3·H) bias) as the input bias and
b' (row 1) as the recurrent one; the ``reset_after=False`` GRU is
``linear_before_reset=0`` with its one (3·H,) bias as the input bias and a zero
recurrent one. ``layout=0`` (time-major), which every runtime takes.

Masks (Keras semantics: a masked step keeps the state). ONNX's ``sequence_lens`` only
describes right padding, and onnxruntime writes zeros at the padded steps where Keras
carries the state. So for a mask of any pattern (pre- or post-padding, or holes) the
graph

1. moves each sequence's kept steps to its front, in order (a TopK over the step
   index, kept steps keyed before masked ones), and runs the operator with
   ``sequence_lens`` = the number of kept steps: the states it passes through are
   exactly Keras's, since a masked step changes nothing;
2. for ``return_sequences``, reads back at every step t the state after the last kept
   step the layer has read by then: kept step ``cumsum(mask)[t] - 1`` reading forwards,
   ``cumsum(mask)[t] - mask[t]`` (the first kept step at or after t) backwards; the
   initial state where none has been read yet; zeros at masked steps with
   ``zero_output_for_mask``;
3. takes the final states from ``Y_h`` / ``Y_c`` (onnxruntime gives them at the last
   step of each sequence's length), or the initial states for a sequence whose steps are
   all masked (the operator runs it for one step, which is discarded).

Initial states are graph inputs with a zero default of shape (1, H), broadcast to the
batch, unless the model feeds them (``initial_state`` in a functional model); final
states are graph outputs: a caller can run a long sequence in chunks.
"""

from __future__ import annotations

import numpy as np

from ..cells import GRUCell, LSTMCell, SimpleRNNCell
from ._onnx_graph import GraphBuilder, activation_spec

# Keras gate blocks in ONNX order: LSTM i, o, f, c from Keras's i, f, c, o
_GATE_ORDER = {SimpleRNNCell: [0], LSTMCell: [0, 3, 1, 2], GRUCell: [0, 1, 2]}
_OP_TYPE = {SimpleRNNCell: "RNN", LSTMCell: "LSTM", GRUCell: "GRU"}


def op_config(layer) -> dict:
    """What the ONNX operator needs to know about one direction of ``layer``.

    Raises:
        ValueError: an option ONNX cannot express (an activation it lacks, a cell it
            has no operator for), naming the layer.
    """
    cell = layer.cell
    kind = type(cell)
    if kind not in _OP_TYPE:
        raise ValueError(
            f"ONNX export: layer {layer.name!r} uses the cell {kind.__name__}, which has no "
            f"ONNX operator; exportable cells: SimpleRNNCell, LSTMCell, GRUCell."
        )
    acts = []
    if kind is not SimpleRNNCell:
        where = f"the recurrent_activation of layer {layer.name!r}"
        acts.append(activation_spec(cell.recurrent_activation, where))
    acts.append(activation_spec(cell.activation, f"the activation of layer {layer.name!r}"))
    if kind is LSTMCell:
        acts.append(acts[-1])  # h_t = o_t ⊙ activation(C_t)
    config = {"op": _OP_TYPE[kind], "units": cell.units, "activations": acts}
    if kind is GRUCell:
        config["linear_before_reset"] = 1 if getattr(cell, "reset_after", True) else 0
    return config


def onnx_weights(cell) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W, R, B) of one direction, float32: (G·H, I), (G·H, H), (2·G·H,)."""
    h = cell.units
    order = _GATE_ORDER[type(cell)]
    gates = len(order)

    def rows(matrix):  # (in, G·H) Keras columns -> (G·H, in) ONNX rows, gates reordered
        blocks = np.asarray(matrix, np.float64).T.reshape(gates, h, -1)
        return blocks[order].reshape(gates * h, -1)

    w = rows(cell.params["kernel"])
    r = rows(cell.params["recurrent_kernel"])
    b_in = np.zeros(gates * h)
    b_rec = np.zeros(gates * h)
    if cell.use_bias:
        bias = np.asarray(cell.params["bias"], np.float64)
        if bias.ndim == 2:  # the reset-after GRU: input and recurrent biases
            b_in, b_rec = bias[0], bias[1]
        else:
            b_in = bias
        b_in = b_in.reshape(gates, h)[order].reshape(-1)
        b_rec = b_rec.reshape(gates, h)[order].reshape(-1)
    b = np.concatenate([b_in, b_rec])
    return w.astype(np.float32), r.astype(np.float32), b.astype(np.float32)


class _MaskIndex:
    """The index arithmetic of a mask (B, T), made once per recurrent operator."""

    def __init__(self, g: GraphBuilder, mask: str):
        tp = g.onnx.TensorProto
        self.g, self.mask = g, mask
        self.m = g.cast(mask, tp.INT64)  # (B, T)
        self.n = g.reduce("ReduceSum", self.m, [1])  # kept steps per sequence (B,)
        self.n_col = g.unsqueeze(self.n, [1])  # (B, 1)
        self._cum: str | None = None
        self._any: str | None = None

    @property
    def cum(self) -> str:
        """(B, T) int64: the kept steps up to and including each step."""
        if self._cum is None:
            self._cum = self.g.op("CumSum", [self.m, self.g.const(1, "int64")], "cumsum")
        return self._cum

    def compact(self, x: str) -> str:
        """``x`` (B, T, F) with each sequence's kept steps moved to its front, in order."""
        g, tp = self.g, self.g.onnx.TensorProto
        t1 = g.shape(x, 1, 2)  # [T]
        steps = g.op(
            "Range",
            [g.const(0, "int64"), g.squeeze(t1, [0]), g.const(1, "int64")],
            "steps",
        )
        keys = g.where(self.mask, steps, g.op("Add", [steps, t1]))  # masked steps last
        keys = g.cast(keys, tp.FLOAT)
        _, perm = g.op("TopK", [keys, t1], "order", n_out=2, axis=1, largest=0, sorted=1)
        return gather_steps(g, x, perm)

    def lengths(self) -> str:
        """sequence_lens (int32), at least 1 (an all-masked sequence runs one step whose
        results are replaced by the initial states)."""
        g = self.g
        return g.cast(g.op("Max", [self.n, g.const(1, "int64")]), g.onnx.TensorProto.INT32)

    def any_kept(self) -> str:
        """(B, 1) bool: the sequence keeps at least one step."""
        if self._any is None:
            self._any = self.g.op("Greater", [self.n_col, self.g.const(0, "int64")])
        return self._any


def gather_steps(g: GraphBuilder, x: str, index: str) -> str:
    """``x[b, index[b, t], :]`` for x (B, T, F) and index (B, T)."""
    idx = g.op("Expand", [g.unsqueeze(index, [2]), g.shape(x)])
    return g.op("GatherElements", [x, idx], "gathered", axis=1)


def emit(g: GraphBuilder, x: str, directions, mask, initial, want_sequences: bool):
    """One ONNX recurrent operator over the (B, T, F) input ``x``.

    Args:
        g: the graph.
        x: the input's value name.
        directions: [(layer, reverse)], one or two (one operator with
            ``direction="bidirectional"``; both must share the operator's settings).
        mask: a (B, T) bool value name, or None.
        initial: per direction, a list of (B, H) state value names, or None for the
            graph inputs with zero defaults.
        want_sequences: whether the per-step outputs are needed.
    Returns:
        Per direction, ``(sequence, states)``: the (B, T, H) outputs aligned with the
        input's steps (step t: the state after the layer has read step t) or None, and
        the list of final (B, H) states (h, and c for the LSTM).
    """
    tp = g.onnx.TensorProto
    configs = [op_config(layer) for layer, _ in directions]
    first = configs[0]
    units = first["units"]
    state_names = directions[0][0].cell.state_names
    batch = g.shape(x, 0, 1)
    state_shape = g.op("Concat", [batch, g.const([units], "int64")], "state_shape", axis=0)

    h0 = []  # per direction, the (B, H) initial states
    for (layer, _), given in zip(directions, initial):
        if given is not None:
            h0.append(list(given))
            continue
        states = []
        for s in state_names:
            name = g.fresh(f"{layer.name}/initial_{s}")
            g.add_input(name, tp.FLOAT, [f"{name}_batch", units], np.zeros((1, units), np.float32))
            states.append(g.op("Expand", [name, state_shape], f"{layer.name}_{s}0"))
        h0.append(states)

    weights = []
    for layer, _ in directions:
        weights.append(onnx_weights(layer.cell))
    key = tuple(id(layer) for layer, _ in directions)
    hint = directions[0][0].name
    w = g.weight(key + ("W",), lambda: np.stack([wt[0] for wt in weights]), f"{hint}_W")
    r = g.weight(key + ("R",), lambda: np.stack([wt[1] for wt in weights]), f"{hint}_R")
    b = g.weight(key + ("B",), lambda: np.stack([wt[2] for wt in weights]), f"{hint}_B")

    index = None
    xs = x
    lens = ""
    if mask is not None:
        index = _MaskIndex(g, mask)
        xs = index.compact(x)
        lens = index.lengths()
    x_tbf = g.transpose(xs, [1, 0, 2])

    inputs = [x_tbf, w, r, b, lens]
    for k in range(len(state_names)):
        stacked = [g.unsqueeze(h0[d][k], [0]) for d in range(len(directions))]
        inputs.append(stacked[0] if len(stacked) == 1 else g.op("Concat", stacked, axis=0))
    if len(directions) == 2:
        direction = "bidirectional"
    else:
        direction = "reverse" if directions[0][1] else "forward"
    acts = [a for c in configs for a in c["activations"]]
    attrs = {
        "hidden_size": units,
        "direction": direction,
        "activations": [a[0] for a in acts],
        "layout": 0,
    }
    # onnxruntime gives each activation that takes parameters the next alpha (beta)
    alphas = [a[1] for a in acts if a[1] is not None]
    betas = [a[2] for a in acts if a[2] is not None]
    if alphas:
        attrs["activation_alpha"] = alphas
        attrs["activation_beta"] = betas
    if "linear_before_reset" in first:
        attrs["linear_before_reset"] = first["linear_before_reset"]
    y = g.fresh(f"{hint}_Y") if want_sequences else ""
    finals = [g.fresh(f"{hint}_Y_{s}") for s in state_names]
    g.node(first["op"], inputs, [y] + finals, **attrs)

    results = []
    for d, (layer, reverse) in enumerate(directions):
        states = []
        for k, final in enumerate(finals):
            s = g.gather(final, d, 0)
            if index is not None:
                s = g.where(index.any_kept(), s, h0[d][k])
            states.append(s)
            out = g.fresh(f"{layer.name}/final_{state_names[k]}")
            g.add_output(s, out, tp.FLOAT, [f"{out}_batch", units])
        sequence = None
        if want_sequences:
            sequence = g.transpose(g.gather(y, d, 1), [1, 0, 2])  # (B, T, H)
            if index is not None:
                sequence = _carried(g, sequence, index, reverse, h0[d][0])
                if layer.zero_output_for_mask:
                    zero = g.const(0.0)
                    sequence = g.where(g.unsqueeze(mask, [2]), sequence, zero)
        results.append((sequence, states))
    return results


def _carried(g: GraphBuilder, y_compact: str, index: _MaskIndex, reverse: bool, h0: str) -> str:
    """Keras's output at every step, from the outputs over the kept steps only."""
    if reverse:  # the first kept step at or after t, if any
        position = g.op("Sub", [index.cum, index.m])
        read = g.op("Less", [position, index.n_col])
        last = g.op("Max", [g.op("Sub", [index.n_col, g.const(1, "int64")]), g.const(0, "int64")])
        position = g.op("Min", [position, last])
    else:  # the last kept step at or before t, if any
        read = g.op("Greater", [index.cum, g.const(0, "int64")])
        position = g.op("Max", [g.op("Sub", [index.cum, g.const(1, "int64")]), g.const(0, "int64")])
    picked = gather_steps(g, y_compact, position)
    return g.where(g.unsqueeze(read, [2]), picked, g.unsqueeze(h0, [1]))

"""A small builder of ONNX graphs: unique value names, constants, and one method per
operator pattern that the exporter uses (``rnnkit.interop.onnx``).

Values are named strings, as in ONNX itself; every method returns the name of the
value it makes. Everything is float32 (the exported model's dtype), int64 (shapes,
indices, token ids) or bool (masks).
"""

from __future__ import annotations

import numpy as np

INT64_MIN = int(np.iinfo(np.int64).min)


class GraphBuilder:
    """Collects the nodes, initializers, inputs and outputs of one ONNX graph.

    Args:
        onnx: the imported ``onnx`` package (an optional dependency, imported once by
            the caller).
    """

    def __init__(self, onnx):
        self.onnx = onnx
        self.helper = onnx.helper
        self.nodes: list = []
        self.initializers: list = []
        self.inputs: list = []
        self.outputs: list = []
        self._used: set[str] = set()
        self._consts: dict = {}
        self._weights: dict = {}

    # ---- names ---------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        """A value name not used yet, made from ``hint``."""
        name, k = hint, 1
        while name in self._used:
            name = f"{hint}_{k}"
            k += 1
        self._used.add(name)
        return name

    def reserve(self, name: str) -> str:
        """Claim ``name`` exactly (a graph input or output the caller names)."""
        if name in self._used:
            raise ValueError(f"ONNX export: the value name {name!r} is taken twice.")
        self._used.add(name)
        return name

    # ---- constants and weights ---------------------------------------------------
    def const(self, value, dtype="float32") -> str:
        """A small constant (shared between uses of the same value)."""
        arr = np.asarray(value, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        name = self._consts.get(key)
        if name is None:
            name = self._consts[key] = self.fresh("const")
            self.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def weight(self, key, make, hint: str) -> str:
        """An initializer made once per ``key`` by ``make()`` (a layer called twice in
        a functional model shares its weights in the graph too)."""
        name = self._weights.get(key)
        if name is None:
            arr = np.ascontiguousarray(make())
            name = self._weights[key] = self.fresh(hint)
            self.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def add_input(self, name: str, elem_type, dims, default=None) -> str:
        """A graph input; with ``default`` (an array) it may be omitted at run time
        (an initializer of the same name is its value then)."""
        self.inputs.append(self.helper.make_tensor_value_info(name, elem_type, dims))
        if default is not None:
            self.initializers.append(self.onnx.numpy_helper.from_array(default, name))
        return name

    def add_output(self, value: str, name: str, elem_type, dims) -> None:
        """Expose ``value`` as the graph output ``name`` (through an Identity)."""
        self.nodes.append(self.helper.make_node("Identity", [value], [name], name=name))
        self.outputs.append(self.helper.make_tensor_value_info(name, elem_type, dims))

    # ---- nodes -------------------------------------------------------------------
    def op(self, op_type: str, inputs, hint: str | None = None, n_out: int = 1, **attrs):
        """One node; returns its output name, or a list of ``n_out`` names. An output
        hint of ``""`` in ``n_out`` form is left unnamed (an optional output)."""
        base = hint or op_type.lower()
        outs = [self.fresh(base if k == 0 else f"{base}_out{k}") for k in range(n_out)]
        self.nodes.append(
            self.helper.make_node(
                op_type, list(inputs), outs, name=self.fresh(base + "_node"), **attrs
            )
        )
        return outs[0] if n_out == 1 else outs

    def node(self, op_type: str, inputs, outputs, **attrs) -> None:
        """A node whose outputs the caller names (empty names: outputs not wanted)."""
        self.nodes.append(
            self.helper.make_node(
                op_type,
                list(inputs),
                list(outputs),
                name=self.fresh(op_type.lower() + "_node"),
                **attrs,
            )
        )

    # ---- patterns ----------------------------------------------------------------
    def shape(self, x: str, start: int | None = None, end: int | None = None) -> str:
        attrs = {}
        if start is not None:
            attrs["start"] = start
        if end is not None:
            attrs["end"] = end
        return self.op("Shape", [x], "shape", **attrs)

    def unsqueeze(self, x: str, axes) -> str:
        return self.op("Unsqueeze", [x, self.const(list(axes), "int64")], "unsqueeze")

    def squeeze(self, x: str, axes) -> str:
        return self.op("Squeeze", [x, self.const(list(axes), "int64")], "squeeze")

    def transpose(self, x: str, perm) -> str:
        return self.op("Transpose", [x], "transpose", perm=list(perm))

    def gather(self, x: str, index: int, axis: int) -> str:
        """``x`` at one position of ``axis`` (the axis dropped)."""
        return self.op("Gather", [x, self.const(index, "int64")], "gather", axis=axis)

    def reverse(self, x: str, axis: int) -> str:
        """``x`` with ``axis`` read backwards (a Slice with step -1)."""
        return self.op(
            "Slice",
            [
                x,
                self.const([-1], "int64"),
                self.const([INT64_MIN], "int64"),
                self.const([axis], "int64"),
                self.const([-1], "int64"),
            ],
            "reverse",
        )

    def cast(self, x: str, to) -> str:
        return self.op("Cast", [x], "cast", to=to)

    def where(self, cond: str, a: str, b: str) -> str:
        return self.op("Where", [cond, a, b], "where")

    def reduce(self, op_type: str, x: str, axes, keepdims: int = 0) -> str:
        return self.op(
            op_type, [x, self.const(list(axes), "int64")], op_type.lower(), keepdims=keepdims
        )


# ---- activations -------------------------------------------------------------------
_PROBE = np.linspace(-8.0, 8.0, 161)


def activation_spec(activation, where: str) -> tuple[str, float | None, float | None]:
    """The ONNX name (and alpha, beta) of an rnnkit activation, as the RNN / LSTM / GRU
    operators' ``activations`` attribute spells it: ``Tanh``, ``Sigmoid``, ``Relu``,
    ``Affine`` (linear: alpha 1, beta 0) or ``HardSigmoid`` (its slope and offset read
    from the function itself, so either definition of hard_sigmoid exports as it
    computes). Checked on a grid of inputs against the formula it maps to.

    Raises:
        ValueError: an activation ONNX lacks, naming ``where`` (the layer and argument).
    """
    name = getattr(activation, "name", None)
    spec: tuple[str, float | None, float | None]
    if name == "hard_sigmoid":
        y0 = float(activation(np.array([0.0]))[0])
        alpha = float(activation(np.array([0.5]))[0]) - y0
        alpha, beta = alpha / 0.5, y0
        spec = ("HardSigmoid", alpha, beta)
        reference = np.clip(alpha * _PROBE + beta, 0.0, 1.0)
    else:
        formulas: dict[str, tuple] = {
            "tanh": (("Tanh", None, None), np.tanh),
            "sigmoid": (("Sigmoid", None, None), lambda z: 1.0 / (1.0 + np.exp(-z))),
            "relu": (("Relu", None, None), lambda z: np.maximum(z, 0.0)),
            "linear": (("Affine", 1.0, 0.0), lambda z: z),
        }
        if name not in formulas:
            raise ValueError(
                f"ONNX export: {where} is {name!r}, which the ONNX recurrent operators lack; "
                f"exportable: tanh, sigmoid, relu, linear, hard_sigmoid."
            )
        spec, formula = formulas[name]
        reference = formula(_PROBE)
    got = np.asarray(activation(_PROBE.copy()), dtype=np.float64)
    if not np.allclose(got, reference, rtol=1e-6, atol=1e-7):
        raise ValueError(
            f"ONNX export: {where} is named {name!r} but does not compute the function of "
            f"that name, so no ONNX activation reproduces it."
        )
    return spec

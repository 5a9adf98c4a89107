"""The recurrent layers' public signatures: every Keras argument listed by name, with
its default stated in the docstring, and accepted by the layer."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

from rnnkit.layers import GRU, LSTM, SimpleRNN

COMMON = [
    "units", "activation", "use_bias", "kernel_initializer", "recurrent_initializer",
    "bias_initializer", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
    "activity_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint",
    "dropout", "recurrent_dropout", "seed", "return_sequences", "return_state",
    "go_backwards", "stateful", "unroll", "use_cudnn",
]  # fmt: skip
KERAS_ARGS = {
    SimpleRNN: COMMON,
    LSTM: COMMON + ["recurrent_activation", "unit_forget_bias"],
    GRU: COMMON + ["recurrent_activation", "reset_after"],
}


def _doc_entry(doc: str, name: str) -> str:
    """The Args entry of ``name`` (its own, or a shared ``a, b, c:`` one)."""
    lines, entry = doc.splitlines(), None
    for line in lines:
        head = re.match(r"^ {8}(\w[\w, *]*):", line)
        if head:
            if entry is not None:
                break
            if name in [n.strip() for n in head.group(1).split(",")]:
                entry = [line]
        elif entry is not None:
            entry.append(line)
    assert entry is not None, f"{name} is not documented"
    return " ".join(entry)


@pytest.mark.parametrize("cls", list(KERAS_ARGS), ids=lambda c: c.__name__)
def test_every_keras_argument_is_explicit_and_documented(cls):
    params = inspect.signature(cls.__init__).parameters
    for name in KERAS_ARGS[cls]:
        assert name in params, name
        assert params[name].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, name
        entry = " ".join(_doc_entry(cls.__doc__, name).split())
        default = params[name].default
        if name == "units":
            assert default is inspect.Parameter.empty
        elif isinstance(default, str):
            assert f'Default ``"{default}"``' in entry, (name, entry)
        elif isinstance(default, float):
            assert f"Default {default:g}" in entry, (name, entry)
        else:
            assert f"Default {default}" in entry, (name, entry)


@pytest.mark.parametrize("cls", list(KERAS_ARGS), ids=lambda c: c.__name__)
def test_the_arguments_reach_the_layer(cls):
    layer = cls(
        3,
        use_bias=False,
        kernel_initializer="zeros",
        recurrent_initializer="zeros",
        kernel_regularizer="l2",
        dropout=0.25,
        recurrent_dropout=0.5,
        seed=5,
        return_sequences=True,
        return_state=True,
        go_backwards=True,
        unroll=True,
        use_cudnn=False,
    )
    assert not layer.cell.use_bias and layer.go_backwards and layer.return_state
    assert layer.dropout == 0.25 and layer.recurrent_dropout == 0.5 and layer.seed == 5
    assert "kernel" in layer.weight_regularizers
    out = layer(np.ones((2, 4, 2), np.float32))
    assert out[0].shape == (2, 4, 3) and not out[0].any()  # zero weights, no bias
    again = cls(3, seed=5)
    again.ensure_built((None, 2))
    twin = cls(3, seed=5)
    twin.ensure_built((None, 2))
    for a, b in zip(again.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)

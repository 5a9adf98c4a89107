"""Layers that wrap another layer: Bidirectional and TimeDistributed."""

from __future__ import annotations

import numpy as np

from ..utils import validation
from .base import Layer
from .recurrent import RNN

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges them.

    Args:
        layer: an :class:`RNN` (SimpleRNN, LSTM, GRU); it becomes the forward layer.
        merge_mode: ``"concat"`` (default), ``"sum"``, ``"mul"``, ``"ave"`` or None
            (return both outputs as a list).
        backward_layer: optional explicit backward layer; by default a copy of
            ``layer``'s config with ``go_backwards`` flipped (fresh weights).

    With ``return_sequences`` the backward layer's outputs are flipped back so that
    position t of both halves describes input step t.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> layers.Bidirectional(layers.LSTM(3))(np.ones((2, 5, 4), np.float32)).shape
        (2, 6)
    """

    supports_masking = True

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        if not isinstance(layer, RNN):
            raise ValueError(
                "Received an invalid value for argument layer, expected a recurrent "
                f"layer (SimpleRNN, LSTM, GRU), got {layer!r}."
            )
        if merge_mode not in _MERGE_MODES:
            raise ValueError(
                f"Received an invalid value for argument merge_mode, expected one of "
                f"{_MERGE_MODES}, got {merge_mode!r}."
            )
        if "input_shape" not in kwargs and layer.input_shape_arg is not None:
            kwargs["input_shape"] = layer.input_shape_arg
        super().__init__(**kwargs)
        self.forward_layer = layer
        if backward_layer is None:
            config = layer.get_config()
            config["name"] = "backward_" + layer.name
            config["go_backwards"] = not layer.go_backwards
            config.pop("input_shape", None)
            backward_layer = type(layer).from_config(config)
        self.backward_layer = backward_layer
        self.forward_layer.name = "forward_" + layer.name
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state

    def build(self, input_shape):
        self.forward_layer.ensure_built(input_shape)
        self.backward_layer.ensure_built(input_shape)
        super().build(input_shape)

    def check_input(self, x):
        return self.forward_layer.check_input(x)

    def compute_output_shape(self, input_shape):
        out = self.forward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:
            out, *states = out
            states = states + states
        if self.merge_mode == "concat":
            out = tuple(out[:-1]) + (2 * out[-1],)
        elif self.merge_mode is None:
            out = [out, out]
        return [out] + states if self.return_state else out

    def compute_mask(self, x, mask):
        return mask if self.return_sequences else None

    def forward(self, x, training=False, mask=None, initial_state=None):
        fwd_init = bwd_init = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fwd_init, bwd_init = initial_state[:half], initial_state[half:]
        yf = self.forward_layer.forward(x, training=training, mask=mask, initial_state=fwd_init)
        yb = self.backward_layer.forward(x, training=training, mask=mask, initial_state=bwd_init)
        states = []
        if self.return_state:
            yf, *sf = yf
            yb, *sb = yb
            states = sf + sb
        if self.return_sequences:
            yb = yb[:, ::-1]
        # only "mul" reads the halves in backward: otherwise they are not kept (each
        # is as large as the layer's input sequence)
        self._yf, self._yb = (yf, yb) if self.merge_mode == "mul" else (None, None)
        if self.merge_mode == "concat":
            out = np.concatenate([yf, yb], axis=-1)
        elif self.merge_mode == "sum":
            out = yf + yb
        elif self.merge_mode == "mul":
            out = yf * yb
        elif self.merge_mode == "ave":
            out = (yf + yb) / 2
        else:
            out = [yf, yb]
        return [out] + states if self.return_state else out

    def backward(self, dy):
        d_states = []
        if self.return_state:
            dy, *d_states = dy
        n = len(d_states) // 2
        u = self.forward_layer.units
        if self.merge_mode == "concat":
            dyf, dyb = dy[..., :u], dy[..., u:]
        elif self.merge_mode == "sum":
            dyf, dyb = dy, dy
        elif self.merge_mode == "mul":
            dyf, dyb = dy * self._yb, dy * self._yf
        elif self.merge_mode == "ave":
            dyf = dyb = dy / 2
        else:
            dyf, dyb = dy
        if self.return_sequences:
            dyb = dyb[:, ::-1]
        if self.return_state:
            dyf = [dyf] + list(d_states[:n])
            dyb = [dyb] + list(d_states[n:])
        needed = self.input_grad_needed
        self.forward_layer.input_grad_needed = self.backward_layer.input_grad_needed = needed
        try:
            dxf = self.forward_layer.backward(dyf)
            dxb = self.backward_layer.backward(dyb)
        finally:
            self.forward_layer.input_grad_needed = self.backward_layer.input_grad_needed = True
        if not needed:
            return None
        if dxb.dtype != dxf.dtype:  # (layers of different dtypes)
            return dxf + dxb
        dxf += dxb  # dxf is a new array: the sum goes into it
        return dxf

    def weights(self):
        return [(f"forward/{n}", w) for n, w in self.forward_layer.weights()] + [
            (f"backward/{n}", w) for n, w in self.backward_layer.weights()
        ]

    def gradients(self):
        return self.forward_layer.gradients() + self.backward_layer.gradients()

    def reset_states(self, states=None):
        """Reset both directions' states (stateful layers): to zeros, or to ``states``,
        the forward layer's states followed by the backward layer's (as
        ``return_state`` returns them). All or nothing: a refused backward half leaves
        the forward layer as it was."""
        if states is None:
            self.forward_layer.reset_states()
            self.backward_layer.reset_states()
            return
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        n = self.forward_layer.cell.state_size
        if len(states) != 2 * n:
            raise ValueError(
                f"Layer {self.name!r} expects {2 * n} states (the forward layer's {n}, then "
                f"the backward layer's), got {len(states)}."
            )
        before = self.forward_layer.states
        self.forward_layer.reset_states(states[:n])
        try:
            self.backward_layer.reset_states(states[n:])
        except Exception:
            self.forward_layer.states = before
            raise

    def get_config(self):
        config = super().get_config()
        config.update(
            merge_mode=self.merge_mode,
            layer={
                "class_name": type(self.forward_layer).__name__,
                "config": self.forward_layer.get_config(),
            },
        )
        return config

    @classmethod
    def from_config(cls, config):
        from . import deserialize

        config = dict(config)
        inner = config.pop("layer")
        inner_cfg = dict(inner["config"])
        inner_cfg["name"] = inner_cfg["name"].removeprefix("forward_")
        return cls(deserialize({"class_name": inner["class_name"], "config": inner_cfg}), **config)


class TimeDistributed(Layer):
    """Applies a layer to every time step: (batch, time, ...) -> (batch, time, ...).

    The wrapped layer sees batch·time samples; its weights are shared across steps.

    Args:
        layer: the layer applied at each step.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> layers.TimeDistributed(layers.Dense(5))(np.ones((2, 3, 4), np.float32)).shape
        (2, 3, 5)
    """

    supports_masking = True

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(
                f"Received an invalid value for argument layer, expected an rnnkit layer, "
                f"got {layer!r}."
            )
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(
                f"Input to layer {self.name!r} must be at least 3-D (batch, time, ...), got "
                f"a sample shape of {tuple(input_shape)}."
            )
        self.layer.ensure_built(tuple(input_shape[1:]))
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(self.layer.compute_output_shape(tuple(input_shape[1:])))

    def check_input(self, x):
        if hasattr(self.layer, "check_ids"):  # an Embedding inside: ids as they are
            return self.layer.check_ids(validation.as_array(x, f"layer {self.name!r}"))
        return super().check_input(x)

    def forward(self, x, training=False, mask=None):
        b, t = x.shape[:2]
        self._bt = (b, t)
        y = self.layer.forward(x.reshape((b * t,) + x.shape[2:]), training=training)
        return y.reshape((b, t) + y.shape[1:])

    def backward(self, dy):
        b, t = dy.shape[:2]
        dx = self.layer.backward(dy.reshape((b * t,) + dy.shape[2:]))
        return None if dx is None else dx.reshape((b, t) + dx.shape[1:])

    def backward_logits(self, dz):
        b, t = dz.shape[:2]
        dx = self.layer.backward_logits(dz.reshape((b * t,) + dz.shape[2:]))
        return dx.reshape((b, t) + dx.shape[1:])

    @property
    def logits(self):
        z = self.layer.logits
        return z.reshape(self._bt + z.shape[1:])

    @property
    def activation(self):
        return getattr(self.layer, "activation", None)

    def weights(self):
        return self.layer.weights()

    def gradients(self):
        return self.layer.gradients()

    def get_config(self):
        config = super().get_config()
        config["layer"] = {
            "class_name": type(self.layer).__name__,
            "config": self.layer.get_config(),
        }
        return config

    @classmethod
    def from_config(cls, config):
        from . import deserialize

        config = dict(config)
        return cls(deserialize(config.pop("layer")), **config)

"""Sequential: a stack of layers, and the one training loop.

The data flow of a training step (see ENGINEERING.md):
forward through the layers with their masks → loss and dL/dy (fused with a final
softmax / sigmoid when the loss allows it) → backward through the layers in reverse
(recurrent layers run BPTT) → gradient clipping → optimizer update in place.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings

import numpy as np
from tqdm.auto import tqdm

from .. import backend, losses, optimizers
from .. import metrics as metrics_mod
from ..callbacks import Callback, History
from ..layers import Embedding, Layer, TiedDense
from ..layers.recurrent import RNN
from ..utils import validation


class Sequential:
    """A linear stack of layers with Keras's API: each layer's output is the next
    one's input.

    Args:
        layers: the layers to :meth:`add`, in order (default None: an empty model);
            an ``Input(shape)`` first sets the input shape.
        name: the model's name (default None: ``sequential``, ``sequential_1``, ...).

    Raises:
        TypeError, ValueError: as :meth:`add`, for any of ``layers``.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential
        >>> model = Sequential()
        >>> model.add(layers.SimpleRNN(8, input_shape=(6, 1)))
        >>> model.add(layers.Dense(3, activation="softmax"))
        >>> model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
        ...               metrics=["accuracy"])
        >>> x = np.random.default_rng(0).normal(size=(20, 6, 1))
        >>> y = np.arange(20) % 3
        >>> history = model.fit(x, y, epochs=2, batch_size=5, verbose=0)
        >>> sorted(history.history), model.predict(x).shape
        (['accuracy', 'loss'], (20, 3))
    """

    # Data-parallel training (rnnkit.distributed.mpi sets it): splits each global batch
    # into this process's rows, and makes loss, gradients and epoch totals the mean over
    # all processes before the update. None: one process.
    gradient_reducer = None

    def __init__(self, layers=None, name: str | None = None):
        self.name = name or backend.unique_name("sequential")
        self.layers: list[Layer] = []
        self.rng = backend.child_rng()
        self.optimizer = None
        self.loss = None
        self.metric_fns: list = []
        self.stop_training = False
        self.history = None
        self._input_shape: tuple | None = None
        # the symbolic graph of a built model (model.inputs, layer.output, ...)
        self._input_layer = None
        self._graph_nodes: list = []
        self.inputs: list | None = None
        self.outputs: list | None = None
        for layer in layers or []:
            self.add(layer)

    # ---- building ---------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append a layer. The first may declare ``input_shape``, or the model may start
        with ``Input(shape)`` / an ``InputLayer``, which sets the input shape and, as in
        Keras 3, is not listed in ``model.layers``. Once the input shape is known,
        the layer is built.

        Args:
            layer: an rnnkit layer, an ``Input(...)`` tensor or an ``InputLayer``.

        Raises:
            TypeError: not an rnnkit layer (or Input).
            ValueError: a duplicate layer name, an Input after the first layer, a layer
                with ``return_state=True``.

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((None, 3))])
            >>> model.add(layers.LSTM(4))
            >>> model.output_shape
            (None, 4)
        """
        from ..layers.input_layer import InputLayer
        from .functional import SymbolicTensor

        if isinstance(layer, SymbolicTensor) and layer.input_layer is not None:
            layer = layer.input_layer
        if isinstance(layer, InputLayer):
            if self.layers or self._input_layer is not None:
                raise ValueError(
                    f"Model {self.name!r}: an Input can only come first, before any layer."
                )
            self._input_layer = layer
            self._build_sample(layer.sample_shape)
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects an rnnkit layer, got {type(layer).__name__}.")
        if any(existing.name == layer.name for existing in self.layers):
            raise ValueError(f"A layer named {layer.name!r} is already in model {self.name!r}.")
        self.layers.append(layer)
        if len(self.layers) == 1 and layer.input_shape_arg is not None and not self.built:
            self._build_sample(layer.input_shape_arg)
        elif self._input_shape is not None:
            shape = self._input_shape
            for existing in self.layers[:-1]:
                shape = existing.compute_output_shape(shape)
            self._check_single_output(layer, shape)
            layer.ensure_built(shape)
            self._rebuild_graph()

    @property
    def built(self) -> bool:
        """Whether the input shape is known and the layers built.

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Dense(2)])
            >>> model.built, Sequential([layers.Input((3,)), layers.Dense(2)]).built
            (False, True)
        """
        return self._input_shape is not None

    def build(self, input_shape) -> None:
        """Build every layer for inputs of ``input_shape``, batch axis first as in Keras:
        ``model.build((None, time_steps, features))``.

        A shape of one entry is read as one sample's shape (rnnkit's older form), since
        no layer takes a batch of scalars: ``build((None,))`` builds a model of token
        ids of any length.

        Args:
            input_shape: the input shape, batch axis first (its size is ignored).

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.GRU(4), layers.Dense(1)])
            >>> model.build((None, 10, 3))
            >>> model.input_shape, model.count_params()
            ((None, 10, 3), 113)
        """
        shape = tuple(input_shape)
        self._build_sample(shape[1:] if len(shape) > 1 else shape)

    def _build_sample(self, sample_shape) -> None:
        """Build every layer for samples of ``sample_shape`` (no batch axis)."""
        shape = tuple(sample_shape)
        self._input_shape = shape
        for layer in self.layers:
            self._check_single_output(layer, shape)
            layer.ensure_built(shape)
            shape = layer.compute_output_shape(shape)
        self._rebuild_graph()

    def _rebuild_graph(self) -> None:
        """The symbolic graph of this stack (``model.inputs``, ``layer.output``…), so a
        new Model can be cut from it, e.g. ``Model(model.input, model.layers[1].output)``."""
        from ..layers.input_layer import InputLayer
        from .functional import call_symbolic

        for node in self._graph_nodes:
            calls = vars(node.layer).get("_inbound_nodes", [])
            if node in calls:
                calls.remove(node)
        self._graph_nodes = []
        if self._input_layer is None or self._input_layer.sample_shape != self._input_shape:
            self._input_layer = InputLayer(shape=self._input_shape)
        tensor = self._input_layer.output_tensor
        self.inputs = [tensor]
        for layer in self.layers:
            tensor = call_symbolic(layer, tensor)
            self._graph_nodes.append(tensor.node)
        self.outputs = [tensor]

    def regularization_loss(self) -> float:
        """The sum of the layers' penalties (weight and activity regularizers) that
        training adds to the loss; 0.0 without regularizers.

        Returns:
            The penalty, a float.

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((3,)), layers.Dense(2)])
            >>> model.regularization_loss()
            0.0
        """
        return float(sum(layer.regularization_loss() for layer in self.layers))

    def apply_constraints(self) -> None:
        """Project the constrained weights of every layer (after an optimizer step).

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> dense = layers.Dense(2, kernel_constraint="non_neg")
            >>> model = Sequential([layers.Input((3,)), dense])
            >>> model.set_weights([-np.ones((3, 2)), np.zeros(2)])
            >>> model.apply_constraints()
            >>> bool((model.get_weights()[0] >= 0).all())
            True
        """
        for layer in self.layers:
            layer.apply_constraints()

    @property
    def input(self):
        """The model's input tensor (a list for several), for building new models.

        Raises:
            AttributeError: the model is not built yet.

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Model, Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.LSTM(4), layers.Dense(1)])
            >>> Model(model.input, model.layers[0].output).output_shape
            (None, 4)
        """
        if self.inputs is None:
            raise AttributeError(
                f"Model {self.name!r} is not built yet and thus has no defined input."
            )
        return (
            self.inputs[0]
            if len(self.inputs) == 1 and not getattr(self, "_multi_in", False)
            else list(self.inputs)
        )

    @property
    def output(self):
        """The model's output tensor (a list for several).

        Raises:
            AttributeError: the model is not built yet.

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> Sequential([layers.Input((5, 3)), layers.LSTM(4)]).output.shape
            (None, 4)
        """
        if self.outputs is None:
            raise AttributeError(
                f"Model {self.name!r} is not built yet and thus has no defined output."
            )
        return (
            self.outputs[0]
            if len(self.outputs) == 1 and not getattr(self, "_multi_out", False)
            else list(self.outputs)
        )

    @property
    def input_shape(self):
        """The input shape with the batch axis, as Keras reports it.

        Raises:
            AttributeError: the model is not built yet.

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> Sequential([layers.Input((None, 3)), layers.GRU(4)]).input_shape
            (None, None, 3)
        """
        if not self.built:
            raise AttributeError(f"Model {self.name!r} is not built yet.")
        return (None,) + tuple(self._input_shape)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by its name or by its index in ``model.layers``, as Keras.

        Args:
            name: the layer's name (default None).
            index: its index in ``model.layers``, negative from the end (default
                None).

        Returns:
            The layer.

        Raises:
            ValueError: no such layer, or neither / both of name and index.

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((3,)), layers.Dense(2, name="hidden"),
            ...                     layers.Dense(1)])
            >>> model.get_layer("hidden") is model.get_layer(index=0)
            True
        """
        if (name is None) == (index is None):
            raise ValueError("get_layer needs exactly one of name and index.")
        if index is not None:
            if not -len(self.layers) <= int(index) < len(self.layers):
                raise ValueError(
                    f"Model {self.name!r} has {len(self.layers)} layers; got index {index}."
                )
            return self.layers[int(index)]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"No layer named {name!r} in model {self.name!r}; it has "
            f"{[l.name for l in self.layers]}."
        )

    def _check_single_output(self, layer, shape):
        if getattr(layer, "return_state", False):
            raise ValueError(
                f"Layer {layer.name!r} has return_state=True, which returns several arrays; "
                f"a Sequential model passes one array between layers."
            )

    @property
    def output_shape(self) -> tuple:
        """The output shape with the batch axis.

        Raises:
            ValueError: the model is not built yet.

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((7, 3)), layers.GRU(4, return_sequences=True)])
            >>> model.output_shape
            (None, 7, 4)
        """
        if not self.built:
            raise ValueError(f"Model {self.name!r} is not built yet.")
        shape = self._input_shape
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
        return (None,) + tuple(shape)

    # ---- weights ----------------------------------------------------------------
    def weights(self) -> list[tuple[str, np.ndarray]]:
        """Every weight, as ``(layer name/weight name, array)`` pairs; the arrays are
        the model's own, not copies.

        Returns:
            The list of pairs.

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((3,)), layers.Dense(2, name="d")])
            >>> tuple(name for name, _ in model.weights())
            ('d/kernel', 'd/bias')
        """
        return [(f"{l.name}/{n}", w) for l in self.layers for n, w in l.weights()]

    def trainable_weights(self):
        """The trainable weights, as :meth:`weights` lists them.

        Returns:
            The list of ``(name, array)`` pairs.

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((3,)), layers.Dense(2, name="d")])
            >>> model.layers[0].trainable = False
            >>> model.trainable_weights()
            []
        """
        return [(f"{l.name}/{n}", w) for l in self.layers for n, w in l.trainable_weights()]

    def gradients(self) -> list[np.ndarray]:
        """The gradients of the last backward pass, one per trainable weight, in
        :meth:`trainable_weights`'s order.

        Returns:
            The list of arrays (the layers' own).

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> model.compile("sgd", "mse")
            >>> _ = model.train_on_batch(np.ones((2, 5, 3)), np.ones((2, 1)))
            >>> len(model.gradients()) == len(model.trainable_weights())
            True
        """
        return [g for l in self.layers if l.trainable for g in l.gradients()]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every weight array, layer by layer, as :meth:`set_weights` takes.

        Returns:
            A list of arrays.

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> tuple(w.shape for w in model.get_weights())
            ((3, 4), (4, 4), (4,), (4, 1), (1,))
        """
        return [w.copy() for _, w in self.weights()]

    def set_weights(self, weights) -> None:
        """Assign every weight array, in :meth:`get_weights`'s order. Every array is
        checked before any is assigned, so a refused call leaves the model as it was.

        Args:
            weights: a sequence of arrays, one per weight.

        Raises:
            ValueError: the wrong number of arrays, or an array of the wrong shape.

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> model.set_weights([np.zeros_like(w) for w in model.get_weights()])
            >>> float(model.predict(np.ones((1, 5, 3)))[0, 0])
            0.0
        """
        weights = list(weights)
        expected = sum(len(l.weights()) for l in self.layers)
        if len(weights) != expected:
            raise ValueError(
                f"Model {self.name!r} expects {expected} weight arrays, got {len(weights)}."
            )
        # every layer's arrays are checked before any is assigned: a refused call
        # leaves the model as it was
        checked, i = [], 0
        for layer in self.layers:
            n = len(layer.weights())
            checked.append(layer.check_weights(weights[i : i + n]))
            i += n
        for layer, arrays in zip(self.layers, checked):
            layer.set_weights(arrays)

    def count_params(self) -> int:
        """The number of weights (scalars) of all layers, trainable or not.

        Returns:
            An int.

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> model.count_params()  # 3*4 + 4*4 + 4, then 4 + 1
            37
        """
        return sum(l.count_params() for l in self.layers)

    def reset_states(self) -> None:
        """Forget the carried states of every stateful recurrent layer.

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3), batch_size=2),
            ...                     layers.LSTM(4, stateful=True)])
            >>> model.reset_states()
        """
        for layer in self.layers:
            if hasattr(layer, "reset_states"):
                layer.reset_states()

    # ---- compile ----------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None) -> None:
        """Choose the optimizer, the loss and the metrics, by name or instance.

        Args:
            optimizer: ``"adam"``, ``"sgd"``, ``"rmsprop"``, ``"adagrad"`` or an
                instance (default ``"rmsprop"``, as Keras).
            loss: a loss name or instance; required (default None is refused).
            metrics: a list of metric names or functions, or one of them (default
                None: none); ``"accuracy"`` resolves by the loss, as Keras.

        Raises:
            ValueError: ``loss`` is None, or an unknown optimizer, loss or metric
                name.

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> model.compile("adam", "mse", metrics="mae")
            >>> type(model.optimizer).__name__, model.loss.name
            ('Adam', 'mean_squared_error')
        """
        if loss is None:
            raise ValueError(
                "Received an invalid value for argument loss, expected a loss, got None."
            )
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        if isinstance(metrics, (str,)) or callable(metrics):
            metrics = [metrics]
        self.metric_fns = [metrics_mod.get(m, self.loss.name) for m in (metrics or [])]
        self._metric_specs = list(metrics or [])

    def _fused_output(self) -> bool:
        """Whether the last layer's activation fuses with the loss (softmax + CE)."""
        last = self.layers[-1]
        act = getattr(last, "activation", None)
        return (
            self.loss is not None
            and not self.loss.from_logits
            and self.loss.fusable_activation is not None
            and act is not None
            and getattr(act, "name", None) == self.loss.fusable_activation
            and hasattr(last, "backward_logits")
        )

    # ---- forward and backward ---------------------------------------------------
    def forward(self, x, training: bool = False):
        """Run all layers on an array already checked (no input validation here).

        Args:
            x: the input batch.
            training: run in training mode (dropout on) (default False).

        Returns:
            ``(output, output mask or None)``.

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> y, mask = model.forward(np.ones((2, 5, 3)))
            >>> y.shape, mask
            ((2, 1), None)
        """
        mask = None
        for layer in self.layers:
            out_mask = layer.compute_mask(x, mask)
            x = layer.forward(x, training=training, mask=mask)
            mask = out_mask
        return x, mask

    def backward(self, dy, from_logits: bool = False, input_grad: bool = True):
        """Backpropagate dL/d(output) (or dL/d(logits) of the last layer) through all
        layers; returns dL/d(input) (None for integer inputs).

        ``input_grad=False`` (training: only the weights' gradients are read) stops at
        the first layer that has trainable weights and tells it that its dL/d(input) is
        not wanted; the layers in front of it (a frozen embedding, its dropout) are not
        run backward, as PyTorch's autograd skips what needs no gradient. Returns None
        then.

        Args:
            dy: dL/d(output), or dL/d(logits) with ``from_logits``.
            from_logits: ``dy`` is the gradient of the last layer's logits (a loss
                fused with its softmax or sigmoid) (default False).
            input_grad: compute dL/d(input) (default True).

        Returns:
            dL/d(input), or None.

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> y, _ = model.forward(np.ones((2, 5, 3)), training=True)
            >>> model.backward(np.ones_like(y)).shape
            (2, 5, 3)
        """
        layers = self.layers
        last = len(layers) - 1
        first = 0 if input_grad else self._first_to_train()
        for i in range(last, first - 1, -1):
            layer = layers[i]
            layer.input_grad_needed = input_grad or i > first
            try:
                dy = layer.backward_logits(dy) if from_logits and i == last else layer.backward(dy)
            finally:
                layer.input_grad_needed = True
        return dy if input_grad else None

    def _first_to_train(self) -> int:
        """Index of the first layer whose backward pass is needed for the weights'
        gradients: one with trainable weights, or an embedding a TiedDense shares (its
        backward collects the output layer's share)."""
        shared = {id(layer.embedding) for layer in self.layers if isinstance(layer, TiedDense)}
        for i, layer in enumerate(self.layers):
            if layer.trainable_weights() or id(layer) in shared:
                return i
        return len(self.layers)

    def compute_loss(self, x, y, sample_weight=None, training=True):
        """Forward pass and loss on a checked batch.

        Args:
            x: the input batch.
            y: its targets.
            sample_weight: per-sample weights (default None).
            training: run in training mode (default True).

        Returns:
            ``(loss, y_pred, mask, dL/d(out or logits), fused)``, ``fused`` telling
            whether the gradient is that of the last layer's logits.

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> model.compile("sgd", "mse")
            >>> x, y = np.ones((2, 5, 3)), np.ones((2, 1))
            >>> loss, y_pred, mask, grad, fused = model.compute_loss(x, y)
            >>> y_pred.shape, grad.shape, fused
            ((2, 1), (2, 1), False)
        """
        y_pred, mask = self.forward(x, training=training)
        fused = self._fused_output()
        out = self.layers[-1].logits if fused else y_pred
        loss, grad = self.loss.value_and_grad(y, out, sample_weight, mask, logits=fused)
        return loss, y_pred, mask, grad, fused

    def train_on_batch(self, x, y, sample_weight=None) -> float:
        """One optimizer step on one batch; returns the batch's loss.

        A NaN or inf loss or gradient is returned as the loss with the weights left
        as they were (as Keras returns it).

        Args:
            x: the input batch.
            y: its targets.
            sample_weight: per-sample weights (default None).

        Returns:
            The batch's loss, a float.

        Raises:
            ValueError, TypeError: malformed data, or a model not compiled.
            FloatingPointError: the update would have made a weight NaN or inf; the
                step is undone (weights and optimizer state as before the call).

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> model.compile("sgd", "mse")
            >>> isinstance(model.train_on_batch(np.ones((2, 5, 3)), np.ones((2, 1))), float)
            True
        """
        self._require_compiled()
        x, y = self._check_data(x, y)
        loss, _, _, _, problem = self._train_step(x, y, sample_weight)
        if problem is not None and problem.startswith("weight"):
            raise FloatingPointError(
                f"The update made {problem} NaN or inf; the step was undone (weights and "
                f"optimizer state as before this batch). Lower the learning rate or clip "
                f"the gradients."
            )
        return loss

    def _train_step(self, x, y, sample_weight):
        """Forward, backward and (if loss and gradients are finite) one update.

        Returns (loss, y_pred, mask, gradient norm, problem): ``problem`` is None, or
        what became non-finite ("loss", "gradient norm", "weight <name>"); in every
        such case the weights and the optimizer state are those from before the call
        (an update that produced a non-finite weight is undone)."""
        loss, y_pred, mask, grad, fused = self.compute_loss(x, y, sample_weight, training=True)
        loss += self.regularization_loss()  # the layers add their penalties' gradients
        reducer = self.gradient_reducer
        if reducer is None and not np.isfinite(loss):
            return loss, y_pred, mask, math.nan, "loss"
        self.backward(grad, from_logits=fused, input_grad=False)
        grads = self.gradients()
        if reducer is not None:  # every process decides on the same reduced values
            loss, grads = reducer.reduce(loss, grads)
            if not np.isfinite(loss):
                return loss, y_pred, mask, math.nan, "loss"
        gnorm = optimizers.global_norm(grads)
        if not np.isfinite(gnorm):
            return loss, y_pred, mask, gnorm, "gradient norm"
        problem = self._apply_update(grads)
        if problem is None:
            self.apply_constraints()
        return loss, y_pred, mask, gnorm, problem

    def _apply_update(self, grads) -> str | None:
        """One optimizer update; if it made a weight NaN or inf, undo it (weights and
        optimizer state as before) and return ``"weight <name>"``, else None."""
        named = self.trainable_weights()
        params = [w for _, w in named]
        undo = self._undo_buffers(params)
        self.optimizer.apply(params, grads)
        for name, w in named:
            # a float32 sum overflows only when the weights are past any sane scale;
            # the exact test runs then
            if not math.isfinite(float(w.sum())) and not np.isfinite(w).all():
                undo.restore(params)
                return f"weight {name}"
        return None

    def _undo_buffers(self, params) -> _UndoBuffers:
        """The weights and optimizer state before an update, copied into buffers kept
        from step to step (no allocation after the first step)."""
        undo = getattr(self, "_undo", None)
        if undo is None or not undo.fits(params, self.optimizer):
            undo = self._undo = _UndoBuffers(params, self.optimizer)
        undo.save(params)
        return undo

    # ---- validation of user data ------------------------------------------------
    def _require_compiled(self):
        if self.loss is None or self.optimizer is None:
            raise RuntimeError(
                f"Model {self.name!r} must be compiled before training or evaluation; call "
                f"model.compile(optimizer=..., loss=...)."
            )

    def _check_x(self, x) -> np.ndarray:
        if not self.layers:
            raise ValueError(f"Model {self.name!r} has no layers.")
        x = validation.as_array(x, "x")
        first = self.layers[0]
        if isinstance(first, Embedding):
            validation.check_rank(x, 2, "x", "(samples, time steps) of token ids")
            if not self.built:
                self._build_sample(x.shape[1:])
            x = first.check_ids(x)
        else:
            validation.check_finite(x, "x")
            if not self.built:
                self._build_sample(x.shape[1:])
            expected = self._input_shape
            if x.ndim - 1 != len(expected) or any(
                e is not None and e != got for e, got in zip(expected, x.shape[1:])
            ):
                raise ValueError(
                    f"Input x has shape {x.shape}; model {self.name!r} expects "
                    f"(samples, {', '.join('?' if e is None else str(e) for e in expected)})."
                )
            if isinstance(first, RNN) and x.shape[1] == 0:
                raise ValueError("Input x has zero time steps.")
            x = x.astype(first.dtype, copy=False)
        return x

    def _check_y(self, y, n: int) -> np.ndarray:
        y = validation.as_array(y, "y")
        if len(y) != n:
            raise ValueError(
                f"x and y must have the same number of samples; got {n} in x and {len(y)} in y."
            )
        validation.check_finite(y.astype(float) if y.dtype.kind in "iu" else y, "y")
        out_shape = self.output_shape[1:]
        name = self.loss.name
        if name == "sparse_categorical_crossentropy":
            labels = y[..., 0] if y.ndim == len(out_shape) + 1 else y
            if labels.shape[1:] != tuple(out_shape[:-1]) and None not in out_shape:
                raise ValueError(
                    f"Labels y have shape {y.shape}; for output shape {self.output_shape} "
                    f"sparse_categorical_crossentropy expects {(n,) + tuple(out_shape[:-1])}."
                )
            if np.issubdtype(labels.dtype, np.floating) and np.any(labels != np.round(labels)):
                raise ValueError(
                    "Labels y must be integer class ids for sparse_categorical_crossentropy."
                )
            n_classes = out_shape[-1]
            if labels.min() < 0 or labels.max() >= n_classes:
                raise ValueError(
                    f"Labels y must be class ids in [0, {n_classes}) for an output of "
                    f"{n_classes} classes; got min {labels.min()}, max {labels.max()}."
                )
        else:
            expected = (n,) + tuple(out_shape)
            fits = y.ndim == len(expected) and all(
                e is None or e == g for e, g in zip(expected, y.shape)
            )
            if not fits and not (y.ndim == len(expected) - 1 and expected[-1] == 1):
                hint = ""
                if name == "categorical_crossentropy" and y.ndim == len(expected) - 1:
                    hint = (
                        " (integer labels? use to_categorical(y) or the loss "
                        "'sparse_categorical_crossentropy')"
                    )
                raise ValueError(
                    f"Targets y have shape {y.shape}; model output is {self.output_shape}, so "
                    f"{name} expects {expected}{hint}."
                )
        return y

    def _check_data(self, x, y):
        x = self._check_x(x)
        return x, self._check_y(y, _n(x))

    # ---- the training loop ------------------------------------------------------
    def fit(
        self,
        x=None,
        y=None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose="auto",
        callbacks=None,
        validation_split: float = 0.0,
        validation_data=None,
        shuffle: bool = True,
        class_weight=None,
        sample_weight=None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        bucket_by_length: bool = False,
        checkpoint_dir=None,
        checkpoint_every="epoch",
        keep_checkpoints: int = 3,
        resume=None,
        on_nonfinite: str = "raise",
        overwrite: bool = False,
        resume_optimizer: bool = True,
    ) -> History:
        """Train for ``epochs`` passes over (x, y); returns a History.

        Args:
            x, y: inputs and targets (y one-hot for categorical_crossentropy,
                integer labels for sparse_categorical_crossentropy). ``x`` may also be
                a Python generator or a Keras-style :class:`~rnnkit.models.PyDataset`
                (``Sequence``) yielding ``(x, y)`` or ``(x, y, sample_weight)``
                batches; ``y`` and ``sample_weight`` are then not given, and
                ``batch_size`` is ignored (the data makes the batches).
            batch_size: samples per step, default 32.
            epochs: index of the last epoch to train (with ``initial_epoch``), an
                integer >= 0.
            verbose: 0 silent, 1 (or "auto") a progress bar per epoch, 2 one line.
            callbacks: list of :class:`rnnkit.callbacks.Callback`.
            validation_split: fraction of the samples, taken from the end before
                shuffling (as Keras), held out for validation.
            validation_data: (x_val, y_val), (x_val, y_val, sample_weight), or a
                generator / PyDataset of such batches.
            shuffle: reshuffle the samples every epoch (for a PyDataset: the order
                of its batches, as Keras; a generator's order is its own).
            class_weight: dict class id -> weight (>= 0), applied as sample weights.
            sample_weight: array (samples,) (or (samples, time steps)) of per-sample
                loss weights, >= 0.
            initial_epoch: epoch to start from (for resuming).
            steps_per_epoch: batches per epoch: needed for a generator that never
                ends; with arrays or a PyDataset, the first ones of each epoch.
                Default: all (a generator: until it is exhausted).
            validation_steps: batches of a generator / PyDataset ``validation_data``
                per evaluation (default: all, or until exhausted).
            bucket_by_length: (rnnkit extension) with a masking ``Embedding`` first,
                form batches of stories of similar length, in random order, so that
                the trimming of all-padding steps saves the most time. The gradient of
                each batch is unchanged by padding; only which samples share a batch
                differs from plain shuffling.
            checkpoint_dir: write crash-safe checkpoints here (see
                :mod:`rnnkit.models.checkpoint`); also set by a BackupAndRestore
                callback. The folder belongs to this run while it trains (a lock file
                refuses a second process), and a fresh run is refused in a folder
                holding another run's checkpoints unless ``overwrite=True``.
            checkpoint_every: ``"epoch"`` or a number of batches.
            keep_checkpoints: how many of this run's checkpoints to keep (newest).
            resume: continue from a checkpoint: a checkpoint file, a folder (its newest),
                or True (the newest in ``checkpoint_dir``; a fresh start if none). The
                model, data and fit arguments must be those of the interrupted run; the
                result is then identical to an uninterrupted run.
            on_nonfinite: ``"raise"`` (default) stops with FloatingPointError naming the
                epoch and batch when the loss, the gradients or the updated weights
                are NaN or inf; ``"skip"`` drops that batch and goes on. Either way the
                step is undone (weights and optimizer state as before that batch) and
                no checkpoint is written from a non-finite state. Skipped batches are
                counted in the logs and History (``skipped_batches``), never averaged
                in; an epoch with every batch skipped has a NaN loss, and no built-in
                callback counts it as an improvement.
            overwrite: start a new run in a ``checkpoint_dir`` that holds another
                run's checkpoints; they are deleted once this run's first checkpoint
                is safely written. Default False: such a folder is refused.
            resume_optimizer: with ``resume``: True (default) continues the
                checkpoint's optimizer state, and the compiled optimizer must be the
                one the checkpoint's run used (a ValueError names what differs);
                False keeps the compiled optimizer and starts it fresh (moments and
                step count from zero, its own learning rate) from the checkpoint's
                weights.
        Returns:
            The History (also ``model.history``).
        Raises:
            ValueError, TypeError: for malformed data or arguments, before training.
            FloatingPointError: when the loss, gradients or weights become NaN or inf
                (with ``on_nonfinite="raise"``).
            CheckpointFolderBusyError: another live process trains into
                ``checkpoint_dir``.

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> x = np.random.default_rng(0).normal(size=(16, 5, 3))
            >>> y = x.sum(axis=(1, 2))[:, None]
            >>> model.compile("adam", "mse")
            >>> history = model.fit(x, y, epochs=3, batch_size=4, validation_split=0.25,
            ...                     verbose=0)
            >>> sorted(history.history), history.epoch
            (['loss', 'val_loss'], [0, 1, 2])
        """
        from ..callbacks import BackupAndRestore
        from . import checkpoint as ckpt_mod
        from . import data_adapters as da

        self._require_compiled()
        epochs = _count_arg(epochs, "epochs")
        initial_epoch = _count_arg(initial_epoch, "initial_epoch")
        verbose = _verbose_arg(verbose)
        for name, value in (
            ("shuffle", shuffle),
            ("bucket_by_length", bucket_by_length),
            ("overwrite", overwrite),
            ("resume_optimizer", resume_optimizer),
        ):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(
                    f"Received an invalid value for argument {name}, expected True or False, "
                    f"got {value!r}."
                )
        if on_nonfinite not in ("raise", "skip"):
            raise ValueError(
                f"Received an invalid value for argument on_nonfinite, expected 'raise' or "
                f"'skip', got {on_nonfinite!r}."
            )
        if steps_per_epoch is not None:
            steps_per_epoch = validation.positive_int(steps_per_epoch, "steps_per_epoch")
        if validation_steps is not None:
            validation_steps = validation.positive_int(validation_steps, "validation_steps")
        if batch_size is not None:
            batch_size = validation.positive_int(batch_size, "batch_size")
        validation_split = validation.fraction(validation_split, "validation_split")
        if callbacks is not None and not isinstance(callbacks, (list, tuple)):
            raise TypeError(
                f"Received an invalid value for argument callbacks, expected a list of "
                f"Callback instances, got {validation.describe(callbacks)}."
            )
        if class_weight is not None:
            self._check_class_weight(class_weight)
        source = da.kind(x)
        if source == "arrays":
            if x is None:
                raise ValueError("Received an invalid value for argument x: x is required.")
            if y is None:
                raise ValueError(
                    "Received an invalid value for argument y: the targets are required "
                    "(or pass x as a generator / PyDataset of (x, y) batches)."
                )
            batch_size = 32 if batch_size is None else batch_size
            x, y = self._check_data(x, y)
            n = _n(x)
            sample_weight = self._check_sample_weight(sample_weight, y, n)
            if class_weight is not None:
                cw = self._class_weights(y, class_weight)
                sample_weight = cw if sample_weight is None else sample_weight * cw
        else:
            what = "PyDataset" if source == "dataset" else "generator"
            for name, value in (("y", y), ("sample_weight", sample_weight)):
                if value is not None:
                    raise ValueError(
                        f"When providing `x` as a {what}, `{name}` should not be passed; "
                        f"the {what} yields (x, y) or (x, y, sample_weight) batches."
                    )
            if validation_split:
                raise ValueError(
                    f"Received an invalid value for argument validation_split: it needs "
                    f"arrays; with x a {what}, pass validation_data."
                )
            if bucket_by_length:
                raise ValueError(
                    f"Received an invalid value for argument bucket_by_length: it needs "
                    f"arrays; a {what} makes its own batches."
                )
            n = da.dataset_length(x, "x") if source == "dataset" else None
        if validation_data is None and validation_split > 0:
            split = int(n * (1.0 - validation_split))
            if split == 0 or split == n:
                raise ValueError(
                    f"validation_split={validation_split} leaves no training or no validation "
                    f"samples out of {n}."
                )
            validation_data = (_take(x, slice(split, None)), _take(y, slice(split, None))) + (
                () if sample_weight is None else (sample_weight[split:],)
            )
            x, y = _take(x, slice(None, split)), _take(y, slice(None, split))
            sample_weight = None if sample_weight is None else sample_weight[:split]
            n = split
        val_source = da.kind(validation_data) if validation_data is not None else None
        if val_source == "arrays":
            if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (
                2,
                3,
            ):
                raise ValueError(
                    "validation_data must be (x_val, y_val) or (x_val, y_val, sample_weight), "
                    f"or a generator / PyDataset of batches; got "
                    f"{validation.describe(validation_data)}."
                )
            val_x, val_y = self._check_data(validation_data[0], validation_data[1])
            val_sw = (
                self._check_sample_weight(validation_data[2], val_y, _n(val_x), "validation_data")
                if len(validation_data) == 3
                else None
            )
        history = History()
        cbs: list[Callback] = list(callbacks or []) + [history]  # History last, as Keras
        for cb in cbs:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be rnnkit Callback instances, got {cb!r}.")
        for cb in cbs:
            cb.set_model(self)
            if isinstance(cb, BackupAndRestore):
                checkpoint_dir, checkpoint_every = cb.backup_dir, cb.save_freq
                keep_checkpoints = cb.keep
                resume = True if resume is None else resume
        every_batches = None
        if checkpoint_every != "epoch":
            every_batches = validation.positive_int(checkpoint_every, "checkpoint_every")
        keep_checkpoints = validation.positive_int(keep_checkpoints, "keep_checkpoints")
        resuming = resume is not None and resume is not False
        if source == "generator" and (checkpoint_dir is not None or resuming):
            raise ValueError(
                "Received an invalid value for argument x: checkpoints and resume need data "
                "whose position can be restored (arrays or a PyDataset); a generator's cannot."
            )
        if resuming and resume is not True and not isinstance(resume, (str, os.PathLike)):
            raise TypeError(
                f"Received an invalid value for argument resume, expected None, True, False "
                f"or a path, got {validation.describe(resume)}."
            )
        # a PyDataset is checkpointed as a data set of len(x) items in batches of one
        unit = batch_size if source == "arrays" else 1
        if source == "arrays":
            n_batches = math.ceil(n / batch_size)
        elif source == "dataset":
            n_batches = n
        else:
            n_batches = steps_per_epoch
        if steps_per_epoch is not None and source != "generator":
            if steps_per_epoch > n_batches:
                raise ValueError(
                    f"Received an invalid value for argument steps_per_epoch: the data has "
                    f"{n_batches} batches per epoch, got steps_per_epoch={steps_per_epoch}."
                )
            n_batches = steps_per_epoch

        def make_batches():
            if source == "generator":
                return None if n_batches is None else [None] * n_batches
            order = self.rng.permutation(n) if shuffle else np.arange(n)
            if source == "dataset":
                return [order[i : i + 1] for i in range(n_batches)]
            if bucket_by_length and shuffle:
                return self._length_buckets(x, order, batch_size)[:n_batches]
            return [order[b * batch_size : (b + 1) * batch_size] for b in range(n_batches)]

        iterator = iter(x) if source == "generator" else None

        def fetch(key, b):
            if source == "arrays":
                idx = np.sort(key) if shuffle else key
                if self.gradient_reducer is not None:  # this process's rows of the batch
                    idx = self.gradient_reducer.local_rows(idx)
                yb = _take(y, idx)
                swb = None if sample_weight is None else sample_weight[idx]
                xb, yb = self._trim_padding(_take(x, idx), yb)
                return xb, yb, swb
            item = x[int(key[0])] if source == "dataset" else next(iterator)
            return self._source_batch(item, "x", f"batch {b + 1}", class_weight)

        run = {"id": None, "optimizer": None}
        written = {"last": None, "replaced": []}

        def save_checkpoint(epoch, next_batch, batches, totals):
            if checkpoint_dir is None:
                return
            path = ckpt_mod.write(
                checkpoint_dir,
                self,
                ckpt_mod.TrainingPosition(
                    epoch,
                    next_batch,
                    batches,
                    None if totals is None else totals.state(),
                    n,
                    unit,
                    run_id=run["id"],
                    run_optimizer=run["optimizer"],
                ),
                cbs,
                keep_checkpoints,
            )
            written["last"] = path
            for old in written["replaced"]:  # overwrite=True: the replaced run's files
                old.unlink(missing_ok=True)
            written["replaced"] = []

        if checkpoint_dir is not None and os.path.exists(checkpoint_dir):
            if not os.path.isdir(checkpoint_dir):
                raise ValueError(
                    f"Received an invalid value for argument checkpoint_dir: "
                    f"{os.fspath(checkpoint_dir)!r} is a file, not a folder."
                )
        lock = ckpt_mod.FolderLock(checkpoint_dir) if checkpoint_dir is not None else None
        if lock is not None:
            lock.acquire()
        try:
            self.stop_training = False
            self.history = history
            self.skipped_batches = 0
            last_logs: dict = {}  # the last finished epoch's, for on_train_end (Keras)
            for cb in cbs:
                cb.on_train_begin({})
            # restore after on_train_begin, which resets the callbacks' own state
            position = None
            found = None
            if resuming:
                src = checkpoint_dir if resume is True else resume
                if src is None:
                    raise ValueError("resume=True needs checkpoint_dir (or a BackupAndRestore).")
                found = ckpt_mod.latest(src)
                if found is None and resume is not True:
                    raise FileNotFoundError(f"No checkpoint to resume from in {os.fspath(src)!r}.")
            if checkpoint_dir is not None:  # refused before anything is restored
                named = None if found is None else ckpt_mod.parse_name(found.name)
                own = named[2] if named is not None else None
                others = {
                    rid: files
                    for rid, files in ckpt_mod.runs_in(checkpoint_dir).items()
                    if found is None or rid != own
                }
                if others and not overwrite:
                    newest = max((f for files in others.values() for f in files), key=_ckpt_key)
                    raise ValueError(
                        f"Checkpoint folder {os.fspath(checkpoint_dir)!r} holds checkpoints of "
                        f"another run ({sum(map(len, others.values()))} files, newest "
                        f"{newest.name}). Pass resume=True to continue that run, "
                        f"overwrite=True to start over (its checkpoints are deleted once this "
                        f"run's first one is written), or another checkpoint_dir."
                    )
                written["replaced"] = [f for files in others.values() for f in files]
            if found is not None:
                position = ckpt_mod.restore(
                    found, self, cbs, resume_optimizer=bool(resume_optimizer), data=(n, unit)
                )
                initial_epoch = position.epoch
                run["id"], run["optimizer"] = position.run_id, position.run_optimizer
                written["last"] = found
                if found in written["replaced"]:  # a renamed file: it is this run's now
                    written["replaced"].remove(found)
            else:
                run["id"] = ckpt_mod.new_run_id()
                run["optimizer"] = ckpt_mod.optimizer_spec(self.optimizer)

            for epoch in range(initial_epoch, epochs):
                for cb in cbs:
                    cb.on_epoch_begin(epoch, {})
                first = 0
                if (
                    position is not None
                    and position.batches is not None
                    and position.epoch == epoch
                ):
                    batches, first = position.batches, position.batch
                    totals = _Totals.from_state(self.metric_fns, position.totals)
                else:
                    batches = make_batches()
                    totals = _Totals(self.metric_fns)
                position = None
                started, seen_steps = time.perf_counter(), 0  # time steps per second
                bar = tqdm(
                    total=None if batches is None else len(batches),
                    initial=first,
                    desc=f"Epoch {epoch + 1}/{epochs}",
                    unit="batch",
                    disable=verbose != 1,
                    leave=True,
                    file=sys.stderr,
                    dynamic_ncols=True,
                )
                ran_out = False
                with bar:
                    b = first
                    while batches is None or b < len(batches):
                        try:
                            xb, yb, swb = fetch(None if batches is None else batches[b], b)
                        except StopIteration:
                            ran_out = True
                            break
                        for cb in cbs:
                            cb.on_train_batch_begin(b)
                        loss, y_pred, mask, gnorm, problem = self._train_step(xb, yb, swb)
                        if problem is not None:
                            if on_nonfinite == "raise":
                                raise FloatingPointError(
                                    self._nonfinite_message(
                                        problem, loss, gnorm, epoch, b, checkpoint_dir, written
                                    )
                                )
                            self.skipped_batches += 1
                            totals.skipped += 1
                            bar.update(1)
                            b += 1
                            continue
                        totals.add(loss, _n(yb), yb, y_pred, mask)
                        for cb in cbs:
                            cb.on_train_batch_end(b, {"loss": loss, "gradient_norm": gnorm})
                        first_input = xb[0] if isinstance(xb, list) else xb
                        seen_steps += _n(xb) * (
                            first_input.shape[1] if first_input.ndim >= 2 else 1
                        )
                        rate = seen_steps / max(time.perf_counter() - started, 1e-9)
                        bar.set_postfix({**totals.logs(), "tok/s": f"{rate:.0f}"}, refresh=False)
                        bar.update(1)
                        b += 1
                        if (
                            every_batches is not None
                            and batches is not None
                            and b % every_batches == 0
                            and b < len(batches)
                        ):
                            save_checkpoint(epoch, b, batches, totals)
                    if ran_out and b == first:
                        warnings.warn(
                            f"x (a generator) ran out of data at the start of epoch "
                            f"{epoch + 1}; training stopped. Pass steps_per_epoch and a "
                            f"generator that yields steps_per_epoch * epochs batches.",
                            stacklevel=2,
                        )
                        break
                    if self.gradient_reducer is not None:  # the epoch over all processes
                        self.gradient_reducer.reduce_totals(totals)
                    logs = totals.logs()
                    if on_nonfinite == "skip":
                        logs["skipped_batches"] = totals.skipped
                    if validation_data is not None:
                        if val_source == "arrays":
                            val = self._evaluate_arrays(val_x, val_y, val_sw, batch_size or 32)
                        else:
                            val = self._evaluate_source(
                                validation_data, validation_steps, "validation_data"
                            )
                        logs.update({f"val_{k}": v for k, v in val.items()})
                    bar.set_postfix(logs, refresh=True)
                if verbose == 2:
                    line = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
                    print(f"Epoch {epoch + 1}/{epochs} - {line}", file=sys.stderr)
                for cb in cbs:
                    cb.on_epoch_end(epoch, logs)
                last_logs = logs
                if source == "dataset" and hasattr(x, "on_epoch_end"):
                    x.on_epoch_end()
                save_checkpoint(epoch + 1, 0, None, None)
                if ran_out:
                    warnings.warn(
                        f"x (a generator) ran out of data in epoch {epoch + 1} after {b} "
                        f"batches; training stopped. Pass steps_per_epoch and a generator "
                        f"that yields steps_per_epoch * epochs batches.",
                        stacklevel=2,
                    )
                    break
                if self.stop_training:
                    break
            for cb in cbs:
                cb.on_train_end(dict(last_logs))
            for cb in cbs:
                if isinstance(cb, BackupAndRestore) and cb.delete_checkpoint:
                    for path in ckpt_mod.list_checkpoints(cb.backup_dir, run["id"]):
                        path.unlink(missing_ok=True)
        finally:
            if lock is not None:
                lock.release()
        return history

    def _nonfinite_message(self, problem, loss, gnorm, epoch, b, checkpoint_dir, written) -> str:
        """What went non-finite, and the truth about the checkpoints."""
        if problem == "loss":
            what = f"The loss became {loss}"
        elif problem == "gradient norm":
            what = f"The gradient norm became {gnorm}"
        else:
            what = f"The update made {problem} NaN or inf"
        note = ""
        if checkpoint_dir is not None:
            last = written["last"]
            if last is not None and os.path.isfile(last):
                note = (
                    f"; no checkpoint holds a non-finite state: the last one, "
                    f"{os.fspath(last)!r}, written before this batch, is intact"
                )
            else:
                note = f"; this run has written no checkpoint to {os.fspath(checkpoint_dir)!r} yet"
        return (
            f"{what} at epoch {epoch + 1}, batch {b + 1}; training stopped and the step was "
            f"undone (weights and optimizer state as before that batch){note} (lower the "
            f"learning rate, clip gradients, or pass on_nonfinite='skip')."
        )

    def _source_batch(self, item, argument, where, class_weight=None, targets=True):
        """One batch from a generator or PyDataset, checked as arrays are."""
        from . import data_adapters as da

        xb, yb, swb = da.unpack(item, argument, where, targets)
        if not targets:
            return self._check_x(xb), None, None
        xb, yb = self._check_data(xb, yb)
        swb = self._check_sample_weight(swb, yb, _n(xb), f"{argument} ({where})")
        if class_weight is not None:
            cw = self._class_weights(yb, class_weight)
            swb = cw if swb is None else swb * cw
        xb, yb = self._trim_padding(xb, yb)
        return xb, yb, swb

    def _check_sample_weight(self, sample_weight, y, n, argument="sample_weight"):
        if sample_weight is None:
            return None
        sw = validation.as_array(sample_weight, argument).astype(float)
        y0 = y[0] if isinstance(y, list) else y
        if sw.shape[0] != n or sw.ndim > 2 or (sw.ndim == 2 and sw.shape != y0.shape[:2]):
            raise ValueError(
                f"Received an invalid value for argument {argument}: expected one weight per "
                f"sample, shape ({n},) (or per time step, {tuple(y0.shape[:2])}), got shape "
                f"{sw.shape}."
            )
        validation.check_finite(sw, argument)
        if np.any(sw < 0):
            raise ValueError(
                f"Received an invalid value for argument {argument}: expected weights "
                f">= 0, got min {sw.min()}."
            )
        return sw

    def _trim_padding(self, x, y=None):
        """Drop trailing steps that are padding in every sample of the batch, when a
        masking Embedding comes first and the model reduces over time. Exact: masked
        steps change neither outputs nor gradients (tests/test_padding.py)."""
        first = self.layers[0]
        if not (isinstance(first, Embedding) and first.mask_zero) or x.ndim != 2:
            return x, y
        if len(self.output_shape) != 2:  # sequence outputs keep their length
            return x, y
        used = np.flatnonzero(x.any(axis=0))
        keep = int(used[-1]) + 1 if used.size else 1
        return (x[:, :keep], y) if keep < x.shape[1] else (x, y)

    def _length_buckets(self, x, order, batch_size) -> list[np.ndarray]:
        lengths = (x != 0).sum(axis=1) if x.ndim == 2 else np.full(len(x), x.shape[1])
        chunk = batch_size * 50
        batches = []
        for start in range(0, len(order), chunk):
            part = order[start : start + chunk]
            part = part[np.argsort(lengths[part], kind="stable")]
            batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
        return [batches[i] for i in self.rng.permutation(len(batches))]

    def _check_class_weight(self, class_weight) -> None:
        """Keys: class ids of the model's output; values: numbers >= 0."""
        if not isinstance(class_weight, dict):
            raise TypeError(
                f"Received an invalid value for argument class_weight, expected a dict "
                f"class -> weight, got {type(class_weight).__name__}."
            )
        if getattr(self, "_multi_out", False):
            raise ValueError(
                "Received an invalid value for argument class_weight: it is supported for "
                "models with one output only."
            )
        shape = self.output_shape if self.built else None
        n_classes = shape[-1] if shape is not None and shape[-1] is not None else None
        if n_classes == 1:
            n_classes = 2  # one sigmoid unit: classes 0 and 1
        for key, value in class_weight.items():
            if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)):
                raise TypeError(
                    f"Received an invalid value for argument class_weight: keys must be "
                    f"integer class ids, got {key!r} ({type(key).__name__})."
                )
            if key < 0 or (n_classes is not None and key >= n_classes):
                raise ValueError(
                    f"Received an invalid value for argument class_weight: class {key} is "
                    f"not a class of the output (ids 0 to {(n_classes or 1) - 1})."
                )
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                value, (int, float, np.integer, np.floating)
            ):
                raise TypeError(
                    f"Received an invalid value for argument class_weight: the weight of "
                    f"class {key} must be a number, got {value!r}."
                )
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(
                    f"Received an invalid value for argument class_weight: the weight of "
                    f"class {key} must be a finite number >= 0, got {value!r}."
                )

    def _class_weights(self, y, class_weight) -> np.ndarray:
        self._check_class_weight(class_weight)
        if y.ndim >= 2 and y.shape[-1] > 1 and self.loss.name != "sparse_categorical_crossentropy":
            labels = np.argmax(y, axis=-1)
        else:
            labels = y.reshape(len(y), -1)[:, 0].astype(np.int64)
        if labels.ndim > 1:
            raise ValueError("class_weight is supported for one label per sample only.")
        return np.array([float(class_weight.get(int(c), 1.0)) for c in labels])

    # ---- evaluation and prediction ----------------------------------------------
    def _stateful_layers(self):
        found = []
        for layer in self.layers:
            for inner in (
                layer,
                getattr(layer, "forward_layer", None),
                getattr(layer, "backward_layer", None),
            ):
                if isinstance(inner, RNN) and inner.stateful:
                    found.append(inner)
        return found

    def _evaluate_arrays(self, x, y, sample_weight, batch_size) -> dict:
        stateful = self._stateful_layers()
        saved = [l.states for l in stateful]
        for layer in stateful:  # evaluation reads its own streams from their start
            layer.reset_states()
        try:
            return self._evaluate_batches(x, y, sample_weight, batch_size)
        finally:
            for layer, states in zip(stateful, saved):
                layer.states = states

    def _evaluate_batches(self, x, y, sample_weight, batch_size) -> dict:
        totals = _Totals(self.metric_fns)
        for start in range(0, _n(x), batch_size):
            sl = slice(start, start + batch_size)
            sw = None if sample_weight is None else np.asarray(sample_weight)[sl]
            xb, _ = self._trim_padding(_take(x, sl))
            yb = _take(y, sl)
            loss, y_pred, mask, _, _ = self.compute_loss(xb, yb, sw, training=False)
            # the loss training minimises (Keras's evaluate adds the penalties too)
            loss += self.regularization_loss()
            totals.add(loss, _n(yb), yb, y_pred, mask)
        return totals.logs()

    def _source_items(self, data, steps, argument):
        """The batches of a generator or PyDataset: ``steps`` of them, or all (until a
        generator is exhausted)."""
        from . import data_adapters as da

        if da.kind(data) == "dataset":
            n = da.dataset_length(data, argument)
            if steps is not None and steps > n:
                raise ValueError(
                    f"Received an invalid value for argument steps: {argument} has {n} "
                    f"batches, got steps={steps}."
                )
            for i in range(n if steps is None else steps):
                yield data[i]
            return
        iterator = iter(data)
        k = 0
        while steps is None or k < steps:
            try:
                item = next(iterator)
            except StopIteration:
                return
            yield item
            k += 1

    def _evaluate_source(self, data, steps, argument) -> dict:
        stateful = self._stateful_layers()
        saved = [l.states for l in stateful]
        for layer in stateful:
            layer.reset_states()
        try:
            totals = _Totals(self.metric_fns)
            for k, item in enumerate(self._source_items(data, steps, argument)):
                xb, yb, swb = self._source_batch(item, argument, f"batch {k + 1}")
                loss, y_pred, mask, _, _ = self.compute_loss(xb, yb, swb, training=False)
                loss += self.regularization_loss()  # as in _evaluate_batches
                totals.add(loss, _n(yb), yb, y_pred, mask)
        finally:
            for layer, states in zip(stateful, saved):
                layer.states = states
        if totals.count == 0:
            raise ValueError(
                f"Received an invalid value for argument {argument}: it yielded no batch "
                f"(an exhausted generator? pass steps and a generator that loops)."
            )
        return totals.logs()

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose=0,
        sample_weight=None,
        steps=None,
        return_dict=False,
    ):
        """Loss and metrics on (x, y): a float if there are no metrics, else
        ``[loss, metric, …]`` (or a dict with ``return_dict=True``).

        The loss is the one training minimises, as in Keras: the data loss plus the
        layers' weight and activity penalties (``regularization_loss``).

        Args:
            x, y: arrays, or ``x`` a generator / PyDataset of ``(x, y)`` or
                ``(x, y, sample_weight)`` batches (``y`` not given then); default None.
            batch_size: samples per batch for arrays (default None: 32).
            verbose: accepted for Keras's signature; nothing is shown (default 0).
            sample_weight: per-sample weights for arrays (default None).
            steps: batches to read from a generator / PyDataset (default: all).
            return_dict: return ``{name: value}`` (default False).

        Returns:
            The loss (a float) without metrics; else ``[loss, metric, ...]``, or the
            dict with ``return_dict=True``.

        Raises:
            ValueError, TypeError: malformed data or arguments, or a model not
                compiled.

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> x = np.random.default_rng(0).normal(size=(16, 5, 3))
            >>> y = x.sum(axis=(1, 2))[:, None]
            >>> model.compile("adam", "mse", metrics=["mae"])
            >>> sorted(model.evaluate(x, y, return_dict=True))
            ['loss', 'mae']
        """
        from . import data_adapters as da

        self._require_compiled()
        if steps is not None:
            steps = validation.positive_int(steps, "steps")
        if da.kind(x) != "arrays":
            for name, value in (("y", y), ("sample_weight", sample_weight)):
                if value is not None:
                    raise ValueError(
                        f"When providing `x` as a generator or PyDataset, `{name}` should not "
                        f"be passed."
                    )
            logs = self._evaluate_source(x, steps, "x")
        else:
            x, y = self._check_data(x, y)
            batch_size = (
                32 if batch_size is None else validation.positive_int(batch_size, "batch_size")
            )
            sample_weight = self._check_sample_weight(sample_weight, y, _n(x))
            logs = self._evaluate_arrays(x, y, sample_weight, batch_size)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose=0, steps=None) -> np.ndarray:
        """The model's outputs for ``x``, in batches of ``batch_size`` (default 32).

        Args:
            x: an array (a list of arrays for several inputs), or a generator /
                PyDataset of batches (``x``, ``(x,)`` or ``(x, y, ...)``: targets are
                ignored).
            batch_size: samples per batch for arrays (default None: 32).
            verbose: 1 shows a progress bar (default 0).
            steps: batches to read from a generator / PyDataset (default None: all).

        Returns:
            The outputs, concatenated over the batches (a list for several outputs).

        Raises:
            ValueError, TypeError: malformed data or arguments.

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> model.predict(np.zeros((7, 5, 3)), batch_size=4).shape
            (7, 1)
        """
        from . import data_adapters as da

        if steps is not None:
            steps = validation.positive_int(steps, "steps")
        if da.kind(x) != "arrays":
            outs = []
            for k, item in enumerate(self._source_items(x, steps, "x")):
                xb, _, _ = self._source_batch(item, "x", f"batch {k + 1}", targets=False)
                xb, _ = self._trim_padding(xb)
                outs.append(self.forward(xb, training=False)[0])
            if not outs:
                raise ValueError(
                    "Received an invalid value for argument x: it yielded no batch (an "
                    "exhausted generator?)."
                )
        else:
            x = self._check_x(x)
            batch_size = (
                32 if batch_size is None else validation.positive_int(batch_size, "batch_size")
            )
            if any(getattr(l, "stateful", False) for l in self.layers):
                batch_size = min(_n(x), batch_size)
            outs = []
            for start in tqdm(
                range(0, _n(x), batch_size), disable=verbose != 1, desc="predict", file=sys.stderr
            ):
                xb, _ = self._trim_padding(_take(x, slice(start, start + batch_size)))
                outs.append(self.forward(xb, training=False)[0])
        if isinstance(outs[0], list):  # several outputs
            return [np.concatenate(parts, axis=0) for parts in zip(*outs)]
        return np.concatenate(outs, axis=0)

    # ---- step-by-step inference (generation) -------------------------------------
    def initial_states(self, batch: int = 1) -> list[list[np.ndarray]]:
        """Zero states for :meth:`step`: one list per recurrent layer.

        Args:
            batch: the number of sequences (default 1).

        Returns:
            For each recurrent layer, the list of its zero state arrays, each
            ``(batch, units)``.

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((None, 3)), layers.LSTM(4), layers.Dense(1)])
            >>> tuple(tuple(s.shape for s in states) for states in model.initial_states(2))
            (((2, 4), (2, 4)),)
        """
        return [
            [np.zeros((batch, l.units), l.dtype) for _ in range(l.cell.state_size)]
            for l in self.layers
            if isinstance(l, RNN)
        ]

    def step(self, x_t, states=None):
        """Run the model on ONE time step with carried states: each recurrent layer does
        one cell step (no re-run of the prefix). For generation and streaming.

        Args:
            x_t: one step of input for each sequence in the batch: token ids of shape
                (batch,) for a model starting with Embedding, else (batch, features).
            states: from :meth:`initial_states` or a previous ``step``; None = zeros.
        Returns:
            ``(y_t, states)``: the model's output for this step (batch, outputs) and the
            new states.
        Raises:
            ValueError: a layer that needs the whole sequence (Bidirectional, pooling,
                Flatten, RepeatVector), states of the wrong structure, or a model not
                built.

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> x = np.random.default_rng(0).normal(size=(2, 5, 3))
            >>> states = None
            >>> for t in range(5):
            ...     y_t, states = model.step(x[:, t], states)
            >>> bool(np.allclose(y_t, model.predict(x), atol=1e-5))
            True
        """
        from ..layers import Activation, Dense, Dropout, TiedDense, TimeDistributed

        if not self.built:
            raise ValueError(f"Model {self.name!r} is not built yet.")
        x = np.asarray(x_t)
        first = self.layers[0]
        if isinstance(first, Embedding):
            x = first.check_ids(x.reshape(-1)) if x.size else x
        batch = x.shape[0]
        states = self.initial_states(batch) if states is None else states
        n_rnn = sum(isinstance(l, RNN) for l in self.layers)
        if len(states) != n_rnn:
            raise ValueError(
                f"Model {self.name!r} has {n_rnn} recurrent layer(s); got states for {len(states)}."
            )
        new_states, k = [], 0
        for layer in self.layers:
            if isinstance(layer, Embedding):
                x = layer.params["embeddings"][x]
            elif isinstance(layer, RNN):
                x, s = layer.step(x, states[k])
                new_states.append(s)
                k += 1
            elif isinstance(layer, (Dense, Activation, TiedDense)):
                x = layer.forward(x)
            elif isinstance(layer, TimeDistributed):
                x = layer.layer.forward(x)
            elif isinstance(layer, Dropout):
                continue  # the identity at inference
            else:
                raise ValueError(
                    f"Layer {layer.name!r} ({type(layer).__name__}) needs the whole sequence "
                    f"and cannot run step by step."
                )
        return x, new_states

    def predict_on_batch(self, x):
        """The model's outputs for one batch (checked, in one pass).

        Args:
            x: the input batch.

        Returns:
            The outputs.

        Raises:
            ValueError, TypeError: malformed input.

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> model.predict_on_batch(np.ones((2, 5, 3))).shape
            (2, 1)
        """
        return self.forward(self._check_x(x), training=False)[0]

    def __call__(self, x, training=False):
        return self.forward(self._check_x(x), training=training)[0]

    # ---- description, saving --------------------------------------------------
    def summary(self, print_fn=print) -> None:
        """Print the layers, their output shapes and parameter counts (as Keras).

        Args:
            print_fn: called with each line (default ``print``).

        Raises:
            ValueError: the model is not built.

        Example:
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> lines = []
            >>> model.summary(print_fn=lines.append)
            >>> lines[-3]
            'Total params: 37'
        """
        if not self.built:
            raise ValueError(
                f"Model {self.name!r} is not built: give the first layer input_shape or call "
                f"fit/build first."
            )
        rows = [("Layer (type)", "Output Shape", "Param #")]
        shape = self._input_shape
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
            rows.append(
                (
                    f"{layer.name} ({type(layer).__name__})",
                    str((None,) + tuple(shape)),
                    f"{layer.count_params():,}",
                )
            )
        widths = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
        line = "_" * sum(widths)
        print_fn(f'Model: "{self.name}"')
        print_fn(line)
        for i, row in enumerate(rows):
            print_fn("".join(cell.ljust(w) for cell, w in zip(row, widths)))
            print_fn("=" * sum(widths) if i == 0 else line)
        total = self.count_params()
        trainable = sum(w.size for _, w in self.trainable_weights())
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {total - trainable:,}")

    def get_config(self) -> dict:
        """The architecture, as :meth:`from_config` takes it (no weights).

        Returns:
            A JSON-able dict: ``name``, ``input_shape`` and the serialized
            ``layers``.

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> config = Sequential([layers.Input((5, 3)), layers.GRU(4)]).get_config()
            >>> config["input_shape"], len(config["layers"])
            ([5, 3], 1)
        """
        from ..layers import serialize

        return {
            "name": self.name,
            "input_shape": None if self._input_shape is None else list(self._input_shape),
            "layers": [serialize(l) for l in self.layers],
        }

    @classmethod
    def from_config(cls, config: dict) -> Sequential:
        """A new model with the architecture of :meth:`get_config` (fresh weights).

        Args:
            config: the dict :meth:`get_config` returned.

        Returns:
            The model, built when the config has an input shape.

        Raises:
            ValueError: a ``TiedDense`` whose embedding is not in the model (and what
                the layers' deserialization raises).

        Example:
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.GRU(4)])
            >>> copy = Sequential.from_config(model.get_config())
            >>> copy.output_shape, copy.count_params() == model.count_params()
            ((None, 4), True)
        """
        from ..layers import deserialize

        model = cls(name=config.get("name"))
        for spec in config["layers"]:
            if spec.get("class_name") == "TiedDense":  # link to the shared embedding
                spec = {**spec, "config": dict(spec["config"])}
                name = spec["config"].pop("embedding")
                target = next((l for l in model.layers if l.name == name), None)
                if target is None:
                    raise ValueError(f"TiedDense ties to {name!r}, which is not in the model.")
                from ..layers import TiedDense

                model.add(TiedDense(target, **spec["config"]))
                continue
            model.add(deserialize(spec))
        if config.get("input_shape") is not None and not model.built:
            model._build_sample(tuple(config["input_shape"]))
        return model

    def save(self, filepath, include_optimizer: bool = True) -> None:
        """Save architecture, weights and (optionally) optimizer state to one file,
        atomically. See :mod:`rnnkit.models.saving` for the format.

        Args:
            filepath: the file to write.
            include_optimizer: also save the optimizer's state (default True).

        Example:
            >>> import os, tempfile
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> from rnnkit.models import load_model
            >>> path = os.path.join(tempfile.mkdtemp(), "model.rnnkit")
            >>> model.save(path)
            >>> x = np.ones((2, 5, 3))
            >>> bool(np.array_equal(load_model(path).predict(x), model.predict(x)))
            True
        """
        from .saving import save_model

        save_model(self, filepath, include_optimizer=include_optimizer)

    def save_weights(self, filepath) -> None:
        """Save the weights only (see :func:`rnnkit.models.saving.save_weights`).

        Args:
            filepath: the file to write.

        Example:
            >>> import os, tempfile
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> path = os.path.join(tempfile.mkdtemp(), "model.weights.npz")
            >>> model.save_weights(path)
            >>> os.path.exists(path)
            True
        """
        from .saving import save_weights

        save_weights(self, filepath)

    def load_weights(self, filepath) -> None:
        """Load weights saved by :meth:`save_weights` into this model (see
        :func:`rnnkit.models.saving.load_weights`).

        Args:
            filepath: the file to read.

        Example:
            >>> import os, tempfile
            >>> import numpy as np
            >>> from rnnkit import layers
            >>> from rnnkit.models import Sequential
            >>> model = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> path = os.path.join(tempfile.mkdtemp(), "model.weights.npz")
            >>> model.save_weights(path)
            >>> other = Sequential([layers.Input((5, 3)), layers.SimpleRNN(4), layers.Dense(1)])
            >>> other.load_weights(path)
            >>> x = np.ones((2, 5, 3))
            >>> bool(np.array_equal(other.predict(x), model.predict(x)))
            True
        """
        from .saving import load_weights

        load_weights(self, filepath)

    def export(self, filepath, format: str = "onnx") -> None:
        """Export the model for inference elsewhere (Keras 3's name): an ONNX file whose
        outputs equal :meth:`predict` (float32), written atomically. See
        :mod:`rnnkit.interop.onnx` for the graph's inputs and outputs.

        Args:
            filepath: the file to write, conventionally ``*.onnx``.
            format: ``"onnx"``, the one format implemented.

        Raises:
            ValueError: another format; a layer or option ONNX cannot reproduce (named);
                an unbuilt model. Nothing is written then.
            ImportError: the ``onnx`` package is missing (``pip install rnnkit[onnx]``).

        Example:
            >>> model.export("model.onnx")  # doctest: +SKIP
        """
        if format != "onnx":
            raise ValueError(
                f"Received an invalid value for argument format, expected 'onnx', got "
                f"{format!r}."
            )
        from ..interop.onnx import export_onnx

        export_onnx(self, filepath)


def _n(x) -> int:
    """Number of samples of an input array, or of a list of input arrays."""
    return len(x[0]) if isinstance(x, list) else len(x)


def _take(x, idx):
    """Rows ``idx`` of an input array, or of every array of a list."""
    return [a[idx] for a in x] if isinstance(x, list) else x[idx]


def _count_arg(value, argument: str) -> int:
    """An integer >= 0 (epochs, initial_epoch): not a bool, not 2.7."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"Received an invalid value for argument {argument}, expected an integer >= 0, "
            f"got {validation.describe(value)}."
        )
    if value < 0:
        raise ValueError(
            f"Received an invalid value for argument {argument}, expected an integer >= 0, "
            f"got {value}."
        )
    return int(value)


def _verbose_arg(verbose) -> int:
    if verbose == "auto":
        return 1
    if isinstance(verbose, (bool, np.bool_)) or verbose not in (0, 1, 2):
        raise ValueError(
            f"Received an invalid value for argument verbose, expected 'auto', 0, 1 or 2, "
            f"got {verbose!r}."
        )
    return int(verbose)


def _ckpt_key(path):
    from .checkpoint import parse_name

    return parse_name(path.name)[:2]


class _UndoBuffers:
    """Copies of the weights and the optimizer's state from before an update, in
    buffers reused every step, so that an update that makes a weight non-finite can
    be taken back exactly."""

    def __init__(self, params, optimizer):
        self.optimizer = optimizer
        self.params = [np.empty_like(p) for p in params]
        self.slot_keys = sorted(optimizer.slots)
        self.slots = {k: [np.empty_like(a) for a in optimizer.slots[k]] for k in self.slot_keys}
        self.iterations = optimizer.iterations

    def fits(self, params, optimizer) -> bool:
        if optimizer is not self.optimizer or sorted(optimizer.slots) != self.slot_keys:
            return False
        if len(params) != len(self.params):
            return False
        if any(p.shape != b.shape or p.dtype != b.dtype for p, b in zip(params, self.params)):
            return False
        return all(
            len(optimizer.slots[k]) == len(self.slots[k])
            and all(a.shape == b.shape for a, b in zip(optimizer.slots[k], self.slots[k]))
            for k in self.slot_keys
        )

    def save(self, params) -> None:
        for b, p in zip(self.params, params):
            np.copyto(b, p)
        for k in self.slot_keys:
            for b, a in zip(self.slots[k], self.optimizer.slots[k]):
                np.copyto(b, a)
        self.iterations = self.optimizer.iterations

    def restore(self, params) -> None:
        for b, p in zip(self.params, params):
            np.copyto(p, b)
        if self.slot_keys:
            for k in self.slot_keys:
                for b, a in zip(self.slots[k], self.optimizer.slots[k]):
                    np.copyto(a, b)
        else:  # the update created the slots: before it there were none
            self.optimizer.slots = {}
        self.optimizer.iterations = self.iterations


class _Totals:
    """Running sums for an epoch's loss and metrics (exact means over entries), and
    the count of batches skipped for a non-finite step."""

    def __init__(self, metric_fns):
        self.metric_fns = metric_fns
        self.loss_sum = 0.0
        self.count = 0
        self.sums = [0.0] * len(metric_fns)
        self.counts = [0] * len(metric_fns)
        self.skipped = 0

    def add(self, loss, n, y, y_pred, mask):
        self.loss_sum += loss * n
        self.count += n
        for i, (_, fn) in enumerate(self.metric_fns):
            s, c = fn(y, y_pred, mask)
            self.sums[i] += s
            self.counts[i] += c

    def state(self) -> dict:
        return {
            "loss_sum": self.loss_sum,
            "count": self.count,
            "sums": self.sums,
            "counts": self.counts,
            "skipped": self.skipped,
        }

    @classmethod
    def from_state(cls, metric_fns, state: dict) -> _Totals:
        totals = cls(metric_fns)
        totals.loss_sum, totals.count = state["loss_sum"], state["count"]
        totals.sums, totals.counts = list(state["sums"]), list(state["counts"])
        totals.skipped = int(state.get("skipped", 0))
        return totals

    def logs(self) -> dict:
        """Means over what was trained; NaN where nothing was (every batch skipped),
        never a 0.0 that looks like a perfect loss."""
        logs = {"loss": self.loss_sum / self.count if self.count else math.nan}
        for (name, _), s, c in zip(self.metric_fns, self.sums, self.counts):
            logs[name] = s / c if c else math.nan
        return logs

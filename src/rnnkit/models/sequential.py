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

import numpy as np
from tqdm.auto import tqdm

from .. import backend, losses, optimizers
from .. import metrics as metrics_mod
from ..callbacks import Callback, History
from ..layers import Embedding, Layer, TiedDense
from ..layers.recurrent import RNN
from ..utils import validation


class Sequential:
    """A linear stack of layers with Keras's API.

    Example:
        >>> model = Sequential()
        >>> model.add(SimpleRNN(50, input_shape=(49, 1)))
        >>> model.add(Dense(46, activation="softmax"))
        >>> model.compile(loss="categorical_crossentropy", optimizer="adam",
        ...               metrics=["accuracy"])
        >>> history = model.fit(x, y, epochs=10, batch_size=50)   # doctest: +SKIP
    """

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
        for layer in layers or []:
            self.add(layer)

    # ---- building ---------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append a layer. The first layer may declare ``input_shape``."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects an rnnkit layer, got {type(layer).__name__}.")
        if any(existing.name == layer.name for existing in self.layers):
            raise ValueError(f"A layer named {layer.name!r} is already in model {self.name!r}.")
        self.layers.append(layer)
        if len(self.layers) == 1 and layer.input_shape_arg is not None:
            self.build(layer.input_shape_arg)
        elif self._input_shape is not None:
            shape = self._input_shape
            for existing in self.layers[:-1]:
                shape = existing.compute_output_shape(shape)
            self._check_single_output(layer, shape)
            layer.ensure_built(shape)

    @property
    def built(self) -> bool:
        return self._input_shape is not None

    def build(self, input_shape) -> None:
        """Build every layer for samples of ``input_shape`` (no batch axis)."""
        shape = tuple(input_shape)
        self._input_shape = shape
        for layer in self.layers:
            self._check_single_output(layer, shape)
            layer.ensure_built(shape)
            shape = layer.compute_output_shape(shape)

    def _check_single_output(self, layer, shape):
        if getattr(layer, "return_state", False):
            raise ValueError(
                f"Layer {layer.name!r} has return_state=True, which returns several arrays; "
                f"a Sequential model passes one array between layers."
            )

    @property
    def output_shape(self) -> tuple:
        if not self.built:
            raise ValueError(f"Model {self.name!r} is not built yet.")
        shape = self._input_shape
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
        return (None,) + tuple(shape)

    # ---- weights ----------------------------------------------------------------
    def weights(self) -> list[tuple[str, np.ndarray]]:
        return [(f"{l.name}/{n}", w) for l in self.layers for n, w in l.weights()]

    def trainable_weights(self):
        return [(f"{l.name}/{n}", w) for l in self.layers for n, w in l.trainable_weights()]

    def gradients(self) -> list[np.ndarray]:
        return [g for l in self.layers if l.trainable for g in l.gradients()]

    def get_weights(self) -> list[np.ndarray]:
        return [w.copy() for _, w in self.weights()]

    def set_weights(self, weights) -> None:
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
        return sum(l.count_params() for l in self.layers)

    def reset_states(self) -> None:
        """Forget the carried states of every stateful recurrent layer."""
        for layer in self.layers:
            if hasattr(layer, "reset_states"):
                layer.reset_states()

    # ---- compile ----------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None) -> None:
        """Choose the optimizer, the loss and the metrics, by name or instance.

        Args:
            optimizer: ``"adam"``, ``"sgd"``, ``"rmsprop"``, ``"adagrad"`` or an
                instance (default ``"rmsprop"``, as Keras).
            loss: a loss name or instance; required.
            metrics: list of names (``"accuracy"`` resolves by the loss, as Keras).
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
        """Run all layers; returns (output, output mask or None)."""
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
        then."""
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
        """Forward pass and loss: returns (loss, y_pred, mask, dL/d(out or logits), fused)."""
        y_pred, mask = self.forward(x, training=training)
        fused = self._fused_output()
        out = self.layers[-1].logits if fused else y_pred
        loss, grad = self.loss.value_and_grad(y, out, sample_weight, mask, logits=fused)
        return loss, y_pred, mask, grad, fused

    def train_on_batch(self, x, y, sample_weight=None) -> float:
        """One optimizer step on one batch; returns the batch's loss."""
        self._require_compiled()
        x, y = self._check_data(x, y)
        return self._train_step(x, y, sample_weight)[0]

    def _train_step(self, x, y, sample_weight):
        """Forward, backward and (if loss and gradients are finite) one update.
        Returns (loss, y_pred, mask, gradient norm); a non-finite loss or norm means
        the weights were left untouched."""
        loss, y_pred, mask, grad, fused = self.compute_loss(x, y, sample_weight, training=True)
        gnorm = math.nan
        if np.isfinite(loss):
            self.backward(grad, from_logits=fused, input_grad=False)
            grads = self.gradients()
            gnorm = optimizers.global_norm(grads)
            if np.isfinite(gnorm):
                self.optimizer.apply([w for _, w in self.trainable_weights()], grads)
        return loss, y_pred, mask, gnorm

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
                self.build(x.shape[1:])
            x = first.check_ids(x)
        else:
            validation.check_finite(x, "x")
            if not self.built:
                self.build(x.shape[1:])
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
        bucket_by_length: bool = False,
        checkpoint_dir=None,
        checkpoint_every="epoch",
        keep_checkpoints: int = 3,
        resume=None,
        on_nonfinite: str = "raise",
    ) -> History:
        """Train for ``epochs`` passes over (x, y); returns a History.

        Args:
            x, y: inputs and targets (y one-hot for categorical_crossentropy,
                integer labels for sparse_categorical_crossentropy).
            batch_size: samples per step, default 32.
            epochs: index of the last epoch to train (with ``initial_epoch``).
            verbose: 0 silent, 1 (or "auto") a progress bar per epoch, 2 one line.
            callbacks: list of :class:`rnnkit.callbacks.Callback`.
            validation_split: fraction of the samples, taken from the end before
                shuffling (as Keras), held out for validation.
            validation_data: (x_val, y_val) or (x_val, y_val, sample_weight).
            shuffle: reshuffle the samples every epoch.
            class_weight: dict class -> weight, applied as sample weights.
            sample_weight: array (samples,) of per-sample loss weights.
            initial_epoch: epoch to start from (for resuming).
            bucket_by_length: (rnnkit extension) with a masking ``Embedding`` first,
                form batches of stories of similar length, in random order, so that
                the trimming of all-padding steps saves the most time. The gradient of
                each batch is unchanged by padding; only which samples share a batch
                differs from plain shuffling.
            checkpoint_dir: write crash-safe checkpoints here (see
                :mod:`rnnkit.models.checkpoint`); also set by a BackupAndRestore callback.
            checkpoint_every: ``"epoch"`` or a number of batches.
            keep_checkpoints: how many checkpoints to keep (newest).
            resume: continue from a checkpoint: a checkpoint file, a folder (its newest),
                or True (the newest in ``checkpoint_dir``; a fresh start if none). The
                model, data and fit arguments must be those of the interrupted run; the
                result is then identical to an uninterrupted run.
            on_nonfinite: ``"raise"`` (default) stops with FloatingPointError naming the
                epoch and batch when the loss or the gradients are NaN or inf; ``"skip"``
                drops that batch and goes on. The weights are never updated with a
                non-finite gradient, and no checkpoint is written from such a state.
        Raises:
            ValueError, TypeError: for malformed data or arguments, before training.
            FloatingPointError: when the loss or gradients become NaN or inf.
        """
        from ..callbacks import BackupAndRestore
        from . import checkpoint as ckpt_mod

        self._require_compiled()
        batch_size = 32 if batch_size is None else validation.positive_int(batch_size, "batch_size")
        epochs = int(epochs)
        verbose = 1 if verbose == "auto" else int(verbose)
        validation_split = validation.fraction(validation_split, "validation_split")
        x, y = self._check_data(x, y)
        n = _n(x)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=float)
            if sample_weight.shape[0] != n:
                raise ValueError(
                    f"sample_weight has {sample_weight.shape[0]} entries; expected one per "
                    f"sample ({n})."
                )
        if sample_weight is not None:
            validation.check_finite(sample_weight, "sample_weight")
            if np.any(sample_weight < 0):
                raise ValueError(
                    "Received an invalid value for argument sample_weight: expected weights "
                    f">= 0, got min {sample_weight.min()}."
                )
        if class_weight is not None:
            cw = self._class_weights(y, class_weight)
            sample_weight = cw if sample_weight is None else sample_weight * cw
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
        if validation_data is not None:
            if len(validation_data) not in (2, 3):
                raise ValueError(
                    "validation_data must be (x_val, y_val) or (x_val, y_val, sample_weight), "
                    f"got a sequence of {len(validation_data)}."
                )
            val_x, val_y = self._check_data(validation_data[0], validation_data[1])
            val_sw = validation_data[2] if len(validation_data) == 3 else None

        if on_nonfinite not in ("raise", "skip"):
            raise ValueError(
                f"Received an invalid value for argument on_nonfinite, expected 'raise' or "
                f"'skip', got {on_nonfinite!r}."
            )
        history = History()
        cbs: list[Callback] = list(callbacks or []) + [history]  # History last, as Keras
        for cb in cbs:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be rnnkit Callback instances, got {cb!r}.")
            cb.set_model(self)
            if isinstance(cb, BackupAndRestore):
                checkpoint_dir, checkpoint_every = cb.backup_dir, cb.save_freq
                keep_checkpoints = cb.keep
                resume = True if resume is None else resume
        every_batches = None
        if checkpoint_every != "epoch":
            every_batches = validation.positive_int(checkpoint_every, "checkpoint_every")
        keep_checkpoints = validation.positive_int(keep_checkpoints, "keep_checkpoints")
        n_batches = math.ceil(n / batch_size)

        def save_checkpoint(epoch, next_batch, batches, totals):
            if checkpoint_dir is None:
                return
            ckpt_mod.write(
                checkpoint_dir,
                self,
                ckpt_mod.TrainingPosition(
                    epoch,
                    next_batch,
                    batches,
                    None if totals is None else totals.state(),
                    n,
                    batch_size,
                ),
                cbs,
                keep_checkpoints,
            )

        self.stop_training = False
        self.history = history
        self.skipped_batches = 0
        for cb in cbs:
            cb.on_train_begin()
        # restore after on_train_begin, which resets the callbacks' own state
        position = None
        if resume is not None and resume is not False:
            source = checkpoint_dir if resume is True else resume
            if source is None:
                raise ValueError("resume=True needs checkpoint_dir (or a BackupAndRestore).")
            found = ckpt_mod.latest(source)
            if found is None and resume is not True:
                raise FileNotFoundError(f"No checkpoint to resume from in {os.fspath(source)!r}.")
            if found is not None:
                position = ckpt_mod.restore(found, self, cbs)
                if (position.n_samples, position.batch_size) != (n, batch_size):
                    raise ValueError(
                        f"Checkpoint {found} was written for {position.n_samples} training "
                        f"samples in batches of {position.batch_size}; this fit has {n} in "
                        f"batches of {batch_size}. Resume with the same data and arguments."
                    )
                initial_epoch = position.epoch

        for epoch in range(initial_epoch, epochs):
            for cb in cbs:
                cb.on_epoch_begin(epoch)
            first = 0
            if position is not None and position.batches is not None and position.epoch == epoch:
                batches, first = position.batches, position.batch
                totals = _Totals.from_state(self.metric_fns, position.totals)
            else:
                order = self.rng.permutation(n) if shuffle else np.arange(n)
                if bucket_by_length and shuffle:
                    batches = self._length_buckets(x, order, batch_size)
                else:
                    batches = [
                        order[b * batch_size : (b + 1) * batch_size] for b in range(n_batches)
                    ]
                totals = _Totals(self.metric_fns)
            position = None
            started, seen_steps = time.perf_counter(), 0  # time steps per second, for the bar
            bar = tqdm(
                total=len(batches),
                initial=first,
                desc=f"Epoch {epoch + 1}/{epochs}",
                unit="batch",
                disable=verbose != 1,
                leave=True,
                file=sys.stderr,
                dynamic_ncols=True,
            )
            with bar:
                for b in range(first, len(batches)):
                    idx = np.sort(batches[b]) if shuffle else batches[b]
                    yb = _take(y, idx)
                    swb = None if sample_weight is None else sample_weight[idx]
                    xb, yb = self._trim_padding(_take(x, idx), yb)
                    loss, y_pred, mask, gnorm = self._train_step(xb, yb, swb)
                    if not (np.isfinite(loss) and np.isfinite(gnorm)):
                        what = "loss" if not np.isfinite(loss) else "gradient norm"
                        value = loss if not np.isfinite(loss) else gnorm
                        if on_nonfinite == "raise":
                            saved = (
                                (
                                    f"; the last checkpoint in {os.fspath(checkpoint_dir)!r} "
                                    f"is intact"
                                )
                                if checkpoint_dir is not None
                                else ""
                            )
                            raise FloatingPointError(
                                f"The {what} became {value} at epoch {epoch + 1}, batch "
                                f"{b + 1}; training stopped, weights not updated{saved} "
                                f"(lower the learning rate, clip gradients, or pass "
                                f"on_nonfinite='skip')."
                            )
                        self.skipped_batches += 1
                        bar.update(1)
                        continue
                    totals.add(loss, len(idx), yb, y_pred, mask)
                    for cb in cbs:
                        cb.on_train_batch_end(b, {"loss": loss})
                    first_input = xb[0] if isinstance(xb, list) else xb
                    seen_steps += len(idx) * (first_input.shape[1] if first_input.ndim >= 2 else 1)
                    rate = seen_steps / max(time.perf_counter() - started, 1e-9)
                    bar.set_postfix({**totals.logs(), "tok/s": f"{rate:.0f}"}, refresh=False)
                    bar.update(1)
                    if (
                        every_batches is not None
                        and (b + 1) % every_batches == 0
                        and b + 1 < len(batches)
                    ):
                        save_checkpoint(epoch, b + 1, batches, totals)
                logs = totals.logs()
                if validation_data is not None:
                    val = self._evaluate_arrays(val_x, val_y, val_sw, batch_size)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                bar.set_postfix(logs, refresh=True)
            if verbose == 2:
                line = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
                print(f"Epoch {epoch + 1}/{epochs} - {line}", file=sys.stderr)
            for cb in cbs:
                cb.on_epoch_end(epoch, logs)
            save_checkpoint(epoch + 1, 0, None, None)
            if self.stop_training:
                break
        for cb in cbs:
            cb.on_train_end()
        for cb in cbs:
            if isinstance(cb, BackupAndRestore) and cb.delete_checkpoint:
                for path in ckpt_mod.list_checkpoints(cb.backup_dir):
                    path.unlink(missing_ok=True)
        return history

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

    def _class_weights(self, y, class_weight) -> np.ndarray:
        if not isinstance(class_weight, dict):
            raise TypeError(
                f"Received an invalid value for argument class_weight, expected a dict "
                f"class -> weight, got {type(class_weight).__name__}."
            )
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
            totals.add(loss, _n(yb), yb, y_pred, mask)
        return totals.logs()

    def evaluate(self, x, y, batch_size=None, verbose=0, sample_weight=None, return_dict=False):
        """Loss and metrics on (x, y): a float if there are no metrics, else
        ``[loss, metric, …]`` (or a dict with ``return_dict=True``)."""
        self._require_compiled()
        x, y = self._check_data(x, y)
        batch_size = 32 if batch_size is None else validation.positive_int(batch_size, "batch_size")
        logs = self._evaluate_arrays(x, y, sample_weight, batch_size)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose=0) -> np.ndarray:
        """The model's outputs for ``x``, in batches of ``batch_size`` (default 32)."""
        x = self._check_x(x)
        batch_size = 32 if batch_size is None else validation.positive_int(batch_size, "batch_size")
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
        """Zero states for :meth:`step`: one list per recurrent layer."""
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
                Flatten, RepeatVector), or states of the wrong structure.
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
        return self.forward(self._check_x(x), training=False)[0]

    def __call__(self, x, training=False):
        return self.forward(self._check_x(x), training=training)[0]

    # ---- description, saving --------------------------------------------------
    def summary(self, print_fn=print) -> None:
        """Print the layers, their output shapes and parameter counts (as Keras)."""
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
        from ..layers import serialize

        return {
            "name": self.name,
            "input_shape": None if self._input_shape is None else list(self._input_shape),
            "layers": [serialize(l) for l in self.layers],
        }

    @classmethod
    def from_config(cls, config: dict) -> Sequential:
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
            model.build(tuple(config["input_shape"]))
        return model

    def save(self, filepath, include_optimizer: bool = True) -> None:
        """Save architecture, weights and (optionally) optimizer state to one file,
        atomically. See :mod:`rnnkit.models.saving` for the format."""
        from .saving import save_model

        save_model(self, filepath, include_optimizer=include_optimizer)

    def save_weights(self, filepath) -> None:
        from .saving import save_weights

        save_weights(self, filepath)

    def load_weights(self, filepath) -> None:
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


class _Totals:
    """Running sums for an epoch's loss and metrics (exact means over entries)."""

    def __init__(self, metric_fns):
        self.metric_fns = metric_fns
        self.loss_sum = 0.0
        self.count = 0
        self.sums = [0.0] * len(metric_fns)
        self.counts = [0] * len(metric_fns)

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
        }

    @classmethod
    def from_state(cls, metric_fns, state: dict) -> _Totals:
        totals = cls(metric_fns)
        totals.loss_sum, totals.count = state["loss_sum"], state["count"]
        totals.sums, totals.counts = list(state["sums"]), list(state["counts"])
        return totals

    def logs(self) -> dict:
        logs = {"loss": self.loss_sum / max(self.count, 1)}
        for (name, _), s, c in zip(self.metric_fns, self.sums, self.counts):
            logs[name] = s / max(c, 1)
        return logs

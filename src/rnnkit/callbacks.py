"""Training callbacks with Keras's names and hooks: History, EarlyStopping,
ModelCheckpoint, CSVLogger, BackupAndRestore, LearningRateScheduler,
ReduceLROnPlateau, TensorBoard, LambdaCallback.

An epoch in which nothing was trained (every batch skipped for a non-finite step:
a NaN ``loss``) or whose monitored value is NaN is never an improvement for the
callbacks that monitor a value."""

from __future__ import annotations

import csv
import math
import os
import time
import warnings

import numpy as np


class Callback:
    """Base class of the callbacks: override any hook.

    ``fit`` calls :meth:`set_model` on every callback before training, then
    ``on_train_begin()``, ``on_epoch_begin(epoch)`` and ``on_epoch_end(epoch, logs)``
    around each epoch, ``on_train_batch_begin(batch)`` and
    ``on_train_batch_end(batch, logs)`` around each batch, and ``on_train_end()``.
    ``epoch`` and ``batch`` count from 0; an epoch's ``logs`` hold ``loss``, the
    metrics and the ``val_*`` values, a batch's ``loss`` and ``gradient_norm``.

    Example:
        >>> from rnnkit.callbacks import Callback
        >>> class Losses(Callback):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.seen = []
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         self.seen.append(epoch)
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential
        >>> x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = Sequential([layers.Input((3,)), layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> losses = Losses()
        >>> _ = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[losses])
        >>> losses.seen
        [0, 1, 2]
    """

    def __init__(self):
        self.model = None

    def set_model(self, model) -> None:
        """Attach the model being trained (``fit`` calls it).

        Args:
            model: the model, stored as ``self.model``.
        """
        self.model = model

    def on_train_begin(self, logs=None):
        """Called once when ``fit`` starts (before a resume restores the state).

        Args:
            logs: unused here (``fit`` passes none) (default None).
        """

    def on_train_end(self, logs=None):
        """Called once when training ends normally.

        Args:
            logs: unused here (``fit`` passes none) (default None).
        """

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of every epoch.

        Args:
            epoch: the epoch, from 0.
            logs: unused here (``fit`` passes none) (default None).
        """

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of every epoch, after validation.

        Args:
            epoch: the epoch, from 0.
            logs: the epoch's values: ``loss``, the metrics, the ``val_*`` ones; a
                callback may add entries (default None).
        """

    def on_train_batch_begin(self, batch, logs=None):
        """Called before every training batch.

        Args:
            batch: the batch in its epoch, from 0.
            logs: unused here (``fit`` passes none) (default None).
        """

    def on_train_batch_end(self, batch, logs=None):
        """Called after every training batch.

        Args:
            batch: the batch in its epoch, from 0.
            logs: ``loss`` and ``gradient_norm`` of the batch (default None).
        """

    def get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """What a checkpoint must hold to resume this callback exactly.

        Returns:
            A pair ``(values, arrays)``: a dict of JSON-able values and a dict of
            named arrays. Stateless callbacks return two empty dicts.
        """
        return {}, {}

    def set_state(self, values: dict, arrays: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`get_state` returned.

        Args:
            values: the JSON-able values.
            arrays: the named arrays.

        Raises:
            ValueError: a saved value of the wrong kind (in the callbacks that keep a
                state).
        """


def _saved_number(values: dict, key: str) -> float:
    """A number from a saved callback state (NaN and +-inf allowed: a best so far)."""
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key!r} must be a number, got {value!r}")
    return float(value)


def _saved_count(values: dict, key: str) -> int:
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key!r} must be an integer >= 0, got {value!r}")
    return value


class History(Callback):
    """Records every epoch's logs; ``fit`` adds one itself and returns it.

    Attributes:
        history: dict from each log name to its list of values, one per epoch
            (``history.history["loss"]``).
        epoch: the indices (from 0) of the epochs recorded.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential
        >>> x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = Sequential([layers.Input((3,)), layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        >>> sorted(history.history), history.epoch
        (['loss'], [0, 1])
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def get_state(self):
        return {"history": self.history, "epoch": self.epoch}, {}

    def set_state(self, values, arrays):
        history, epochs = values["history"], values["epoch"]
        if not isinstance(history, dict) or not all(
            isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)
            for v in history.values()
        ):
            raise ValueError("'history' must map log names to lists of numbers")
        if not isinstance(epochs, list) or not all(
            isinstance(e, int) and not isinstance(e, bool) and e >= 0 for e in epochs
        ):
            raise ValueError("'epoch' must be a list of epoch indices")
        self.history = {k: list(v) for k, v in history.items()}
        self.epoch = list(epochs)


def _diverged(logs, monitor: str) -> bool:
    """An epoch that cannot count as an improvement: its monitored value is missing or
    not finite, or nothing was trained (every batch skipped: a NaN training loss)."""
    logs = logs or {}
    value, loss = logs.get(monitor), logs.get("loss")
    if value is None or not math.isfinite(value):
        return True
    return loss is not None and not math.isfinite(loss)


def _mode_better(mode: str, monitor: str):
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.endswith("f1")) else "min"
    if mode not in ("min", "max"):
        raise ValueError(
            f"Received an invalid value for argument mode, expected 'auto', 'min' or 'max', "
            f"got {mode!r}."
        )
    return mode


class EarlyStopping(Callback):
    """Stops training when ``monitor`` has not improved by ``min_delta`` for
    ``patience`` epochs; optionally restores the best epoch's weights.

    An epoch improves when its value beats the best so far by more than
    ``min_delta``; training stops at the end of the epoch that makes ``patience``
    epochs in a row without improvement (with ``patience=0``, the first one).

    Args:
        monitor: the log key to watch (default ``"val_loss"``).
        min_delta: smallest change that counts as an improvement; its absolute value
            is used (default 0.0).
        patience: epochs without improvement before stopping (default 0).
        verbose: when true, print the epoch that stopped training and the best epoch
            at the end (default 0).
        mode: ``"min"``, ``"max"`` or ``"auto"`` (default): ``"max"`` when the
            monitor's name contains ``"acc"`` or ends with ``"f1"``, else ``"min"``.
        baseline: a value the monitor must beat to count as an improvement (default
            None: the first finite value does).
        restore_best_weights: at the end of training, put back the weights of the
            best epoch, if one improved (default False).
        start_from_epoch: epochs (from 0) during which nothing is monitored
            (default 0).

    Raises:
        ValueError: ``mode`` is not ``"auto"``, ``"min"`` or ``"max"``; at an epoch's
            end, ``monitor`` is not among the logged values.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential
        >>> x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = Sequential([layers.Input((3,)), layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> from rnnkit.callbacks import EarlyStopping
        >>> stop = EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
        >>> history = model.fit(x, y, epochs=50, batch_size=8, verbose=0, callbacks=[stop])
        >>> len(history.epoch) <= 50
        True
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0.0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = _mode_better(mode, monitor)
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)

    def _improved(self, value, reference):
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        if self.baseline is not None:
            self.best = float(self.baseline)
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r}, which is not among the logged "
                f"values {sorted(logs or {})}; pass validation data or another monitor."
            )
        if epoch < self.start_from_epoch:
            return
        if not _diverged(logs, self.monitor) and self._improved(value, self.best):
            # best starts at +-inf (or the baseline)
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def get_state(self):
        values = {
            "wait": self.wait,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
            "n_best": None if self.best_weights is None else len(self.best_weights),
        }
        arrays = {f"best/{i}": w for i, w in enumerate(self.best_weights or [])}
        return values, arrays

    def set_state(self, values, arrays):
        wait, best = _saved_count(values, "wait"), _saved_number(values, "best")
        best_epoch, stopped = (
            _saved_count(values, "best_epoch"),
            _saved_count(values, "stopped_epoch"),
        )
        n = values["n_best"]
        best_weights = None
        if n is not None:
            ours = [w for _, w in self.model.weights()] if self.model is not None else None
            if (
                isinstance(n, bool)
                or not isinstance(n, int)
                or (ours is not None and n != len(ours))
            ):
                raise ValueError(f"'n_best' must be the model's number of weights, got {n!r}")
            best_weights = [arrays[f"best/{i}"] for i in range(n)]
            if ours is not None and any(a.shape != b.shape for a, b in zip(best_weights, ours)):
                raise ValueError("the best weights do not have the model's shapes")
        self.wait, self.best, self.best_epoch, self.stopped_epoch = wait, best, best_epoch, stopped
        self.best_weights = best_weights

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
        if self.verbose and self.stopped_epoch:
            print(
                f"Epoch {self.stopped_epoch + 1}: early stopping (best epoch {self.best_epoch + 1})"
            )


class ModelCheckpoint(Callback):
    """Saves the model (atomically) after each epoch, or only when ``monitor``
    improves.

    ``filepath`` is formatted with ``epoch`` (counted from 1) and the epoch's log
    values, e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.rnnkit"``. An epoch whose weights
    hold NaN or inf is not saved (a warning says so).

    Args:
        filepath: where to save, a path or a format string of one.
        monitor: the log key that ``save_best_only`` compares (default
            ``"val_loss"``).
        verbose: when true, print each save (default 0).
        save_best_only: save only when ``monitor`` beats the best so far; an epoch
            whose monitored value is missing or not finite is not saved (default
            False: save every epoch).
        save_weights_only: save with ``model.save_weights`` instead of
            ``model.save`` (default False).
        mode: ``"min"``, ``"max"`` or ``"auto"`` (default), as for
            :class:`EarlyStopping`.

    Raises:
        ValueError: a bad ``mode``.
        KeyError: at an epoch's end, ``filepath`` names a key that is not logged.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential
        >>> x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = Sequential([layers.Input((3,)), layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> from rnnkit.callbacks import ModelCheckpoint
        >>> folder = tempfile.mkdtemp()
        >>> save = ModelCheckpoint(os.path.join(folder, "model-{epoch:02d}.rnnkit"))
        >>> _ = model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[save])
        >>> sorted(os.listdir(folder))
        ['model-01.rnnkit', 'model-02.rnnkit']
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
    ):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.mode = _mode_better(mode, monitor)
        self.best = math.inf if self.mode == "min" else -math.inf

    def get_state(self):
        return {"best": self.best}, {}

    def set_state(self, values, arrays):
        self.best = _saved_number(values, "best")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            value = logs.get(self.monitor)
            if _diverged(logs, self.monitor):
                return
            better = value < self.best if self.mode == "min" else value > self.best
            if not better:
                return
            self.best = value
        if not all(np.isfinite(w).all() for _, w in self.model.weights() if w.dtype.kind == "f"):
            warnings.warn(
                f"Epoch {epoch + 1}: the model's weights are NaN or inf; not saved to {path}.",
                stacklevel=2,
            )
            return
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved model to {path}")


class CSVLogger(Callback):
    """Writes each epoch's logs as a CSV row, with an ``epoch`` column (from 1).

    After every epoch the whole file is rewritten atomically with the rows this
    callback has seen, so an existing file is replaced, not appended to.

    Args:
        filename: the CSV file's path.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential
        >>> x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = Sequential([layers.Input((3,)), layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> from rnnkit.callbacks import CSVLogger
        >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
        >>> _ = model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[CSVLogger(path)])
        >>> with open(path) as f:
        ...     print(f.readline().strip(), len(f.readlines()))
        epoch,loss 2
    """

    def __init__(self, filename):
        super().__init__()
        self.filename = os.fspath(filename)
        self.rows: list[dict] = []

    def on_epoch_end(self, epoch, logs=None):
        from .utils.io import atomic_write

        self.rows.append({"epoch": epoch + 1, **(logs or {})})
        keys = list(dict.fromkeys(k for row in self.rows for k in row))
        with atomic_write(self.filename, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)


class BackupAndRestore(Callback):
    """Crash-safe training, as Keras's callback of the same name: checkpoints go to
    ``backup_dir`` every epoch (or every ``save_freq`` batches), atomically, keeping the
    last ``keep``; a later ``fit`` with the same callback resumes from the newest one
    exactly — same weights, optimizer state, random generators and data order. The
    folder belongs to one run (see :mod:`rnnkit.models.checkpoint`): while it trains a
    lock refuses a second process, and the run prunes only its own checkpoints.

    The callback only carries these settings: ``fit`` uses them as its
    ``checkpoint_dir``, ``checkpoint_every`` and ``keep_checkpoints``, and resumes
    (``resume=True`` unless ``resume`` is given).

    Args:
        backup_dir: folder for the checkpoints.
        save_freq: ``"epoch"`` (default) or a positive number of batches.
        keep: how many checkpoints to keep (default 3).
        delete_checkpoint: remove this run's checkpoints when training finishes
            normally (default False: a finished run stays resumable for more epochs).

    Raises:
        ValueError: ``save_freq`` is neither ``"epoch"`` nor a positive int, or
            ``keep`` is not a positive int.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential
        >>> x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = Sequential([layers.Input((3,)), layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> from rnnkit.callbacks import BackupAndRestore, LambdaCallback
        >>> backup = BackupAndRestore(tempfile.mkdtemp())
        >>> _ = model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[backup])
        >>> seen = []
        >>> log = LambdaCallback(on_epoch_begin=seen.append)
        >>> _ = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[backup, log])
        >>> seen  # resumed after the two epochs already trained
        [2]
    """

    def __init__(self, backup_dir, save_freq="epoch", keep: int = 3, delete_checkpoint=False):
        super().__init__()
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq <= 0
        ):
            raise ValueError(
                f"Received an invalid value for argument save_freq, expected 'epoch' or a "
                f"positive int, got {save_freq!r}."
            )
        if isinstance(keep, bool) or not isinstance(keep, int) or keep <= 0:
            raise ValueError(
                f"Received an invalid value for argument keep, expected a positive int, got "
                f"{keep!r}."
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.keep = keep
        self.delete_checkpoint = bool(delete_checkpoint)


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of every epoch to
    ``schedule(epoch, lr)`` (Keras's callback; see :func:`step_decay`,
    :func:`cosine_decay` for ready-made schedules), and logs it as ``lr`` at the
    epoch's end.

    Args:
        schedule: a callable ``(epoch, lr) -> lr``, ``epoch`` counted from 0 and
            ``lr`` the current rate.
        verbose: when true, print the rate set at each epoch (default 0).

    Raises:
        TypeError: ``schedule`` is not callable.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential
        >>> x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = Sequential([layers.Input((3,)), layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> from rnnkit.callbacks import LearningRateScheduler
        >>> halve = LearningRateScheduler(lambda epoch, lr: 0.01 / 2**epoch)
        >>> history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[halve])
        >>> tuple(history.history["lr"])
        (0.01, 0.005, 0.0025)
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                f"Received an invalid value for argument schedule, expected a callable "
                f"(epoch, lr) -> lr, got {schedule!r}."
            )
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = float(self.schedule(epoch, self.model.optimizer.learning_rate))
        self.model.optimizer.lr = lr  # validated: positive and finite
        if self.verbose:
            print(f"Epoch {epoch + 1}: learning rate {lr:.3g}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = self.model.optimizer.learning_rate


def step_decay(initial_lr: float, factor: float = 0.5, every: int = 10):
    """A step schedule for :class:`LearningRateScheduler`:
    lr = initial_lr · factor^(epoch // every).

    Args:
        initial_lr: the rate of the first ``every`` epochs.
        factor: what the rate is multiplied by every ``every`` epochs (default 0.5).
        every: epochs between steps (default 10).

    Returns:
        A function ``(epoch, lr) -> lr`` that ignores the current ``lr``.

    Example:
        >>> from rnnkit.callbacks import step_decay
        >>> schedule = step_decay(0.1, factor=0.5, every=2)
        >>> tuple(schedule(epoch, None) for epoch in range(5))
        (0.1, 0.1, 0.05, 0.05, 0.025)
    """
    return lambda epoch, lr: initial_lr * factor ** (epoch // every)


def cosine_decay(initial_lr: float, epochs: int, final_lr: float = 0.0, warmup: int = 0):
    """A cosine schedule for :class:`LearningRateScheduler`: annealing from
    ``initial_lr`` to ``final_lr`` over ``epochs``, after an optional linear warm-up
    of ``warmup`` epochs.

    During the warm-up epoch ``e`` gets ``initial_lr * (e + 1) / warmup``; from then
    on the rate follows half a cosine and stays at ``final_lr`` after ``epochs``.

    Args:
        initial_lr: the rate at the end of the warm-up (or at epoch 0).
        epochs: the epoch (from 0, warm-up included) where ``final_lr`` is reached.
        final_lr: the last rate (default 0.0).
        warmup: epochs of linear warm-up (default 0).

    Returns:
        A function ``(epoch, lr) -> lr`` that ignores the current ``lr``.

    Example:
        >>> from rnnkit.callbacks import cosine_decay
        >>> schedule = cosine_decay(0.1, epochs=4)
        >>> tuple(round(schedule(epoch, None), 4) for epoch in range(5))
        (0.1, 0.0854, 0.05, 0.0146, 0.0)
    """

    def schedule(epoch, lr):
        if epoch < warmup:
            return initial_lr * (epoch + 1) / warmup
        progress = min(1.0, (epoch - warmup) / max(1, epochs - warmup))
        return final_lr + 0.5 * (initial_lr - final_lr) * (1 + math.cos(math.pi * progress))

    return schedule


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by ``factor`` when ``monitor`` has not improved for
    ``patience`` epochs, waiting ``cooldown`` epochs after each cut, never below
    ``min_lr`` (Keras's callback). The rate is logged as ``lr`` at each epoch's end.

    Args:
        monitor: the log key to watch (default ``"val_loss"``).
        factor: what the rate is multiplied by, in (0, 1) (default 0.1).
        patience: epochs without improvement before a cut (default 10).
        verbose: when true, print each cut (default 0).
        mode: ``"min"``, ``"max"`` or ``"auto"`` (default), as for
            :class:`EarlyStopping`.
        min_delta: smallest change that counts as an improvement; its absolute value
            is used (default 1e-4).
        cooldown: epochs after a cut during which no epoch counts toward
            ``patience`` (default 0).
        min_lr: the lowest rate (default 0.0).

    Raises:
        ValueError: ``factor`` is not in (0, 1), a bad ``mode``, or, at an epoch's
            end, ``monitor`` is not among the logged values.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential
        >>> x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = Sequential([layers.Input((3,)), layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> from rnnkit.callbacks import ReduceLROnPlateau
        >>> cut = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e9)
        >>> history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[cut])
        >>> tuple(history.history["lr"])  # logged before the epoch's cut
        (0.01, 0.01, 0.005)
        >>> model.optimizer.learning_rate  # only the first epoch improved
        0.0025
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        super().__init__()
        if not 0 < factor < 1:
            raise ValueError(
                f"Received an invalid value for argument factor, expected a number in (0, 1), "
                f"got {factor!r}."
            )
        self.monitor, self.factor, self.patience = monitor, float(factor), int(patience)
        self.verbose, self.min_delta = verbose, abs(float(min_delta))
        self.cooldown, self.min_lr = int(cooldown), float(min_lr)
        self.mode = _mode_better(mode, monitor)
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        value = logs.get(self.monitor)
        if value is None:
            raise ValueError(
                f"ReduceLROnPlateau monitors {self.monitor!r}, which is not among the logged "
                f"values {sorted(logs)}."
            )
        logs["lr"] = self.model.optimizer.learning_rate
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        improved = not _diverged(logs, self.monitor) and (
            value < self.best - self.min_delta
            if self.mode == "min"
            else value > self.best + self.min_delta
        )
        if improved:
            self.best, self.wait = value, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = self.model.optimizer.learning_rate
                new = max(old * self.factor, self.min_lr)
                if new < old and new > 0:
                    self.model.optimizer.lr = new
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: learning rate reduced to {new:.3g}")
                self.cooldown_counter, self.wait = self.cooldown, 0

    def get_state(self):
        return {
            "best": self.best,
            "wait": self.wait,
            "cooldown": self.cooldown_counter,
            "lr": self.model.optimizer.learning_rate,
        }, {}

    def set_state(self, values, arrays):
        best, wait = _saved_number(values, "best"), _saved_count(values, "wait")
        self.best, self.wait, self.cooldown_counter = best, wait, _saved_count(values, "cooldown")


class ResetStates(Callback):
    """Resets the carried states of stateful layers at the start of every epoch (and
    every ``every`` batches, if given): the streams start afresh each pass.

    Args:
        every: also reset after every ``every`` batches (default None: at the
            epochs' starts only).

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.callbacks import ResetStates
        >>> from rnnkit.models import Sequential
        >>> x = np.ones((4, 5, 3), np.float32)
        >>> y = np.ones((4, 1), np.float32)
        >>> model = Sequential([layers.Input((5, 3), batch_size=2),
        ...                     layers.SimpleRNN(4, stateful=True), layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> _ = model.fit(x, y, epochs=2, batch_size=2, shuffle=False, verbose=0,
        ...               callbacks=[ResetStates(every=1)])
    """

    def __init__(self, every: int | None = None):
        super().__init__()
        self.every = every

    def on_epoch_begin(self, epoch, logs=None):
        self.model.reset_states()

    def on_train_batch_end(self, batch, logs=None):
        if self.every and (batch + 1) % self.every == 0:
            self.model.reset_states()


class TimeBudget(Callback):
    """Stops training before an epoch that would not end within ``seconds`` of training
    time, estimating an epoch's time by the longest so far (validation included). A
    resumed run counts the time spent before the interruption (the state travels with
    the checkpoints). Unlike a plain time-out it never stops mid-epoch, so a learning-rate
    schedule and the per-epoch checkpoints stay whole; set the number of epochs a little
    above what the budget allows, and it stops at the last one that fits.

    Args:
        seconds: the budget, a positive number.

    Raises:
        ValueError: ``seconds`` is not a positive number.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential
        >>> x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = Sequential([layers.Input((3,)), layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> from rnnkit.callbacks import TimeBudget
        >>> budget = TimeBudget(3600)
        >>> history = model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[budget])
        >>> budget.stopped_epoch is None  # both epochs fitted in the hour
        True
    """

    def __init__(self, seconds: float):
        super().__init__()
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
            raise ValueError(
                f"Received an invalid value for argument seconds, expected a positive number, "
                f"got {seconds!r}."
            )
        self.seconds = float(seconds)
        self.elapsed = 0.0
        self.longest = 0.0
        self.stopped_epoch: int | None = None
        self._start: float | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self._start is None:
            return
        took = time.perf_counter() - self._start
        self._start = None
        self.elapsed += took
        self.longest = max(self.longest, took)
        if self.elapsed + self.longest > self.seconds:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def get_state(self):
        return {"elapsed": self.elapsed, "longest": self.longest}, {}

    def set_state(self, values, arrays):
        elapsed, longest = _saved_number(values, "elapsed"), _saved_number(values, "longest")
        if not (elapsed >= 0 and longest >= 0 and math.isfinite(elapsed + longest)):
            raise ValueError("'elapsed' and 'longest' must be finite numbers >= 0")
        self.elapsed, self.longest = elapsed, longest


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=f)``.

    Each function is called with what ``fit`` passes to the hook it replaces:
    ``(epoch)`` for ``on_epoch_begin``, ``(epoch, logs)`` for ``on_epoch_end``,
    ``(batch, logs)`` for ``on_train_batch_end``, and no argument for
    ``on_train_begin`` and ``on_train_end``.

    Args:
        on_epoch_begin: called at the start of every epoch (default None).
        on_epoch_end: called at the end of every epoch (default None).
        on_train_begin: called when training starts (default None).
        on_train_end: called when training ends (default None).
        on_train_batch_end: called after every batch (default None).

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential
        >>> x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = Sequential([layers.Input((3,)), layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> from rnnkit.callbacks import LambdaCallback
        >>> seen = []
        >>> log = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
        >>> _ = model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[log])
        >>> seen
        [0, 1]
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_end=None,
    ):
        super().__init__()
        for name, fn in [
            ("on_epoch_begin", on_epoch_begin),
            ("on_epoch_end", on_epoch_end),
            ("on_train_begin", on_train_begin),
            ("on_train_end", on_train_end),
            ("on_train_batch_end", on_train_batch_end),
        ]:
            if fn is not None:
                setattr(self, name, fn)


class TensorBoard(Callback):
    """Writes event files that TensorBoard reads, as Keras's callback of the same
    name: in ``log_dir/train`` the training scalars (``epoch_loss``,
    ``epoch_<metric>``, ``epoch_learning_rate``, ``epoch_skipped_batches``; per batch
    ``batch_loss`` and ``batch_gradient_norm``), in ``log_dir/validation`` the
    validation ones (``epoch_loss``, ...), and every ``histogram_freq`` epochs the
    histograms of each weight and of the epoch's gradient norms (the global norm of
    each batch, and each weight's gradient norm per batch). Written with tensorboardX
    (the ``tensorboard`` extra).

    Args:
        log_dir: folder for the event files (default ``"logs"``).
        histogram_freq: epochs between histograms; 0 (default) writes none.
        update_freq: ``"epoch"`` (default) writes scalars after each epoch only;
            ``"batch"`` also after every batch; an integer N every N batches.

    Raises:
        ImportError: tensorboardX is missing (``pip install rnnkit[tensorboard]``).
        ValueError: ``histogram_freq`` is not an integer >= 0, or ``update_freq`` is
            not ``"epoch"``, ``"batch"`` or a positive integer.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential
        >>> x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = Sequential([layers.Input((3,)), layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> from rnnkit.callbacks import TensorBoard
        >>> log_dir = tempfile.mkdtemp()
        >>> board = TensorBoard(log_dir, histogram_freq=1, update_freq="batch")
        >>> _ = model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[board])
        >>> sorted(os.listdir(log_dir))
        ['train']
    """

    def __init__(self, log_dir="logs", histogram_freq: int = 0, update_freq="epoch"):
        super().__init__()
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ImportError(
                "The TensorBoard callback writes with tensorboardX, which is not installed: "
                "pip install rnnkit[tensorboard]"
            ) from None
        self._writer_class = SummaryWriter
        if (
            isinstance(histogram_freq, bool)
            or not isinstance(histogram_freq, (int, np.integer))
            or histogram_freq < 0
        ):
            raise ValueError(
                f"Received an invalid value for argument histogram_freq, expected an integer "
                f">= 0, got {histogram_freq!r}."
            )
        if update_freq not in ("epoch", "batch") and (
            isinstance(update_freq, bool)
            or not isinstance(update_freq, (int, np.integer))
            or update_freq <= 0
        ):
            raise ValueError(
                f"Received an invalid value for argument update_freq, expected 'epoch', "
                f"'batch' or a positive integer, got {update_freq!r}."
            )
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.step = 0  # batches trained over the whole run (resumes with the run)
        self._writers: dict = {}
        self._norms: list[float] = []
        self._weight_norms: dict[str, list[float]] = {}

    def _writer(self, kind: str):
        if kind not in self._writers:
            self._writers[kind] = self._writer_class(os.path.join(self.log_dir, kind))
        return self._writers[kind]

    def _histogram_epoch(self, epoch) -> bool:
        return self.histogram_freq > 0 and (epoch + 1) % self.histogram_freq == 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._norms, self._weight_norms = [], {}

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self.step += 1
        if self._histogram_epoch(getattr(self, "_epoch", 0)):
            if "gradient_norm" in logs:
                self._norms.append(float(logs["gradient_norm"]))
            grads = self.model.gradients()
            names = [n for n, _ in self.model.trainable_weights()]
            for name, g in zip(names, grads):
                values = getattr(g, "values", g)  # a row-sparse gradient's rows
                norm = float(np.sqrt(np.sum(np.square(values, dtype=np.float64))))
                self._weight_norms.setdefault(name, []).append(norm)
        if self.update_freq != "epoch" and self.step % self.update_freq == 0:
            writer = self._writer("train")
            for key, value in logs.items():
                if isinstance(value, (int, float, np.number)):
                    writer.add_scalar(f"batch_{key}", float(value), self.step)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train, val = self._writer("train"), None
        for key, value in logs.items():
            if not isinstance(value, (int, float, np.number)) or key == "lr":
                continue
            if key.startswith("val_"):
                val = val or self._writer("validation")
                val.add_scalar(f"epoch_{key[4:]}", float(value), epoch)
            else:
                train.add_scalar(f"epoch_{key}", float(value), epoch)
        train.add_scalar("epoch_learning_rate", float(self.model.optimizer.learning_rate), epoch)
        if self._histogram_epoch(epoch):
            for name, w in self.model.weights():
                train.add_histogram(name, np.asarray(w, dtype=np.float64), epoch)
            if self._norms:
                train.add_histogram("gradient_norm/global", np.asarray(self._norms), epoch)
            for name, norms in self._weight_norms.items():
                train.add_histogram(f"gradient_norm/{name}", np.asarray(norms), epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def get_state(self):
        return {"step": self.step}, {}

    def set_state(self, values, arrays):
        self.step = _saved_count(values, "step")

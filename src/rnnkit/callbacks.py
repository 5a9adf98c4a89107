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
        """Called before every training batch; by default calls :meth:`on_batch_begin`
        (Keras's older name of this hook).

        Args:
            batch: the batch in its epoch, from 0.
            logs: unused here (``fit`` passes none) (default None).
        """
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after every training batch; by default calls :meth:`on_batch_end`
        (Keras's older name of this hook).

        Args:
            batch: the batch in its epoch, from 0.
            logs: ``loss`` and ``gradient_norm`` of the batch (default None).
        """
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch, logs=None):
        """Keras's older name of :meth:`on_train_batch_begin`, called by it.

        Args:
            batch: the batch in its epoch, from 0.
            logs: as for :meth:`on_train_batch_begin` (default None).
        """

    def on_batch_end(self, batch, logs=None):
        """Keras's older name of :meth:`on_train_batch_end`, called by it.

        Args:
            batch: the batch in its epoch, from 0.
            logs: as for :meth:`on_train_batch_end` (default None).
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


def _count_arg(value, argument: str) -> int:
    """An integer >= 0 given to a constructor (patience, cooldown): not a bool, not 2.5."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(
            f"Received an invalid value for argument {argument}, expected an integer >= 0, "
            f"got {value!r}."
        )
    return int(value)


def _flag(value, argument: str) -> bool:
    """A bool given to a constructor: ``bool("False")`` would be True."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"Received an invalid value for argument {argument}, expected True or False, got "
            f"{value!r}."
        )
    return bool(value)


def _number_arg(value, argument: str, *, minimum: float | None = None) -> float:
    """A finite number given to a constructor (min_delta, min_lr), >= ``minimum`` if set."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"Received an invalid value for argument {argument}, expected a number, got {value!r}."
        )
    value = float(value)
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum:g}"
        raise ValueError(
            f"Received an invalid value for argument {argument}, expected a finite "
            f"number{bound}, got {value!r}."
        )
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
    if not isinstance(monitor, str) or not monitor:
        raise TypeError(
            f"Received an invalid value for argument monitor, expected the name of a "
            f"logged value (a string such as 'val_loss'), got {monitor!r}."
        )
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
        ValueError: ``mode`` is not ``"auto"``, ``"min"`` or ``"max"``; ``patience`` or
            ``start_from_epoch`` not an integer >= 0; ``min_delta`` or ``baseline`` not
            finite; at an epoch's end, ``monitor`` is not among the logged values.
        TypeError: ``min_delta`` or ``baseline`` not a number, ``monitor`` not a name,
            or ``restore_best_weights`` not a bool.

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
        self.min_delta = abs(_number_arg(min_delta, "min_delta"))
        self.patience = _count_arg(patience, "patience")
        self.verbose = verbose
        self.mode = _mode_better(mode, monitor)
        self.baseline = None if baseline is None else _number_arg(baseline, "baseline")
        self.restore_best_weights = _flag(restore_best_weights, "restore_best_weights")
        self.start_from_epoch = _count_arg(start_from_epoch, "start_from_epoch")

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
        TypeError: ``monitor`` not a name, or ``save_best_only`` /
            ``save_weights_only`` not a bool.
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
        self.save_best_only = _flag(save_best_only, "save_best_only")
        self.save_weights_only = _flag(save_weights_only, "save_weights_only")
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

    As Keras's callback: with ``append=False`` (default) each ``fit`` starts the file
    afresh, with ``append=True`` its rows follow those already in the file (a header
    is written only when the file is new or empty). A resumed ``fit`` (from a
    checkpoint, see :mod:`rnnkit.models.checkpoint`) keeps the rows written up to
    that checkpoint in either mode: they travel in the callback's saved state, and
    the epochs trained again replace the rows they had written. After every epoch the
    whole file is rewritten atomically, so a crash never leaves half a row; a column
    that appears later (``val_loss`` from a resumed run, ``lr``) is added to the
    header, with empty cells in the earlier rows.

    Args:
        filename: the CSV file's path.
        separator: the one-character delimiter between cells (default ``","``).
        append: add to an existing file instead of replacing it (default False).

    Raises:
        TypeError: ``append`` not a bool, or ``separator`` not a string.
        ValueError: ``separator`` not one character (or a quote or line break); when
            training starts with ``append=True``, a file that is not a readable text
            CSV.

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
        >>> log = CSVLogger(path, append=True)
        >>> _ = model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[log])
        >>> with open(path) as f:
        ...     print(f.readline().strip(), len(f.readlines()))
        epoch,loss 3
    """

    def __init__(self, filename, separator: str = ",", append: bool = False):
        super().__init__()
        if not isinstance(separator, str):
            raise TypeError(
                f"Received an invalid value for argument separator, expected a one-character "
                f"string, got {separator!r}."
            )
        if len(separator) != 1 or separator in '"\r\n':
            raise ValueError(
                f"Received an invalid value for argument separator, expected one character "
                f"other than a quote or a line break, got {separator!r}."
            )
        if not isinstance(append, (bool, np.bool_)):
            raise TypeError(
                f"Received an invalid value for argument append, expected True or False, got "
                f"{append!r}."
            )
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = bool(append)
        # every row the file holds, as the strings written (earlier runs' rows too)
        self.rows: list[dict[str, str]] = []

    def _read_existing(self) -> list[dict[str, str]]:
        if not os.path.isfile(self.filename):
            return []
        try:
            with open(self.filename, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f, delimiter=self.separator)
                rows = [dict(row) for row in reader]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ValueError(
                f"CSVLogger(append=True): {self.filename!r} is not a readable CSV file "
                f"({exc}); pass another filename or append=False to replace it."
            ) from None
        # cells beyond the header (key None) or missing (value None) stay empty
        return [{k: v or "" for k, v in row.items() if k is not None} for row in rows]

    def on_train_begin(self, logs=None):
        self.rows = self._read_existing() if self.append else []

    def on_epoch_end(self, epoch, logs=None):
        from .utils.io import atomic_write

        row = {"epoch": epoch + 1, **(logs or {})}
        self.rows.append({k: "" if v is None else str(v) for k, v in row.items()})
        keys = list(dict.fromkeys(k for row in self.rows for k in row))
        with atomic_write(self.filename, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=keys, delimiter=self.separator, restval="")
            writer.writeheader()
            writer.writerows(self.rows)

    def get_state(self):
        return {"rows": [dict(row) for row in self.rows]}, {}

    def set_state(self, values, arrays):
        rows = values.get("rows")
        if rows is None:  # a checkpoint from before the rows were saved
            return
        if not isinstance(rows, list) or not all(
            isinstance(row, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in row.items())
            for row in rows
        ):
            raise ValueError("'rows' must be a list of {column: text} rows")
        self.rows = [dict(row) for row in rows]


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
        >>> log = LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(epoch))
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
        TypeError: ``schedule`` is not callable; at an epoch's start, it returned
            something that is not a number.
        ValueError: at an epoch's start, it returned a rate that is not positive and
            finite.

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
        value = self.schedule(epoch, self.model.optimizer.learning_rate)
        if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)
        ):
            raise TypeError(
                f"LearningRateScheduler: schedule({epoch}, lr) returned {value!r}; expected "
                f"a number, the learning rate of epoch {epoch}."
            )
        if not (math.isfinite(value) and value > 0):
            raise ValueError(
                f"LearningRateScheduler: schedule({epoch}, lr) returned {value!r}; expected "
                f"a positive finite learning rate."
            )
        lr = float(value)
        self.model.optimizer.lr = lr
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
        ValueError: ``factor`` is not in (0, 1), ``patience`` or ``cooldown`` not an
            integer >= 0, ``min_lr`` negative or not finite, a bad ``mode``, or, at an
            epoch's end, ``monitor`` is not among the logged values.
        TypeError: ``factor``, ``min_delta`` or ``min_lr`` not a number, or
            ``monitor`` not a name.

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
        factor = _number_arg(factor, "factor")
        if not 0 < factor < 1:
            raise ValueError(
                f"Received an invalid value for argument factor, expected a number in (0, 1), "
                f"got {factor!r}."
            )
        self.monitor, self.factor = monitor, factor
        self.patience = _count_arg(patience, "patience")
        self.verbose, self.min_delta = verbose, abs(_number_arg(min_delta, "min_delta"))
        self.cooldown = _count_arg(cooldown, "cooldown")
        self.min_lr = _number_arg(min_lr, "min_lr", minimum=0.0)
        self.mode = _mode_better(mode, monitor)
        self._initial_lr: float | None = None  # the rate when this fit started
        self._pending: tuple[float, float | None] | None = None  # a restored (lr, initial)
        self.on_train_begin()

    def set_model(self, model) -> None:
        super().set_model(model)
        self._apply_restored_lr()

    def _optimizer(self):
        return getattr(self.model, "optimizer", None)

    def _apply_restored_lr(self) -> None:
        optimizer = self._optimizer()
        if self._pending is None or optimizer is None:
            return
        lr, initial = self._pending
        self._pending = None
        if initial is not None:
            # the cuts the plateau had made, on top of this run's starting rate: the
            # reached rate itself when the run resumes with its own optimizer, the same
            # cuts of a fresh one's rate with fit(resume_optimizer=False)
            start = self._initial_lr if self._initial_lr is not None else optimizer.learning_rate
            lr = max(start * (lr / initial), self.min_lr)
        optimizer.lr = lr

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.cooldown_counter = 0
        optimizer = self._optimizer()
        self._initial_lr = None if optimizer is None else optimizer.learning_rate

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
        optimizer = self._optimizer()
        if optimizer is None:
            lr, initial = self._pending or (None, None)
        else:
            lr, initial = optimizer.learning_rate, self._initial_lr
        return {
            "best": self.best,
            "wait": self.wait,
            "cooldown": self.cooldown_counter,
            "lr": lr,
            "initial_lr": initial,
        }, {}

    def set_state(self, values, arrays):
        """Restore the plateau's counters and the learning rate it had reached, on the
        model's optimizer (now, or when :meth:`set_model` attaches one): the saved
        ``lr`` scaled by this run's starting rate over the saved run's
        (``initial_lr``), so that a run resumed with its own optimizer continues at
        the rate reached, and one resumed with a fresh optimizer
        (``fit(resume_optimizer=False)``) gets the same cuts of its own rate.

        Args:
            values: ``best``, ``wait``, ``cooldown``, ``lr`` and ``initial_lr``, as
                :meth:`get_state` returns them (``lr`` and ``initial_lr`` may be None).
            arrays: unused.

        Raises:
            ValueError: a value of the wrong kind, or a rate that is not a positive
                finite number.
        """
        best, wait = _saved_number(values, "best"), _saved_count(values, "wait")
        cooldown = _saved_count(values, "cooldown")
        rates = []
        for key in ("lr", "initial_lr"):
            rate = values.get(key)
            if rate is not None:
                rate = _saved_number(values, key)
                if not (math.isfinite(rate) and rate > 0):
                    raise ValueError(f"{key!r} must be a positive finite number, got {rate!r}")
            rates.append(rate)
        self.best, self.wait, self.cooldown_counter = best, wait, cooldown
        lr, initial = rates
        self._pending = None if lr is None else (lr, initial)
        self._apply_restored_lr()


class ResetStates(Callback):
    """Resets the carried states of stateful layers at the start of every epoch (and
    every ``every`` batches, if given): the streams start afresh each pass.

    Args:
        every: also reset after every ``every`` batches, a positive int (default
            None: at the epochs' starts only).

    Raises:
        ValueError: ``every`` neither None nor a positive int.

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
        if every is not None and (
            isinstance(every, (bool, np.bool_))
            or not isinstance(every, (int, np.integer))
            or every <= 0
        ):
            raise ValueError(
                f"Received an invalid value for argument every, expected None or a positive "
                f"integer (batches), got {every!r}."
            )
        self.every = None if every is None else int(every)

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


_LAMBDA_HOOKS = {
    # hook: what Keras passes to the function (positionally, logs a dict, {} when empty)
    "on_epoch_begin": "(epoch, logs)",
    "on_epoch_end": "(epoch, logs)",
    "on_train_begin": "(logs)",
    "on_train_end": "(logs)",
    "on_train_batch_begin": "(batch, logs)",
    "on_train_batch_end": "(batch, logs)",
    "on_batch_begin": "(batch, logs)",
    "on_batch_end": "(batch, logs)",
}


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=f)``.

    Each function is called as Keras calls it, with positional arguments and ``logs``
    always a dict (``{}`` where the hook has nothing to log): ``(epoch, logs)`` for
    ``on_epoch_begin`` and ``on_epoch_end``, ``(batch, logs)`` for the batch hooks,
    ``(logs)`` for ``on_train_begin`` and ``on_train_end``.

    Args:
        on_epoch_begin: called at the start of every epoch (default None).
        on_epoch_end: called at the end of every epoch (default None).
        on_train_begin: called when training starts (default None).
        on_train_end: called when training ends (default None).
        on_train_batch_begin: called before every batch (default None).
        on_train_batch_end: called after every batch (default None).
        **kwargs: ``on_batch_begin`` and ``on_batch_end``, Keras's older names of the
            two batch hooks.

    Raises:
        TypeError: a function that is not callable, or a hook ``fit`` never calls
            (``on_test_begin``, a misspelt name, ...), named with the hooks allowed.

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
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        unknown = sorted(set(kwargs) - set(_LAMBDA_HOOKS))
        if unknown:
            raise TypeError(
                f"LambdaCallback got unexpected keyword argument(s) {unknown}: fit calls only "
                f"the hooks {sorted(_LAMBDA_HOOKS)}."
            )
        given = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
            **kwargs,
        }
        self._hooks = {}
        for name, fn in given.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(
                    f"Received an invalid value for argument {name}, expected a function "
                    f"called as {_LAMBDA_HOOKS[name]}, got {fn!r}."
                )
            self._hooks[name] = fn

    def _call(self, name, *args):
        fn = self._hooks.get(name)
        if fn is not None:
            fn(*args)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, {} if logs is None else logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, {} if logs is None else logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", {} if logs is None else logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", {} if logs is None else logs)

    def on_train_batch_begin(self, batch, logs=None):
        logs = {} if logs is None else logs
        self._call("on_train_batch_begin", batch, logs)
        self._call("on_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        logs = {} if logs is None else logs
        self._call("on_train_batch_end", batch, logs)
        self._call("on_batch_end", batch, logs)


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

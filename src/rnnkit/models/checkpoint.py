"""Training checkpoints that survive a crash, belong to one run, and resume exactly.

A checkpoint is a model file (:mod:`rnnkit.models.saving`) whose extra fields hold
the training position: epoch, the next batch, the epoch's batches (the data order),
the running loss and metric sums of the epoch so far, the state of every random
generator (the model's shuffling generator and every layer's dropout generator), the
callbacks' state, and the identity of the run that wrote it.

A checkpoint folder belongs to one run:

* every run has a random id, made when a fresh ``fit`` starts and kept across
  resumes; it is in each checkpoint's name (``ckpt-EEEEE-BBBBBBB-<run id>.rnnkit``;
  the numbers widen past 99,999 epochs and are compared as numbers) and inside it;
* a run prunes only its own checkpoints, and only after a newer one is safely on
  disk, so a crash at any instant leaves the last good checkpoint intact;
* while a run trains, the folder holds a lock file (``rnnkit-checkpoints.lock``,
  created with ``O_EXCL``, holding the pid and host); a second process is refused
  with :class:`CheckpointFolderBusyError`; the lock of a process that died (SIGKILL)
  is recognised as stale and taken over;
* temporary files left by a save that was killed midway are removed by the next save.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .saving import load_model, save_model

_NAME = re.compile(r"^ckpt-(\d{5,})-(\d{7,})(?:-([0-9a-f]{16}))?\.rnnkit$")
# what utils.io.atomic_write leaves behind when killed while writing a checkpoint
_TEMP = re.compile(r"^\.tmp-.*-ckpt-\d{5,}-\d{7,}(?:-[0-9a-f]{16})?\.rnnkit$")
LOCK_NAME = "rnnkit-checkpoints.lock"


class CheckpointFolderBusyError(RuntimeError, ValueError):
    """Another live process holds the checkpoint folder's lock.

    A ``RuntimeError`` and a ``ValueError``: ``except ValueError`` around ``fit``
    catches it too.

    Example:
        >>> import tempfile
        >>> from rnnkit.models.checkpoint import CheckpointFolderBusyError, FolderLock
        >>> folder = tempfile.mkdtemp()
        >>> with FolderLock(folder):
        ...     try:
        ...         FolderLock(folder).acquire()
        ...     except CheckpointFolderBusyError:
        ...         print("busy")
        busy
    """


@dataclass
class TrainingPosition:
    """Where a checkpoint stands: ``batch`` is the next batch to run in ``epoch``.

    Attributes:
        epoch: the epoch (from 0) to continue in.
        batch: the next batch (from 0) to run in ``epoch``.
        batches: the epoch's batches of sample indices (the data order), or None.
        totals: the epoch's running loss and metric sums so far, or None.
        n_samples: the number of training samples of the run.
        batch_size: the run's batch size.
        run_id: the run's id (default None: a checkpoint of an earlier version).
        run_optimizer: the optimizer the run started with, as
            :func:`optimizer_spec` gives it (default None).
        path: the file it was read from (default None; not compared).

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential, checkpoint
        >>> x = np.random.default_rng(0).normal(size=(16, 3))
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = Sequential([layers.Input((3,)), layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> folder = tempfile.mkdtemp()
        >>> _ = model.fit(x, y, epochs=2, batch_size=8, verbose=0, checkpoint_dir=folder)
        >>> position = checkpoint.restore(checkpoint.latest(folder), model, [])
        >>> position.epoch, position.batch, position.n_samples, position.batch_size
        (2, 0, 16, 8)
    """

    epoch: int
    batch: int
    batches: list[np.ndarray] | None
    totals: dict | None
    n_samples: int
    batch_size: int
    run_id: str | None = None
    run_optimizer: dict | None = None  # the optimizer the run started with
    path: Path | None = field(default=None, compare=False)


def new_run_id() -> str:
    """A fresh random run id (16 hex digits). Drawn from the OS, never from the
    model's generators, so that making one does not change a seeded run.

    Returns:
        The id, a string of 16 lowercase hex digits.

    Example:
        >>> from rnnkit.models.checkpoint import new_run_id
        >>> run_id = new_run_id()
        >>> len(run_id), run_id != new_run_id()
        (16, True)
    """
    return secrets.token_hex(8)


def checkpoint_name(epoch: int, batch: int, run_id: str | None) -> str:
    """A checkpoint's file name: ``ckpt-EEEEE-BBBBBBB[-<run id>].rnnkit``.

    Args:
        epoch: the epoch, zero-padded to 5 digits (wider past 99,999).
        batch: the next batch, zero-padded to 7 digits.
        run_id: the run's id, or None for a name without one.

    Returns:
        The file name.

    Example:
        >>> from rnnkit.models.checkpoint import checkpoint_name
        >>> checkpoint_name(3, 40, "0123456789abcdef")
        'ckpt-00003-0000040-0123456789abcdef.rnnkit'
    """
    suffix = "" if run_id is None else f"-{run_id}"
    return f"ckpt-{epoch:05d}-{batch:07d}{suffix}.rnnkit"


def parse_name(name: str) -> tuple[int, int, str | None] | None:
    """``(epoch, batch, run id or None)`` from a checkpoint's file name, or None.

    Args:
        name: a file name (not a path).

    Returns:
        The triple, or None when ``name`` is not a checkpoint's name.

    Example:
        >>> from rnnkit.models.checkpoint import parse_name
        >>> parse_name("ckpt-00003-0000040-0123456789abcdef.rnnkit"), parse_name("model.rnnkit")
        ((3, 40, '0123456789abcdef'), None)
    """
    m = _NAME.match(name)
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2)), m.group(3)


_ANY = object()


def list_checkpoints(directory, run_id=_ANY) -> list[Path]:
    """Checkpoints in ``directory``, oldest first, by (epoch, batch) as numbers
    (temporary files are ignored). With ``run_id``, only that run's (None: only
    files without a run id, written by earlier versions).

    Args:
        directory: the folder; one that does not exist holds none.
        run_id: only that run's checkpoints (default: every run's).

    Returns:
        The paths, oldest first.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential, checkpoint
        >>> x = np.random.default_rng(0).normal(size=(16, 3))
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = Sequential([layers.Input((3,)), layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> folder = tempfile.mkdtemp()
        >>> _ = model.fit(x, y, epochs=2, batch_size=8, verbose=0, checkpoint_dir=folder)
        >>> tuple(p.name[:18] for p in checkpoint.list_checkpoints(folder))
        ('ckpt-00001-0000000', 'ckpt-00002-0000000')
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for p in directory.iterdir():
        parsed = parse_name(p.name)
        if parsed is not None and (run_id is _ANY or parsed[2] == run_id) and p.is_file():
            found.append((parsed[0], parsed[1], p.name, p))
    return [item[3] for item in sorted(found)]


def runs_in(directory) -> dict[str | None, list[Path]]:
    """The checkpoints of each run found in ``directory`` (oldest first).

    Args:
        directory: the folder.

    Returns:
        A dict from each run id (None for files without one) to its paths.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential, checkpoint
        >>> x = np.random.default_rng(0).normal(size=(16, 3))
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = Sequential([layers.Input((3,)), layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> folder = tempfile.mkdtemp()
        >>> _ = model.fit(x, y, epochs=2, batch_size=8, verbose=0, checkpoint_dir=folder)
        >>> tuple(len(files) for files in checkpoint.runs_in(folder).values())
        (2,)
    """
    runs: dict[str | None, list[Path]] = {}
    for p in list_checkpoints(directory):
        runs.setdefault(parse_name(p.name)[2], []).append(p)
    return runs


def latest(path, run_id=_ANY) -> Path | None:
    """The newest checkpoint in a folder (or the file itself).

    Args:
        path: a checkpoint folder, or a file (returned as it is).
        run_id: only that run's checkpoints (default: the folder must hold one
            run's).

    Returns:
        The newest checkpoint's path, or None when there is none.

    Raises:
        ValueError: the folder holds checkpoints of several runs and no ``run_id``
            says which one is meant.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential, checkpoint
        >>> x = np.random.default_rng(0).normal(size=(16, 3))
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = Sequential([layers.Input((3,)), layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> folder = tempfile.mkdtemp()
        >>> _ = model.fit(x, y, epochs=2, batch_size=8, verbose=0, checkpoint_dir=folder)
        >>> checkpoint.latest(folder).name[:18]
        'ckpt-00002-0000000'
    """
    path = Path(path)
    if path.is_file():
        return path
    if run_id is _ANY:
        runs = runs_in(path)
        if len(runs) > 1:
            described = ", ".join(
                f"{rid or 'unnamed'} (newest {files[-1].name})" for rid, files in runs.items()
            )
            raise ValueError(
                f"Checkpoint folder {os.fspath(path)!r} holds checkpoints of {len(runs)} runs: "
                f"{described}; pass the file to resume from as resume=<path>."
            )
    found = list_checkpoints(path, run_id)
    return found[-1] if found else None


# ---- the folder lock ------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


class FolderLock:
    """An exclusive lock on a checkpoint folder for the life of one ``fit``.

    ``acquire`` (or entering the ``with`` block) creates the lock file
    ``rnnkit-checkpoints.lock`` in the folder (making the folder if needed);
    ``release`` (or leaving the block) removes it.

    Args:
        directory: the checkpoint folder.

    Raises:
        CheckpointFolderBusyError: on ``acquire``, a live process (this one included,
            in another ``fit``) holds the lock.

    Example:
        >>> import os, tempfile
        >>> from rnnkit.models.checkpoint import FolderLock
        >>> folder = tempfile.mkdtemp()
        >>> with FolderLock(folder):
        ...     print(os.listdir(folder))
        ['rnnkit-checkpoints.lock']
        >>> os.listdir(folder)
        []
    """

    def __init__(self, directory):
        self.directory = Path(directory)
        self.path = self.directory / LOCK_NAME
        self.held = False

    def _describe_holder(self) -> tuple[int | None, str | None]:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return None, None
        except OSError:
            return None, None
        parts = text.split()
        pid = int(parts[0]) if parts and parts[0].isdigit() else None
        host = parts[1] if len(parts) > 1 else None
        return pid, host

    def acquire(self) -> FolderLock:
        """Take the lock: create the lock file with this process's pid and host.

        A lock left by a process of this host that no longer runs (or an empty lock
        file older than 10 s) is stale and taken over.

        Returns:
            self.

        Raises:
            CheckpointFolderBusyError: a live process holds the lock, or the lock file
                keeps reappearing.

        Example:
            >>> import os, tempfile
            >>> from rnnkit.models.checkpoint import FolderLock
            >>> lock = FolderLock(tempfile.mkdtemp()).acquire()
            >>> lock.held, lock.path.read_text().split()[0] == str(os.getpid())
            (True, True)
            >>> lock.release()
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        me = f"{os.getpid()} {socket.gethostname()}\n".encode()
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pid, host = self._describe_holder()
                if pid is None and host is None and not self.path.exists():
                    continue  # released meanwhile
                stale = pid is not None and host == socket.gethostname() and not _pid_alive(pid)
                if pid is None:  # empty or unreadable: a holder killed while writing it,
                    # unless it is being written this instant
                    try:
                        stale = time.time() - self.path.stat().st_mtime > 10
                    except FileNotFoundError:
                        continue
                if not stale:
                    raise CheckpointFolderBusyError(
                        f"Checkpoint folder {os.fspath(self.directory)!r} is in use by another "
                        f"training run (process {pid} on {host}, lock file {self.path.name}); "
                        f"wait for it to finish, or use another checkpoint_dir. If no such "
                        f"process runs, delete {os.fspath(self.path)!r}."
                    ) from None
                self._break_stale(pid)
                continue
            with os.fdopen(fd, "wb") as f:
                f.write(me)
            self.held = True
            return self
        raise CheckpointFolderBusyError(
            f"Could not lock checkpoint folder {os.fspath(self.directory)!r}: its lock file "
            f"{self.path.name} keeps reappearing (another run is starting there)."
        )

    def _break_stale(self, dead_pid) -> None:
        # move the stale lock aside atomically; if what was moved is not the dead
        # process's lock (another process took it over meanwhile), put it back
        aside = self.path.with_name(f"{LOCK_NAME}.stale-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        try:
            text = aside.read_text(encoding="utf-8", errors="replace").split()
        except OSError:
            text = []
        moved_pid = int(text[0]) if text and text[0].isdigit() else None
        if moved_pid != dead_pid and moved_pid is not None and _pid_alive(moved_pid):
            with contextlib.suppress(OSError):
                os.link(aside, self.path)  # fails if yet another lock appeared: fine
        with contextlib.suppress(OSError):
            aside.unlink()

    def release(self) -> None:
        """Give the lock back: remove the lock file if this process wrote it (nothing
        to do when the lock is not held).

        Example:
            >>> import tempfile
            >>> from rnnkit.models.checkpoint import FolderLock
            >>> lock = FolderLock(tempfile.mkdtemp()).acquire()
            >>> lock.release()
            >>> lock.held, lock.path.exists()
            (False, False)
        """
        if not self.held:
            return
        self.held = False
        pid, _ = self._describe_holder()
        if pid == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _all_callbacks_state(callbacks) -> tuple[list, dict]:
    values, arrays = [], {}
    for i, cb in enumerate(callbacks):
        v, a = cb.get_state()
        values.append({"class": type(cb).__name__, "values": v})
        arrays.update({f"cb/{i}/{k}": np.asarray(x) for k, x in a.items()})
    return values, arrays


def generators(model) -> list[tuple[str, np.random.Generator]]:
    """Every random generator of the model, by a stable path.

    Args:
        model: the model: its own shuffling generator and its layers' (wrapped
            layers included).

    Returns:
        A list of ``(path, numpy.random.Generator)``, each generator once.

    Example:
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential
        >>> from rnnkit.models.checkpoint import generators
        >>> model = Sequential([layers.Input((3,)), layers.Dropout(0.5), layers.Dense(1)])
        >>> tuple(name for name, _ in generators(model))[:2]
        ('model', 'layers/0')
    """
    found = [("model", model.rng)]
    seen = {id(model.rng)}

    def walk(layer, prefix):
        rng = getattr(layer, "rng", None)
        if isinstance(rng, np.random.Generator) and id(rng) not in seen:
            seen.add(id(rng))
            found.append((prefix, rng))
        for attr in ("forward_layer", "backward_layer", "layer"):
            inner = getattr(layer, attr, None)
            if inner is not None and hasattr(inner, "forward"):
                walk(inner, f"{prefix}/{attr}")

    for i, layer in enumerate(model.layers):
        walk(layer, f"layers/{i}")
    return found


def remove_temporary_files(directory) -> list[Path]:
    """Remove what a killed checkpoint save left behind.

    Args:
        directory: the checkpoint folder; one that does not exist is left alone.

    Returns:
        The paths removed.

    Example:
        >>> import os, tempfile
        >>> from rnnkit.models.checkpoint import remove_temporary_files
        >>> folder = tempfile.mkdtemp()
        >>> open(os.path.join(folder, ".tmp-x-ckpt-00001-0000000.rnnkit"), "w").close()
        >>> tuple(p.name for p in remove_temporary_files(folder)), os.listdir(folder)
        (('.tmp-x-ckpt-00001-0000000.rnnkit',), [])
    """
    directory = Path(directory)
    removed = []
    if directory.is_dir():
        for p in directory.iterdir():
            if _TEMP.match(p.name):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
                    removed.append(p)
    return removed


def _weights_finite(model) -> bool:
    for _, w in model.weights():
        if np.issubdtype(w.dtype, np.floating) and not math.isfinite(float(w.sum())):
            if not np.isfinite(w).all():
                return False
    return True


def write(directory, model, position: TrainingPosition, callbacks, keep: int) -> Path:
    """Write a checkpoint atomically, then prune all but the newest ``keep`` of the
    same run (``position.run_id``); other runs' files are never touched.

    Args:
        directory: the checkpoint folder (made if needed).
        model: the model, compiled (its optimizer state is saved).
        position: where training stands.
        callbacks: the callbacks whose state is saved.
        keep: how many of the run's checkpoints to keep, the newest.

    Returns:
        The path of the checkpoint written.

    Raises:
        FloatingPointError: the model's weights are not finite (such a state is
            never written).

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential, checkpoint
        >>> x = np.random.default_rng(0).normal(size=(16, 3))
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = Sequential([layers.Input((3,)), layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> folder = tempfile.mkdtemp()
        >>> _ = model.fit(x, y, epochs=2, batch_size=8, verbose=0, checkpoint_dir=folder)
        >>> run_id = checkpoint.parse_name(checkpoint.latest(folder).name)[2]
        >>> position = checkpoint.TrainingPosition(epoch=2, batch=0, batches=None, totals=None,
        ...                                        n_samples=16, batch_size=8, run_id=run_id)
        >>> path = checkpoint.write(folder, model, position, [], keep=1)
        >>> tuple(p.name for p in checkpoint.list_checkpoints(folder)) == (path.name,)
        True
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not _weights_finite(model):
        raise FloatingPointError(
            f"The model's weights are NaN or inf; no checkpoint written to "
            f"{os.fspath(directory)!r}."
        )
    remove_temporary_files(directory)
    cb_values, arrays = _all_callbacks_state(callbacks)
    if position.batches is not None:
        arrays["order"] = np.concatenate(position.batches).astype(np.int64)
        arrays["bounds"] = np.cumsum([0] + [len(b) for b in position.batches]).astype(np.int64)
    extra = {
        "kind": "training-checkpoint",
        "run_id": position.run_id,
        "run_optimizer": position.run_optimizer,
        "epoch": position.epoch,
        "batch": position.batch,
        "totals": position.totals,
        "n_samples": position.n_samples,
        "batch_size": position.batch_size,
        "generators": {name: rng.bit_generator.state for name, rng in generators(model)},
        "callbacks": cb_values,
    }
    path = directory / checkpoint_name(position.epoch, position.batch, position.run_id)
    save_model(model, path, include_optimizer=True, extra=extra, extra_arrays=arrays)
    for old in list_checkpoints(directory, position.run_id)[:-keep]:
        old.unlink(missing_ok=True)
    return path


# ---- reading a checkpoint back ------------------------------------------------------
def _bad(path, field_name, expected, got) -> ValueError:
    return ValueError(
        f"Checkpoint {os.fspath(path)!r}: field {field_name!r} must be {expected}, got {got!r}."
    )


def _count(path, extra, name, minimum=0) -> int:
    value = extra.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _bad(path, name, f"an integer >= {minimum}", value)
    return value


def _optimizer_spec(opt) -> dict:
    return {"class_name": type(opt).__name__, "config": opt.get_config()}


def optimizer_spec(opt) -> dict:
    """The class and hyperparameters of an optimizer, as a checkpoint records them.

    Args:
        opt: an rnnkit optimizer.

    Returns:
        ``{"class_name": ..., "config": opt.get_config()}``.

    Example:
        >>> from rnnkit import optimizers
        >>> from rnnkit.models.checkpoint import optimizer_spec
        >>> spec = optimizer_spec(optimizers.get("adam"))
        >>> spec["class_name"], spec["config"]["learning_rate"]
        ('Adam', 0.001)
    """
    return _optimizer_spec(opt)


def _differences(a: dict, b: dict) -> list[str]:
    out = []
    if a["class_name"] != b["class_name"]:
        out.append(f"class {a['class_name']} vs {b['class_name']}")
    ca, cb = a.get("config", {}), b.get("config", {})
    # a hyperparameter one side does not know (a file from another version) is not
    # a difference that can be named
    for key in sorted(set(ca) & set(cb)):
        if ca[key] != cb[key]:
            out.append(f"{key} {ca.get(key)!r} vs {cb.get(key)!r}")
    return out


def _check_totals(path, totals, n_metrics):
    if totals is None:
        return
    if not isinstance(totals, dict):
        raise _bad(path, "totals", "an object", totals)
    loss_sum, count = totals.get("loss_sum"), totals.get("count")
    if isinstance(loss_sum, bool) or not isinstance(loss_sum, (int, float)):
        raise _bad(path, "totals.loss_sum", "a number", loss_sum)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise _bad(path, "totals.count", "an integer >= 0", count)
    for key in ("sums", "counts"):
        seq = totals.get(key)
        if not isinstance(seq, list) or len(seq) != n_metrics:
            raise _bad(path, f"totals.{key}", f"a list of {n_metrics} numbers", seq)
        for v in seq:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise _bad(path, f"totals.{key}", "a list of numbers", seq)
    skipped = totals.get("skipped", 0)
    if isinstance(skipped, bool) or not isinstance(skipped, int) or skipped < 0:
        raise _bad(path, "totals.skipped", "an integer >= 0", skipped)


def restore(
    path, model, callbacks, resume_optimizer: bool = True, data: tuple[int, int] | None = None
) -> TrainingPosition:
    """Load a checkpoint into ``model`` (weights, optimizer state, generators) and
    ``callbacks``; returns the position to continue from. Everything is checked
    before anything is changed: a refused checkpoint leaves the model as it was.

    Args:
        path: the checkpoint file.
        model: the compiled model being trained.
        callbacks: the run's callbacks (matched to the saved ones by class, in order).
        resume_optimizer: True (default): the model's optimizer must be the one the
            checkpoint's run used (same class and hyperparameters) and continues
            from its saved state (moments, step count, the learning rate a schedule
            had reached). False: the model's optimizer starts fresh, as compiled.
        data: ``(samples, batch size)`` of the fit that resumes; a checkpoint written
            for other data is refused.

    Raises:
        ValueError: the file is not a checkpoint of this model, a field is malformed
            (named in the message), or the optimizer differs from the checkpoint's
            (the differences named) while ``resume_optimizer`` is True.

    Returns:
        The :class:`TrainingPosition` to continue from.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential, checkpoint
        >>> x = np.random.default_rng(0).normal(size=(16, 3))
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = Sequential([layers.Input((3,)), layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> folder = tempfile.mkdtemp()
        >>> _ = model.fit(x, y, epochs=2, batch_size=8, verbose=0, checkpoint_dir=folder)
        >>> position = checkpoint.restore(checkpoint.latest(folder), model, [])
        >>> position.epoch, position.batch
        (2, 0)
    """
    path = Path(path)
    saved = load_model(path)
    extra = getattr(saved, "saved_extra", {})
    if not isinstance(extra, dict) or extra.get("kind") != "training-checkpoint":
        raise ValueError(f"{os.fspath(path)!r} is a model file, not a training checkpoint.")
    ours, theirs = model.weights(), saved.weights()
    shapes_ok = len(ours) == len(theirs) and all(
        a.shape == b.shape for (_, a), (_, b) in zip(ours, theirs)
    )
    if not shapes_ok:
        raise ValueError(
            f"Checkpoint {os.fspath(path)!r} holds a different model ({len(theirs)} weights) "
            f"than the one being trained ({len(ours)} weights)."
        )
    # ---- counters and fields
    epoch = _count(path, extra, "epoch")
    batch = _count(path, extra, "batch")
    n_samples = _count(path, extra, "n_samples", 1)
    batch_size = _count(path, extra, "batch_size", 1)
    if data is not None and (n_samples, batch_size) != tuple(data):
        raise ValueError(
            f"Checkpoint {os.fspath(path)!r} was written for {n_samples} training samples in "
            f"batches of {batch_size}; this fit has {data[0]} in batches of {data[1]}. Resume "
            f"with the same data and arguments."
        )
    run_id = extra.get("run_id")
    if run_id is not None and (
        not isinstance(run_id, str) or not re.fullmatch(r"[0-9a-f]{16}", run_id)
    ):
        raise _bad(path, "run_id", "16 hex digits", run_id)
    named = parse_name(path.name)
    if named is not None and named[2] is not None and named[2] != run_id:
        raise _bad(path, "run_id", f"{named[2]!r} (as in the file name)", run_id)
    _check_totals(path, extra.get("totals"), len(model.metric_fns))
    arrays = saved.saved_extra_arrays
    batches = None
    if "order" in arrays or "bounds" in arrays:
        order, bounds = arrays.get("order"), arrays.get("bounds")
        if order is None or bounds is None:
            raise _bad(
                path,
                "order/bounds",
                "both present",
                sorted(k for k in arrays if k in ("order", "bounds")),
            )
        if (
            order.ndim != 1
            or bounds.ndim != 1
            or order.dtype.kind not in "iu"
            or bounds.dtype.kind not in "iu"
        ):
            raise _bad(path, "order", "1-D integer arrays", f"{order.dtype}{order.shape}")
        if len(order) and (order.min() < 0 or order.max() >= n_samples):
            raise _bad(
                path,
                "order",
                f"sample indices in [0, {n_samples})",
                f"min {order.min()}, max {order.max()}",
            )
        if (
            len(bounds) < 2
            or bounds[0] != 0
            or bounds[-1] != len(order)
            or np.any(np.diff(bounds) <= 0)
        ):
            raise _bad(
                path,
                "bounds",
                f"increasing batch bounds from 0 to {len(order)}",
                bounds[:8].tolist(),
            )
        batches = [order[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]
        if batch > len(batches):
            raise _bad(
                path, "batch", f"a batch index <= {len(batches)} (the epoch's batches)", batch
            )
        if extra.get("totals") is None:
            raise _bad(path, "totals", "the running sums of a checkpoint taken mid-epoch", None)
    elif batch != 0:
        raise _bad(path, "batch", "0 for a checkpoint taken at an epoch's end", batch)
    # ---- the optimizer
    run_optimizer = extra.get("run_optimizer")
    if run_optimizer is not None and (
        not isinstance(run_optimizer, dict) or not isinstance(run_optimizer.get("config"), dict)
    ):
        raise _bad(path, "run_optimizer", "an object with class_name and config", run_optimizer)
    current = _optimizer_spec(model.optimizer)
    params = [w for _, w in model.trainable_weights()]
    if resume_optimizer and saved.optimizer is not None:
        at_save = _optimizer_spec(saved.optimizer)
        # the same process continuing (its optimizer as it was saved) or a new process
        # compiled as the run was at its start: both are this run's optimizer
        candidates = [at_save] + ([run_optimizer] if run_optimizer is not None else [])
        if run_optimizer is None:  # older checkpoints: a schedule may have moved the rate
            at_save_lr = {
                **at_save,
                "config": {
                    **at_save["config"],
                    "learning_rate": current["config"].get("learning_rate"),
                },
            }
            candidates.append(at_save_lr)
        if not any(not _differences(c, current) for c in candidates):
            ref = run_optimizer if run_optimizer is not None else at_save
            raise ValueError(
                f"Checkpoint {os.fspath(path)!r} was trained with another optimizer: "
                f"{'; '.join(_differences(ref, current))} (checkpoint vs this run). Compile "
                f"with the checkpoint's optimizer to continue it exactly, or pass "
                f"fit(..., resume_optimizer=False) to start this optimizer fresh from the "
                f"checkpoint's weights."
            )
        slots = saved.optimizer.slots
        for name, arrays_ in slots.items():
            if len(arrays_) != len(params) or any(
                a.shape != p.shape for a, p in zip(arrays_, params)
            ):
                raise _bad(
                    path,
                    f"optimizer slot {name}",
                    "one array per trainable weight, of its shape",
                    [a.shape for a in arrays_],
                )
        if saved.optimizer.iterations < 0:
            raise _bad(path, "optimizer iterations", "an integer >= 0", saved.optimizer.iterations)
    # ---- generators
    states = extra.get("generators")
    if not isinstance(states, dict):
        raise _bad(path, "generators", "an object of generator states", states)
    checked_states = []
    for name, rng in generators(model):
        state = states.get(name)
        if state is None:
            raise ValueError(f"Checkpoint {os.fspath(path)!r} has no state for generator {name!r}.")
        kind = type(rng.bit_generator)
        if not isinstance(state, dict) or state.get("bit_generator") != kind.__name__:
            raise _bad(path, f"generators.{name}", f"a {kind.__name__} state", state)
        probe = kind()
        try:
            probe.state = state
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise _bad(
                path, f"generators.{name}", f"a valid {kind.__name__} state ({exc})", "..."
            ) from None
        checked_states.append((rng, state))
    saved_callbacks = extra.get("callbacks")
    if not isinstance(saved_callbacks, list) or not all(
        isinstance(s, dict)
        and isinstance(s.get("class"), str)
        and isinstance(s.get("values"), dict)
        for s in saved_callbacks
    ):
        raise _bad(path, "callbacks", "a list of {class, values} objects", saved_callbacks)

    # ---- apply: callbacks first (their own checks may still refuse), then the model
    # match callbacks by class, in order of appearance: the n-th EarlyStopping now gets
    # the n-th EarlyStopping's state; a callback new at resume time starts fresh
    saved_by_class: dict[str, list[int]] = {}
    for i, spec in enumerate(saved_callbacks):
        saved_by_class.setdefault(spec["class"], []).append(i)
    before = [cb.get_state() for cb in callbacks]
    for cb in callbacks:
        queue = saved_by_class.get(type(cb).__name__)
        if not queue:
            continue
        i = queue.pop(0)
        prefix = f"cb/{i}/"
        mine = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        try:
            cb.set_state(saved_callbacks[i]["values"], mine)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            for other, state in zip(callbacks, before):  # put back what was already set
                with contextlib.suppress(Exception):
                    other.set_state(*state)
            raise _bad(
                path,
                f"callbacks[{i}] ({saved_callbacks[i]['class']})",
                "the state that callback saves",
                f"{type(exc).__name__}: {exc}",
            ) from None
    model.set_weights(saved.get_weights())
    if resume_optimizer and saved.optimizer is not None:
        if saved.optimizer.slots:
            model.optimizer.load_state(saved.optimizer.state(), params)
        else:
            model.optimizer.slots = {}
            model.optimizer.iterations = saved.optimizer.iterations
        # the rate a schedule had reached (ReduceLROnPlateau, decays) comes back too
        model.optimizer.learning_rate = saved.optimizer.learning_rate
    else:
        model.optimizer.slots = {}
        model.optimizer.iterations = 0
        run_optimizer = current  # the run goes on with this optimizer
    for rng, state in checked_states:
        rng.bit_generator.state = state
    return TrainingPosition(
        epoch,
        batch,
        batches,
        extra.get("totals"),
        n_samples,
        batch_size,
        run_id=run_id,
        run_optimizer=run_optimizer,
        path=path,
    )

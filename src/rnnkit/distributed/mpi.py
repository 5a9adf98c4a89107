"""Data-parallel training over MPI: one model, N processes, one all-reduce per step.

Run the same script on every rank (``mpiexec -n 4 python train.py``) and train through
:func:`fit` instead of ``model.fit``::

    from rnnkit.distributed import mpi

    model = build_and_compile()                 # the same model on every rank
    history = mpi.fit(model, x, y, batch_size=64, epochs=10, checkpoint_dir="ckpt")

What happens:

- At the start the ranks check that they run the same rnnkit version and the same model
  (its configuration and weight shapes); a rank that differs is named in the error.
  Rank 0's weights are then broadcast, so every rank starts from the same point.
- ``batch_size`` is the *global* batch. Every rank draws the same shuffled order (the
  model's seeded generator) and trains on its own contiguous share of each batch's rows
  (``numpy.array_split``), so each rank reads only its rows of every batch.
- After each backward pass one ``MPI.Allreduce`` sums a fused buffer holding the loss and
  every gradient, each rank's share weighted by its rows: the result is the mean over the
  global batch, identical on every rank, so every rank applies the same update. For a
  loss that is a mean over samples (Keras's default) this equals one process training on
  the global batch, to float rounding (tested). Dropout draws masks per rank's rows, so
  with dropout the run is statistically, not bitwise, the same.
- The epoch's loss and metrics are summed over ranks before callbacks see them, so
  EarlyStopping, ReduceLROnPlateau and friends decide the same on every rank; a callback
  that stops training on one rank (a time budget, on that rank's clock) stops them all
  at the end of the same epoch.
- Rank 0 alone writes: checkpoints (``checkpoint_dir``), and the callbacks that write
  files (ModelCheckpoint, CSVLogger, TensorBoard) run on rank 0 only; progress output
  too. ``resume=True`` resumes every rank from rank 0's newest checkpoint (the folder must
  be reachable from every host, as a shared file system gives); the checkpoint holds the
  global data order, so a run may resume on a different number of ranks.
- A rank that raises stops all ranks: it prints ``rank R of N failed: ...`` and calls
  ``MPI.Abort``, so the others do not wait forever in the next all-reduce. A rank that
  is killed is reported by the MPI launcher, which ends the others and names its pid;
  rank 0 prints which pid is which rank when training starts.

Across hosts, a step sends the fused gradient buffer (4 bytes a parameter in float32)
through the all-reduce: bench/mpi_speed.py measures its share of a step.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import zlib

import numpy as np

from .. import __version__
from ..callbacks import Callback

_ROOT_ONLY_CALLBACKS = ("ModelCheckpoint", "CSVLogger", "TensorBoard")


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError(
            "rnnkit.distributed.mpi needs mpi4py and an MPI library: pip install 'rnnkit[mpi]'."
        ) from None
    return MPI


def _let_the_launcher_forward() -> None:
    """A moment before MPI_Abort, for the launcher to forward the message just printed
    (under load, mpiexec tore the job down before rank 1's line reached its stderr)."""
    import time

    time.sleep(0.2)


def abort_on_uncaught_exception() -> None:
    """Make an uncaught exception on any rank end every rank (``MPI.Abort``), instead of
    leaving the others waiting in their next collective call forever. Installed when
    this module is imported under a launcher with more than one rank (as ``python -m
    mpi4py script.py`` does for a whole script).

    The hook chains to the previous ``sys.excepthook`` (which prints the traceback),
    then prints ``rnnkit: rank R of N failed: ...`` and aborts.

    Raises:
        ImportError: mpi4py is not installed.

    Example:
        >>> from rnnkit.distributed import mpi
        >>> mpi.abort_on_uncaught_exception()  # doctest: +SKIP
    """
    previous = sys.excepthook

    def hook(kind, value, traceback):
        previous(kind, value, traceback)
        comm = _mpi().COMM_WORLD
        print(
            f"rnnkit: rank {comm.Get_rank()} of {comm.Get_size()} failed: {kind.__name__}: "
            f"{value}",
            file=sys.stderr,
            flush=True,
        )
        _let_the_launcher_forward()
        comm.Abort(2)

    sys.excepthook = hook


class GradientReducer:
    """What ``Sequential.gradient_reducer`` holds during data-parallel training: splits
    each global batch into this rank's rows and averages loss, gradients and epoch totals
    over the ranks (see the module's docstring).

    Args:
        comm: an mpi4py communicator (default ``MPI.COMM_WORLD``).
        check_every: in debug runs, every this many steps compare a hash of the weights
            across ranks and raise if they differ (0, the default: only at the end).

    Raises:
        ImportError: mpi4py is not installed.
        ValueError: ``check_every`` is not a non-negative int.

    Example:
        >>> from rnnkit.distributed import mpi
        >>> reducer = mpi.GradientReducer()  # doctest: +SKIP
        >>> reducer.rank, reducer.size, reducer.is_root  # outside mpiexec  # doctest: +SKIP
        (0, 1, True)
    """

    def __init__(self, comm=None, check_every: int = 0):
        mpi = _mpi()
        self.comm = mpi.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        if isinstance(check_every, bool) or not isinstance(check_every, int) or check_every < 0:
            raise ValueError(
                f"Received an invalid value for argument check_every, expected a "
                f"non-negative integer, got {check_every!r}."
            )
        self.check_every = check_every
        self.model = None
        self.steps = 0
        self._share = 1.0  # this rank's rows / the batch's rows
        self._buffer: np.ndarray | None = None

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def local_rows(self, rows: np.ndarray) -> np.ndarray:
        """This rank's contiguous share of one global batch's row indices."""
        n = len(rows)
        if n < self.size:
            raise ValueError(
                f"A batch of {n} rows cannot be shared by {self.size} ranks (each needs at "
                f"least one): use a batch_size of at least {self.size}, and a sample count "
                f"whose last batch has at least {self.size} rows."
            )
        part = np.array_split(rows, self.size)[self.rank]
        self._share = len(part) / n
        return part

    def reduce(self, loss: float, grads: list) -> tuple[float, list[np.ndarray]]:
        """The loss and gradients averaged over the global batch (one all-reduce)."""
        mpi = _mpi()
        dense = [np.asarray(g) for g in grads]  # (a row-sparse gradient densified)
        total = 1 + sum(g.size for g in dense)
        dtype = np.result_type(np.float64 if not dense else dense[0].dtype, np.float32)
        if self._buffer is None or self._buffer.size != total or self._buffer.dtype != dtype:
            self._buffer = np.empty(total, dtype)
        buf = self._buffer
        buf[0] = loss * self._share
        offset = 1
        for g in dense:
            np.multiply(g.reshape(-1), self._share, out=buf[offset : offset + g.size])
            offset += g.size
        self.comm.Allreduce(mpi.IN_PLACE, buf, op=mpi.SUM)
        out, offset = [], 1
        for g in dense:
            out.append(buf[offset : offset + g.size].reshape(g.shape).astype(g.dtype, copy=False))
            offset += g.size
        self.steps += 1
        if self.check_every and self.steps % self.check_every == 0:
            self.check_weights_identical()
        return float(buf[0]), out

    def reduce_totals(self, totals) -> None:
        """Sum an epoch's running loss and metric sums over the ranks, in place."""
        mpi = _mpi()
        k = len(totals.sums)
        vec = np.array(
            [totals.loss_sum, totals.count, *totals.sums, *totals.counts], dtype=np.float64
        )
        self.comm.Allreduce(mpi.IN_PLACE, vec, op=mpi.SUM)
        totals.loss_sum, totals.count = float(vec[0]), int(round(vec[1]))
        totals.sums = [float(v) for v in vec[2 : 2 + k]]
        totals.counts = [int(round(v)) for v in vec[2 + k :]]

    def check_weights_identical(self) -> None:
        """Raise RuntimeError on every rank if the ranks' weights differ (a hash each)."""
        digest = _weights_hash(self.model)
        hashes = self.comm.allgather(digest)
        differing = [r for r, h in enumerate(hashes) if h != hashes[0]]
        if differing:
            raise RuntimeError(
                f"The weights of rank(s) {differing} differ from rank 0's after step "
                f"{self.steps}: the ranks no longer train one model."
            )


class _StopTogether(Callback):
    """Ends training on every rank when a callback on any rank asks to (a time budget
    is measured on each rank's own clock): otherwise the ranks that go on would wait in
    their next all-reduce for the one that stopped."""

    def __init__(self, comm):
        super().__init__()
        self.comm = comm

    def on_epoch_end(self, epoch, logs=None):
        mpi = _mpi()
        self.model.stop_training = bool(
            self.comm.allreduce(bool(self.model.stop_training), op=mpi.LOR)
        )


def _weights_hash(model) -> int:
    crc = 0
    for w in model.get_weights():
        crc = zlib.crc32(np.ascontiguousarray(w).view(np.uint8), crc)
    return crc


def _model_signature(model) -> str:
    config = json.dumps(model.get_config(), sort_keys=True, default=str)
    shapes = [list(w.shape) for w in model.get_weights()]
    return hashlib.sha256(json.dumps([__version__, config, shapes]).encode()).hexdigest()


def _check_same_model(comm, model) -> None:
    rank = comm.Get_rank()
    mine = (__version__, _model_signature(model))
    everyone = comm.allgather(mine)
    versions = [v for v, _ in everyone]
    if len(set(versions)) > 1:
        raise ValueError(
            "The ranks run different rnnkit versions: "
            + ", ".join(f"rank {r}: {v}" for r, v in enumerate(versions))
            + "; install the same version on every host."
        )
    differing = [r for r, (_, sig) in enumerate(everyone) if sig != everyone[0][1]]
    if differing:
        raise ValueError(
            f"Rank(s) {differing} built a different model from rank 0's (configuration or "
            f"weight shapes differ); every rank must build the same model. (This is rank "
            f"{rank}.)"
        )


def fit(model, x=None, y=None, *, comm=None, check_every: int = 0, **fit_kwargs):
    """``model.fit`` data-parallel over the ranks of ``comm`` (see the module's docstring).

    Args:
        model: a compiled, built model, the same on every rank.
        x, y: the training data, the same on every rank (each trains on its rows of
            every batch).
        comm: an mpi4py communicator (default ``MPI.COMM_WORLD``).
        check_every: compare the ranks' weights every this many steps (debugging); they
            are compared at the end in any case. Default 0.
        **fit_kwargs: as ``model.fit``; ``batch_size`` is the global batch.

    On any error one rank prints ``rank R of N failed: ...`` and aborts all ranks.

    Returns:
        The History, the same on every rank.

    Raises:
        ImportError: mpi4py is not installed.
        ValueError: the ranks' rnnkit versions or models differ (the rank is named), a
            batch too small to share, or ``BackupAndRestore`` among the callbacks (use
            ``checkpoint_dir`` and ``resume``, which rank 0 alone writes).
        RuntimeError: the ranks' weights diverged.

    Example:
        In a script run as ``mpiexec -n 4 python train.py``:

        >>> from rnnkit.distributed import mpi
        >>> history = mpi.fit(model, x, y, batch_size=64, epochs=10)  # doctest: +SKIP
    """
    reducer = GradientReducer(comm, check_every)
    try:
        return _fit(model, x, y, reducer, fit_kwargs)
    except BaseException as exc:  # stop every rank, not just this one
        if reducer.size == 1:
            raise
        print(
            f"rnnkit: rank {reducer.rank} of {reducer.size} failed: {type(exc).__name__}: {exc}",
            file=sys.stderr,
            flush=True,
        )
        _let_the_launcher_forward()
        reducer.comm.Abort(2)
        raise


def _fit(model, x, y, reducer, fit_kwargs):
    comm = reducer.comm
    if not model.built:
        raise ValueError("mpi.fit needs a built model (call model.build or run it once first).")
    callbacks = list(fit_kwargs.pop("callbacks", None) or [])
    if any(type(cb).__name__ == "BackupAndRestore" for cb in callbacks):
        raise ValueError(
            "BackupAndRestore is not supported by mpi.fit: pass checkpoint_dir= and "
            "resume= instead (rank 0 alone writes the checkpoints)."
        )
    _check_same_model(comm, model)
    # which process is which rank: the launcher names a killed process by its pid
    where = comm.allgather((os.getpid(), socket.gethostname()))
    if reducer.is_root:
        print(
            f"rnnkit: data-parallel on {reducer.size} ranks ("
            + ", ".join(f"rank {r}: pid {pid} on {host}" for r, (pid, host) in enumerate(where))
            + ")",
            file=sys.stderr,
            flush=True,
        )
    for w in (w for _, w in model.weights()):
        comm.Bcast(w, root=0)  # (model weights are C-contiguous, written in place)
    if not reducer.is_root:
        callbacks = [cb for cb in callbacks if type(cb).__name__ not in _ROOT_ONLY_CALLBACKS]
        checkpoint_dir = fit_kwargs.pop("checkpoint_dir", None)
        resume = fit_kwargs.pop("resume", None)
        fit_kwargs["verbose"] = 0
    else:
        checkpoint_dir, resume = fit_kwargs.get("checkpoint_dir"), fit_kwargs.get("resume")
    # every rank resumes from the checkpoint rank 0 resumes from
    found = None
    if resume is not None and resume is not False and reducer.is_root:
        from ..models import checkpoint as ckpt_mod

        src = checkpoint_dir if resume is True else resume
        latest = None if src is None else ckpt_mod.latest(src)
        found = None if latest is None else str(latest)
    found = comm.bcast(found, root=0)
    if not reducer.is_root and found is not None:
        fit_kwargs["resume"] = found
    model.gradient_reducer = reducer
    reducer.model = model
    callbacks.append(_StopTogether(comm))  # last: after every callback that may stop
    try:
        history = model.fit(x, y, callbacks=callbacks, **fit_kwargs)
    finally:
        model.gradient_reducer = None
    reducer.check_weights_identical()
    return history


_LAUNCHER_SIZE = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE")
_LAUNCHER_LOCAL = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE")


def launched_size() -> int:
    """How many ranks the MPI launcher started this process among (1 when it was not
    started by ``mpiexec``), read from the launcher's environment without starting MPI.

    Returns:
        The number of ranks, an int >= 1.

    Example:
        >>> from rnnkit.distributed import mpi
        >>> mpi.launched_size() >= 1
        True
    """
    import os

    for name in _LAUNCHER_SIZE:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def local_size() -> int:
    """How many ranks share this host (for the default thread count of each).

    Read from the launcher's environment (Open MPI's, MPICH's, Slurm's); where it does
    not say, ``launched_size()``.

    Returns:
        The number of ranks on this host, an int >= 1.

    Example:
        >>> from rnnkit.distributed import mpi
        >>> mpi.local_size() <= mpi.launched_size()
        True
    """
    import os

    for name in _LAUNCHER_LOCAL:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return launched_size()


def active():
    """This module when this process is one of several MPI ranks (started by
    ``mpiexec -n N``, N > 1), else None: the jobs behind the command line ask it whether
    to train data-parallel. Starts no MPI.

    Returns:
        This module, or None.

    Example:
        >>> from rnnkit.distributed import mpi
        >>> (mpi.active() is None) == (mpi.launched_size() == 1)
        True
    """
    return sys.modules[__name__] if launched_size() > 1 else None


def abort_others(exit_code: int = 2) -> None:
    """End every rank (``MPI.Abort``) when this process, one of several ranks, stops on
    an error it has already reported: the command line calls it after its one-line
    message, so the other ranks do not wait for this one forever. Does nothing outside
    ``mpiexec`` or with one rank.

    Args:
        exit_code: the exit status of every rank, default 2.

    Example:
        >>> from rnnkit.distributed import mpi
        >>> mpi.abort_others()  # outside mpiexec: nothing happens  # doctest: +SKIP
    """
    if launched_size() > 1:
        _mpi().COMM_WORLD.Abort(exit_code)


def rank() -> int:
    """This process's rank in ``MPI.COMM_WORLD`` (0 without MPI launched).

    Starts MPI (importing mpi4py does).

    Returns:
        The rank, an int.

    Raises:
        ImportError: mpi4py is not installed.

    Example:
        >>> from rnnkit.distributed import mpi
        >>> mpi.rank()  # outside mpiexec  # doctest: +SKIP
        0
    """
    return _mpi().COMM_WORLD.Get_rank()


def size() -> int:
    """The number of ranks in ``MPI.COMM_WORLD``.

    Starts MPI (importing mpi4py does); ``launched_size`` answers without it.

    Returns:
        The number of ranks, an int (1 outside ``mpiexec``).

    Raises:
        ImportError: mpi4py is not installed.

    Example:
        >>> from rnnkit.distributed import mpi
        >>> mpi.size()  # outside mpiexec  # doctest: +SKIP
        1
    """
    return _mpi().COMM_WORLD.Get_size()


if launched_size() > 1:  # (outside mpiexec, importing this module does not start MPI)
    try:
        abort_on_uncaught_exception()
    except ImportError:  # without mpi4py the module still imports; fit() says what is missing
        pass

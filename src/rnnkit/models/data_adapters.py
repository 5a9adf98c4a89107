"""Data sources that ``fit``, ``evaluate`` and ``predict`` take besides arrays, as
Keras does: a Python generator (or any iterator) of batches, and a Keras-style
:class:`PyDataset` (``Sequence``): an object with ``__len__`` (batches per epoch),
``__getitem__(index)`` (one batch) and optionally ``on_epoch_end()``.

Each batch is ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``; a tuple
separates the parts, a list is several inputs (as in Keras). Keras's own
``keras.utils.PyDataset`` objects work too: only those methods are used.
"""

from __future__ import annotations

import inspect

import numpy as np


class PyDataset:
    """Base class for a dataset of batches, as Keras's ``keras.utils.PyDataset``.

    Subclass it and define ``__len__`` (batches per epoch) and ``__getitem__``
    (batch ``index`` as ``(x, y)`` or ``(x, y, sample_weight)``); ``on_epoch_end``
    runs after each epoch (to reshuffle, for example). The arguments exist for
    Keras compatibility; batches are read in this process, in order.

    Example:
        >>> class Batches(PyDataset):
        ...     def __init__(self, x, y, batch_size):
        ...         super().__init__()
        ...         self.x, self.y, self.batch_size = x, y, batch_size
        ...     def __len__(self):
        ...         return -(-len(self.x) // self.batch_size)
        ...     def __getitem__(self, i):
        ...         s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        ...         return self.x[s], self.y[s]
        >>> len(Batches(np.zeros((10, 3, 1)), np.zeros((10, 1)), 4))
        3
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size=10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    @property
    def num_batches(self) -> int:
        return len(self)

    def on_epoch_end(self) -> None:
        """Called after every epoch of ``fit``."""


Sequence = PyDataset


def is_dataset(x) -> bool:
    """An indexable dataset of batches (PyDataset / Sequence), not an array."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict, str, bytes)):
        return False
    return hasattr(x, "__getitem__") and hasattr(x, "__len__") and not hasattr(x, "shape")


def is_generator(x) -> bool:
    """A Python generator or another iterator of batches."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict, str, bytes)):
        return False
    return inspect.isgenerator(x) or (hasattr(x, "__next__") and hasattr(x, "__iter__"))


def kind(x) -> str:
    """``"dataset"``, ``"generator"`` or ``"arrays"``."""
    if is_dataset(x):
        return "dataset"
    if is_generator(x):
        return "generator"
    return "arrays"


def dataset_length(data, argument: str) -> int:
    """The number of batches of a PyDataset, checked."""
    try:
        n = len(data)
    except (TypeError, NotImplementedError):
        n = getattr(data, "num_batches", None)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(
            f"Received an invalid value for argument {argument}: a dataset of batches must "
            f"have a positive length (batches per epoch), got {n!r}."
        )
    return int(n)


def unpack(item, argument: str, where: str, targets: bool):
    """Split one batch into ``(x, y, sample_weight)``.

    Raises:
        ValueError: a tuple of the wrong length, or no targets when ``targets``.
    """
    if isinstance(item, tuple):
        if not 1 <= len(item) <= 3:
            raise ValueError(
                f"Received an invalid value for argument {argument}: {where} is a tuple of "
                f"{len(item)}; expected (x,), (x, y) or (x, y, sample_weight)."
            )
        x = item[0]
        y = item[1] if len(item) > 1 else None
        w = item[2] if len(item) > 2 else None
    else:
        x, y, w = item, None, None
    if targets and y is None:
        raise ValueError(
            f"Received an invalid value for argument {argument}: {where} has no targets; "
            f"expected (x, y) or (x, y, sample_weight)."
        )
    return x, y, w

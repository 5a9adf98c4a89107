"""Sliding windows over a time series as batches, with Keras's
``timeseries_dataset_from_array`` semantics.

Window i starts at step ``start_index + p_i`` of ``data``, p_i = i·sequence_stride,
and holds the steps ``p_i, p_i + sampling_rate, …`` (``sequence_length`` of them); its
target is ``targets[start_index + p_i]``. The windows are gathered batch by batch, so
memory grows with the batch, not with the number of windows.
"""

from __future__ import annotations

import math

import numpy as np

from . import validation


class TimeseriesDataset:
    """The batches of :func:`timeseries_dataset_from_array`: a Keras ``PyDataset``-like
    source (``len``, indexing, iteration) that ``fit``, ``evaluate`` and ``predict``
    take in place of arrays.

    ``dataset[i]`` is batch i: ``(inputs, targets)``, or ``inputs`` alone without
    targets. ``take(n)`` gives the first n batches, as tf.data's ``take``. With
    ``shuffle`` the windows come in the order Keras gives them (NumPy's
    ``RandomState(seed)`` permutation), and ``on_epoch_end`` draws a new order from the
    same seeded generator, as a reshuffling data set does every epoch.

    Made by :func:`timeseries_dataset_from_array`, which checks the arguments; the
    constructor takes them as they are.

    Args:
        data: the series, (steps, ...) array.
        targets: one target per step of ``data``, or None.
        positions: the start step of every window, in the order they are served.
        sequence_length: the steps per window.
        sampling_rate: the stride between a window's steps.
        batch_size: windows per batch, or None (one window per item, without a batch
            axis).
        shuffle_rng: a ``numpy.random.RandomState`` for ``on_epoch_end``'s reshuffle,
            default None (no reshuffle).

    Example:
        >>> import numpy as np
        >>> from rnnkit.utils.timeseries import timeseries_dataset_from_array
        >>> ds = timeseries_dataset_from_array(
        ...     np.arange(10), np.arange(10), sequence_length=3, batch_size=4)
        >>> len(ds)
        2
        >>> x, y = ds[0]
        >>> x[1], y
        (array([1, 2, 3]), array([0, 1, 2, 3]))
    """

    def __init__(
        self, data, targets, positions, sequence_length, sampling_rate, batch_size, shuffle_rng=None
    ):
        self.data = data
        self.targets = targets
        self.positions = positions
        self.sequence_length = sequence_length
        self.sampling_rate = sampling_rate
        self.batch_size = batch_size
        self._rng = shuffle_rng
        self._offsets = np.arange(sequence_length) * sampling_rate

    @property
    def num_batches(self) -> int:
        return len(self)

    def __len__(self) -> int:
        if self.batch_size is None:
            return len(self.positions)
        return math.ceil(len(self.positions) / self.batch_size)

    def __getitem__(self, index):
        n = len(self)
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
            if index < 0:
                index += n
            if not 0 <= index < n:
                raise IndexError(f"batch index {index} out of range for {n} batches")
        else:
            raise TypeError(f"batch index must be an int, got {type(index).__name__}.")
        if self.batch_size is None:
            starts = self.positions[index : index + 1]
        else:
            starts = self.positions[index * self.batch_size : (index + 1) * self.batch_size]
        x = self.data[starts[:, None] + self._offsets]
        if self.batch_size is None:
            x = x[0]
        if self.targets is None:
            return x
        y = self.targets[starts]
        return x, (y[0] if self.batch_size is None else y)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def take(self, count: int) -> list:
        """The first ``count`` batches (all of them if fewer), as tf.data's ``take``."""
        count = len(self) if count is None or count < 0 else int(count)
        return [self[i] for i in range(min(count, len(self)))]

    def on_epoch_end(self) -> None:
        """With ``shuffle``: the windows in a new order for the next epoch."""
        if self._rng is not None:
            self._rng.shuffle(self.positions)

    def __repr__(self) -> str:
        return (
            f"<TimeseriesDataset {len(self.positions)} windows of {self.sequence_length} steps "
            f"in {len(self)} batches>"
        )


def timeseries_dataset_from_array(
    data,
    targets,
    sequence_length: int,
    sequence_stride: int = 1,
    sampling_rate: int = 1,
    batch_size: int | None = 128,
    shuffle: bool = False,
    seed: int | None = None,
    start_index: int | None = None,
    end_index: int | None = None,
) -> TimeseriesDataset:
    """Batches of sliding windows over ``data`` (Keras's function of this name).

    Args:
        data: an array of time steps, (steps, ...) — e.g. (steps, features).
        targets: the target of the window starting at step i is ``targets[i]``
            (counted from ``start_index``); None for inputs only.
        sequence_length: steps per window, a positive int.
        sequence_stride: steps between the starts of consecutive windows, default 1.
        sampling_rate: steps between the rows within a window, default 1.
        batch_size: windows per batch, default 128; None for single windows.
        shuffle: put the windows in a random order (reshuffled every epoch).
        seed: the seed of that order; None draws one.
        start_index: the first step of ``data`` used, default 0.
        end_index: the step after the last one used, default ``len(data)``.

    Returns:
        A :class:`TimeseriesDataset`, which ``model.fit`` accepts as ``x``.

    Raises:
        ValueError, TypeError: an argument out of range or of the wrong type, naming it;
            data too short for a single window.

    Example:
        >>> ds = timeseries_dataset_from_array(np.arange(10), None, sequence_length=3,
        ...                                    batch_size=4)
        >>> ds[0].tolist()
        [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]]
    """
    data = validation.as_array(data, "data")
    if data.ndim < 1:
        raise ValueError(
            "Received an invalid value for argument data: expected an array of "
            "time steps, got a scalar."
        )
    if targets is not None:
        targets = validation.as_array(targets, "targets")
        if targets.ndim < 1:
            raise ValueError(
                "Received an invalid value for argument targets: expected one "
                "target per time step, got a scalar."
            )
    sequence_length = validation.positive_int(sequence_length, "sequence_length")
    sequence_stride = validation.positive_int(sequence_stride, "sequence_stride")
    sampling_rate = validation.positive_int(sampling_rate, "sampling_rate")
    if batch_size is not None:
        batch_size = validation.positive_int(batch_size, "batch_size")
    n = len(data)
    start = 0 if start_index is None else _index(start_index, "start_index")
    end = n if end_index is None else _index(end_index, "end_index")
    if start >= n:
        raise ValueError(
            f"Received an invalid value for argument start_index, expected a "
            f"step below the data's length {n}, got {start_index}."
        )
    if end > n or end <= start:
        raise ValueError(
            f"Received an invalid value for argument end_index, expected a step "
            f"in ({start}, {n}], got {end_index}."
        )
    num_windows = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num_windows = min(num_windows, len(targets) - start)
    if num_windows <= 0:
        raise ValueError(
            f"No window fits: steps {start}..{end} of data hold {end - start} steps, a window "
            f"of sequence_length={sequence_length} at sampling_rate={sampling_rate} spans "
            f"{(sequence_length - 1) * sampling_rate + 1}"
            + ("" if targets is None else f", and targets has {len(targets)} entries")
            + "."
        )
    positions = np.arange(0, num_windows, sequence_stride, dtype=np.int64)
    rng = None
    if shuffle:
        # Keras's own order: a RandomState permutation of the window starts
        rng = np.random.RandomState(np.random.randint(1e6) if seed is None else seed)
        rng.shuffle(positions)
    window_data = data[start:end]
    window_targets = None if targets is None else targets[start:]
    return TimeseriesDataset(
        window_data, window_targets, positions, sequence_length, sampling_rate, batch_size, rng
    )


def _index(value, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(
            f"Received an invalid value for argument {argument}, expected an int "
            f">= 0, got {value!r}."
        )
    return int(value)

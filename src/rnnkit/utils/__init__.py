"""Utilities with Keras's names: to_categorical, pad_sequences,
timeseries_dataset_from_array, PyDataset / Sequence, set_random_seed."""

from ..backend import set_random_seed
from ..preprocessing.sequence import pad_sequences
from .np_utils import to_categorical
from .timeseries import TimeseriesDataset, timeseries_dataset_from_array


def __getattr__(name):
    # keras.utils.PyDataset: defined with the fit loop, which imports this package
    if name in ("PyDataset", "Sequence"):
        from ..models import data_adapters

        return getattr(data_adapters, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PyDataset",
    "Sequence",
    "TimeseriesDataset",
    "pad_sequences",
    "set_random_seed",
    "timeseries_dataset_from_array",
    "to_categorical",
]

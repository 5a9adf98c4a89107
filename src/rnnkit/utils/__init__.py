"""Utilities with Keras's names: to_categorical, pad_sequences,
timeseries_dataset_from_array."""

from ..preprocessing.sequence import pad_sequences
from .np_utils import to_categorical
from .timeseries import TimeseriesDataset, timeseries_dataset_from_array

__all__ = [
    "TimeseriesDataset",
    "pad_sequences",
    "timeseries_dataset_from_array",
    "to_categorical",
]

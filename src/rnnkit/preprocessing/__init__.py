"""Preprocessing: sequences (pad_sequences) and text (Tokenizer)."""

from . import sequence, text
from .sequence import pad_sequences
from .text import Tokenizer, text_to_word_sequence, tokenizer_from_json


def __getattr__(name):
    # Keras also keeps timeseries_dataset_from_array here; imported on first use, as
    # rnnkit.utils imports this package
    if name == "timeseries_dataset_from_array":
        from ..utils.timeseries import timeseries_dataset_from_array

        return timeseries_dataset_from_array
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Tokenizer",
    "pad_sequences",
    "sequence",
    "text",
    "text_to_word_sequence",
    "timeseries_dataset_from_array",
    "tokenizer_from_json",
]

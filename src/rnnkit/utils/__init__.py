"""Utilities with Keras's names: to_categorical, pad_sequences."""

from ..preprocessing.sequence import pad_sequences
from .np_utils import to_categorical

__all__ = ["to_categorical", "pad_sequences"]

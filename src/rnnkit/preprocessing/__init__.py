"""Preprocessing: sequences (pad_sequences)."""

from . import sequence
from .sequence import pad_sequences

__all__ = ["sequence", "pad_sequences"]

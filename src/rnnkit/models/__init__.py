"""Models: Sequential, the training loop, saving and loading."""

from .saving import load_model, save_model
from .sequential import Sequential

__all__ = ["Sequential", "load_model", "save_model"]

"""Models: Sequential and the functional Model, the training loop, saving and loading."""

from .functional import Input, Model
from .saving import load_model, save_model
from .sequential import Sequential

__all__ = ["Input", "Model", "Sequential", "load_model", "save_model"]

"""Models: Sequential and the functional Model, the training loop, saving and loading,
and the Keras-style data sources ``fit`` takes besides arrays."""

from .data_adapters import PyDataset, Sequence
from .functional import Input, Model
from .saving import load_model, save_model
from .sequential import Sequential

__all__ = ["Input", "Model", "PyDataset", "Sequence", "Sequential", "load_model", "save_model"]

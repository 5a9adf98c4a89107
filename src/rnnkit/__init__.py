"""rnnkit: recurrent neural networks from their equations, in NumPy.

SimpleRNN (Elman), LSTM and GRU cells with explicit forward and backward steps,
backpropagation through time, and a Keras-style API::

    from rnnkit.models import Sequential
    from rnnkit.layers import Embedding, LSTM, Dense

See README.md for the command-line tool and the guides in docs/.
"""

__version__ = "0.1.0"

from . import (  # noqa: E402
    activations,
    backend,
    callbacks,
    cells,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    preprocessing,
    utils,
)
from .backend import set_random_seed  # noqa: E402

__all__ = [
    "activations",
    "backend",
    "callbacks",
    "cells",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "preprocessing",
    "set_random_seed",
    "utils",
    "__version__",
]

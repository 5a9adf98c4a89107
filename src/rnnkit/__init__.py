"""rnnkit: recurrent neural networks from their equations, in NumPy.

SimpleRNN (Elman), LSTM and GRU cells with explicit forward and backward steps,
backpropagation through time, and a Keras-style API. The package reads as a Keras 3
namespace for what it implements::

    import rnnkit as keras

    model = keras.Sequential([
        keras.Input(shape=(None, 8)),
        keras.layers.LSTM(32),
        keras.layers.Dense(1),
    ])

See README.md for the command-line tool and the guides in docs/.
"""

__version__ = "0.1.0"

from . import (  # noqa: E402
    activations,
    backend,
    callbacks,
    cells,
    constraints,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    preprocessing,
    regularizers,
    utils,
)
from .backend import set_num_threads, set_random_seed  # noqa: E402
from .layers.input_layer import Input, InputLayer  # noqa: E402
from .models import Model, Sequential  # noqa: E402

__all__ = [
    "Input",
    "InputLayer",
    "Model",
    "Sequential",
    "activations",
    "backend",
    "callbacks",
    "cells",
    "constraints",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "preprocessing",
    "regularizers",
    "set_num_threads",
    "set_random_seed",
    "utils",
    "__version__",
]

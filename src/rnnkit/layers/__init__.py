"""Layers, all keeping one contract (see :mod:`rnnkit.layers.base`)."""

from .attention import BahdanauAttention, DotAttention
from .base import Layer
from .convolutional import Conv1D
from .core import (
    Activation,
    Dense,
    Dropout,
    Flatten,
    Masking,
    ReLU,
    RepeatVector,
    SpatialDropout1D,
    TiedDense,
)
from .embedding import Embedding
from .input_layer import Input, InputLayer
from .merge import Add, Concatenate
from .normalization import BatchNormalization, LayerNormalization
from .pooling import (
    AveragePooling1D,
    GlobalAveragePooling1D,
    GlobalMaxAveragePooling1D,
    GlobalMaxPooling1D,
    MaxPooling1D,
)
from .recurrent import GRU, LSTM, RNN, SimpleRNN
from .wrappers import Bidirectional, TimeDistributed

_CLASSES = {
    cls.__name__: cls
    for cls in (
        Activation,
        Bidirectional,
        Dense,
        Dropout,
        Embedding,
        Flatten,
        GRU,
        LSTM,
        Masking,
        RepeatVector,
        SimpleRNN,
        TimeDistributed,
        SpatialDropout1D,
        GlobalMaxPooling1D,
        GlobalAveragePooling1D,
        GlobalMaxAveragePooling1D,
        BahdanauAttention,
        DotAttention,
        Add,
        Concatenate,
        TiedDense,
        InputLayer,
        Conv1D,
        MaxPooling1D,
        AveragePooling1D,
        BatchNormalization,
        LayerNormalization,
        ReLU,
    )
}
# Keras's other spellings
_CLASSES["Convolution1D"] = Conv1D
_CLASSES["MaxPool1D"] = MaxPooling1D
_CLASSES["AvgPool1D"] = AveragePooling1D
MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
Convolution1D = Conv1D


def deserialize(spec: dict) -> Layer:
    """A layer from ``{"class_name": ..., "config": {...}}`` (the saved-model form).

    Raises:
        ValueError: unknown class name or invalid config.
    """
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise ValueError(f"Invalid layer spec: expected a dict with 'class_name', got {spec!r}.")
    cls = _CLASSES.get(spec["class_name"])
    if cls is None:
        raise ValueError(f"Unknown layer class {spec['class_name']!r}; known: {sorted(_CLASSES)}.")
    config = dict(spec.get("config", {}))
    try:
        return cls.from_config(config)
    except TypeError as exc:
        raise ValueError(f"Invalid config for layer {spec['class_name']}: {exc}") from None


def serialize(layer: Layer) -> dict:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


__all__ = [
    "Activation",
    "Add",
    "AveragePooling1D",
    "AvgPool1D",
    "BatchNormalization",
    "Conv1D",
    "Convolution1D",
    "Input",
    "InputLayer",
    "LayerNormalization",
    "MaxPool1D",
    "MaxPooling1D",
    "Concatenate",
    "BahdanauAttention",
    "Bidirectional",
    "DotAttention",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GRU",
    "LSTM",
    "GlobalAveragePooling1D",
    "GlobalMaxAveragePooling1D",
    "GlobalMaxPooling1D",
    "Layer",
    "Masking",
    "RNN",
    "ReLU",
    "RepeatVector",
    "SimpleRNN",
    "SpatialDropout1D",
    "TiedDense",
    "TimeDistributed",
    "deserialize",
    "serialize",
]

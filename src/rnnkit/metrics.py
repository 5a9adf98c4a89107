"""Metrics by name. Each returns (sum of per-entry values, number of entries) for a
batch, so an epoch's figure is an exact mean over all (unmasked) entries."""

from __future__ import annotations

import numpy as np


def _masked(values, mask):
    if mask is None:
        return float(np.sum(values)), values.size
    m = np.asarray(mask, dtype=bool)
    return float(np.sum(values[m])), int(m.sum())


def categorical_accuracy(y_true, y_pred, mask=None):
    hits = np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)
    return _masked(hits.astype(float), mask)


def sparse_categorical_accuracy(y_true, y_pred, mask=None):
    labels = np.asarray(y_true)
    if labels.ndim == y_pred.ndim:
        labels = labels[..., 0]
    hits = labels.astype(np.int64) == np.argmax(y_pred, axis=-1)
    return _masked(hits.astype(float), mask)


def binary_accuracy(y_true, y_pred, mask=None, threshold=0.5):
    y = np.asarray(y_true).reshape(y_pred.shape)
    hits = ((y_pred > threshold) == (y > 0.5)).mean(axis=-1)
    return _masked(hits, mask)


def mean_squared_error(y_true, y_pred, mask=None):
    y = np.asarray(y_true).reshape(y_pred.shape)
    return _masked(np.mean((y_pred - y) ** 2, axis=-1), mask)


def mean_absolute_error(y_true, y_pred, mask=None):
    y = np.asarray(y_true).reshape(y_pred.shape)
    return _masked(np.mean(np.abs(y_pred - y), axis=-1), mask)


_REGISTRY = {
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "binary_accuracy": binary_accuracy,
    "mean_squared_error": mean_squared_error,
    "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error,
    "mae": mean_absolute_error,
}


def get(identifier, loss_name: str | None = None):
    """(display name, function). ``"accuracy"``/``"acc"`` resolve by the loss, as Keras:
    sparse cross-entropy -> sparse_categorical_accuracy, binary -> binary_accuracy,
    else categorical_accuracy.

    Raises:
        ValueError: for an unknown name.
    """
    if callable(identifier):
        return getattr(identifier, "__name__", "metric"), identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            if loss_name == "sparse_categorical_crossentropy":
                return identifier, sparse_categorical_accuracy
            if loss_name == "binary_crossentropy":
                return identifier, binary_accuracy
            return identifier, categorical_accuracy
        if key in _REGISTRY:
            return identifier, _REGISTRY[key]
    raise ValueError(
        f"Received an invalid value for argument metrics, expected names from "
        f"{sorted(_REGISTRY) + ['accuracy']}, got {identifier!r}."
    )

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


# ---- whole-dataset classification reports (not per-batch metrics) -----------------
def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """counts[i, j] = number of samples of class i predicted as j."""
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return cm


def f1_from_counts(tp, fp, fn) -> np.ndarray:
    """Per-class F1 = 2TP / (2TP + FP + FN), 0 where a class never occurs nor is predicted."""
    tp, fp, fn = (np.asarray(a, float) for a in (tp, fp, fn))
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(denom), where=denom > 0)


def classification_report(y_true, y_pred, n_classes: int) -> dict:
    """Accuracy, macro-F1 (mean over classes present in y_true or y_pred) and
    micro-F1 for single-label predictions."""
    cm = confusion_matrix(y_true, y_pred, n_classes)
    tp = np.diag(cm)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    f1 = f1_from_counts(tp, fp, fn)
    return {
        "accuracy": float(tp.sum() / max(cm.sum(), 1)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "micro_f1": float(f1_from_counts(tp.sum(), fp.sum(), fn.sum())),
    }


def multilabel_report(y_true, y_pred) -> dict:
    """Micro- and macro-F1 for multi-label 0/1 matrices (samples, labels); macro over
    the labels present in y_true (the ModApte convention)."""
    y_true = np.asarray(y_true, bool)
    y_pred = np.asarray(y_pred, bool)
    tp = (y_true & y_pred).sum(axis=0)
    fp = (~y_true & y_pred).sum(axis=0)
    fn = (y_true & ~y_pred).sum(axis=0)
    present = y_true.any(axis=0)
    f1 = f1_from_counts(tp, fp, fn)
    return {
        "micro_f1": float(f1_from_counts(tp.sum(), fp.sum(), fn.sum())),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "subset_accuracy": float(np.mean(np.all(y_true == y_pred, axis=1))),
    }

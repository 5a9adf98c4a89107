"""Metrics by name. Each returns (sum of per-entry values, number of entries) for a
batch, so an epoch's figure is an exact mean over all (unmasked) entries."""

from __future__ import annotations

import numpy as np

from .utils import validation


def _masked(values, mask):
    if mask is None:
        return float(np.sum(values)), values.size
    m = np.asarray(mask, dtype=bool)
    return float(np.sum(values[m])), int(m.sum())


def categorical_accuracy(y_true, y_pred, mask=None):
    """Hits where the argmax of y_pred is the argmax of the one-hot y_true.

    Args:
        y_true: one-hot (or soft) targets of y_pred's shape.
        y_pred: array of scores, classes on the last axis.
        mask: 0/1 (or boolean) array of the entries' shape, default None: the entries
            where it is 0 are left out of both the sum and the count.

    Returns:
        (sum of the per-entry values, number of entries) for the batch.

    Example:
        >>> import numpy as np
        >>> from rnnkit import metrics
        >>> y_pred = np.array([[0.2, 0.8], [0.3, 0.7]])
        >>> metrics.categorical_accuracy(np.array([[0, 1], [1, 0]]), y_pred)
        (1.0, 2)
    """
    hits = np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)
    return _masked(hits.astype(float), mask)


def sparse_categorical_accuracy(y_true, y_pred, mask=None):
    """Hits where the argmax of y_pred is the integer label.

    Args:
        y_true: integer labels, y_pred's shape without its last axis (or with it as 1).
        y_pred: array of scores, classes on the last axis.
        mask: 0/1 (or boolean) array of the entries' shape, default None: the entries
            where it is 0 are left out of both the sum and the count.

    Returns:
        (sum of the per-entry values, number of entries) for the batch.

    Example:
        >>> import numpy as np
        >>> from rnnkit import metrics
        >>> y_pred = np.array([[0.2, 0.8], [0.3, 0.7]])
        >>> metrics.sparse_categorical_accuracy(np.array([1, 0]), y_pred)
        (1.0, 2)
    """
    labels = np.asarray(y_true)
    if labels.ndim == y_pred.ndim:
        labels = labels[..., 0]
    # compared as given, as Keras does: a label of 1.7 is no class, never a hit (a cast
    # to int would count it as class 1)
    hits = labels == np.argmax(y_pred, axis=-1)
    return _masked(hits.astype(float), mask)


def binary_accuracy(y_true, y_pred, mask=None, threshold=0.5):
    """Per entry, the share of the last axis where y_pred > threshold agrees with y_true > 0.5.

    Args:
        y_true: 0/1 targets of y_pred's size.
        y_pred: array of probabilities.
        mask: 0/1 (or boolean) array of the entries' shape, default None: the entries
            where it is 0 are left out of both the sum and the count.
        threshold: the probability above which a prediction is 1, default 0.5.

    Returns:
        (sum of the per-entry values, number of entries) for the batch.

    Example:
        >>> import numpy as np
        >>> from rnnkit import metrics
        >>> metrics.binary_accuracy(np.array([[1], [0]]), np.array([[0.9], [0.6]]))
        (1.0, 2)
    """
    y = np.asarray(y_true).reshape(y_pred.shape)
    hits = ((y_pred > threshold) == (y > 0.5)).mean(axis=-1)
    return _masked(hits, mask)


def mean_squared_error(y_true, y_pred, mask=None):
    """Per entry, the mean over the last axis of (y_pred - y_true)².

    Args:
        y_true: targets of y_pred's size.
        y_pred: array of predictions.
        mask: 0/1 (or boolean) array of the entries' shape, default None: the entries
            where it is 0 are left out of both the sum and the count.

    Returns:
        (sum of the per-entry values, number of entries) for the batch.

    Example:
        >>> import numpy as np
        >>> from rnnkit import metrics
        >>> metrics.mean_squared_error(np.array([[1.0, 2.0]]), np.array([[1.0, 4.0]]))
        (2.0, 1)
    """
    y = np.asarray(y_true).reshape(y_pred.shape)
    return _masked(np.mean((y_pred - y) ** 2, axis=-1), mask)


def mean_absolute_error(y_true, y_pred, mask=None):
    """Per entry, the mean over the last axis of |y_pred - y_true|.

    Args:
        y_true: targets of y_pred's size.
        y_pred: array of predictions.
        mask: 0/1 (or boolean) array of the entries' shape, default None: the entries
            where it is 0 are left out of both the sum and the count.

    Returns:
        (sum of the per-entry values, number of entries) for the batch.

    Example:
        >>> import numpy as np
        >>> from rnnkit import metrics
        >>> metrics.mean_absolute_error(np.array([[1.0, 2.0]]), np.array([[1.0, 4.0]]))
        (1.0, 1)
    """
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

    Args:
        identifier: a callable (returned with its ``__name__``) or a name,
            case-insensitive.
        loss_name: the model's loss name, read for ``"accuracy"``, default None.

    Returns:
        (display name, function).

    Raises:
        ValueError: for an unknown name.

    Example:
        >>> from rnnkit import metrics
        >>> name, fn = metrics.get("acc", "sparse_categorical_crossentropy")
        >>> name, fn.__name__
        ('acc', 'sparse_categorical_accuracy')
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
def _class_labels(values, argument: str, n_classes: int) -> np.ndarray:
    """``values`` as int64 class ids in [0, n_classes), one per sample (a 1-D array;
    a trailing axis of 1 is dropped). Floats must hold whole numbers: a probability
    or a score is not a label, and truncating it would count it in the wrong cell."""
    try:
        arr = np.asarray(values)
    except ValueError:
        arr = np.asarray(values, dtype=object)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.dtype == object:
        raise ValueError(
            f"Received an invalid value for argument {argument}: expected one integer "
            f"label per sample (a 1-D array), got {validation.describe(arr)} (one-hot rows? "
            f"take their argmax first)."
        )
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(
            f"Received an invalid value for argument {argument}: expected integer class "
            f"labels, got dtype {arr.dtype}."
        )
    if np.issubdtype(arr.dtype, np.floating):
        whole = np.isfinite(arr) & (arr == np.round(arr))
        if not whole.all():
            bad = arr[~whole][0]
            raise ValueError(
                f"Received an invalid value for argument {argument}: expected integer "
                f"class labels, got {bad!r} at index {int(np.flatnonzero(~whole)[0])} "
                f"(probabilities? take their argmax first)."
            )
    if arr.size:
        low, high = arr.min(), arr.max()
        if low < 0 or high >= n_classes:
            bad = low if low < 0 else high
            raise ValueError(
                f"Received an invalid value for argument {argument}: expected class labels "
                f"in [0, {n_classes}) for n_classes={n_classes}, got {bad!r}."
            )
    return arr.astype(np.int64)


def _labels_pair(y_true, y_pred, n_classes) -> tuple[np.ndarray, np.ndarray, int]:
    n_classes = validation.positive_int(n_classes, "n_classes")
    true = _class_labels(y_true, "y_true", n_classes)
    pred = _class_labels(y_pred, "y_pred", n_classes)
    if true.shape != pred.shape:
        raise ValueError(
            f"Received mismatched lengths: y_true has {true.size} labels, y_pred "
            f"{pred.size}; expected one prediction per sample."
        )
    return true, pred, n_classes


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """counts[i, j] = number of samples of class i predicted as j.

    Args:
        y_true: integer labels, one per sample, each in [0, n_classes) (floats are
            accepted when they hold whole numbers).
        y_pred: integer predictions, as many, in the same range.
        n_classes: the matrix's size, a positive int.

    Returns:
        An int64 array (n_classes, n_classes).

    Raises:
        ValueError: a label outside [0, n_classes) (a negative one included), a float
            label that is not a whole number, labels that are not one per sample (a
            one-hot matrix), different lengths, or ``n_classes`` not a positive int.
        TypeError: labels that are not numbers (strings, booleans).

    Example:
        >>> from rnnkit import metrics
        >>> metrics.confusion_matrix([0, 1, 1], [0, 0, 1], 2)
        array([[1, 0],
               [1, 1]])
    """
    true, pred, n_classes = _labels_pair(y_true, y_pred, n_classes)
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (true, pred), 1)
    return cm


def f1_from_counts(tp, fp, fn) -> np.ndarray:
    """Per-class F1 = 2TP / (2TP + FP + FN), 0 where a class never occurs nor is predicted.

    Args:
        tp, fp, fn: true positives, false positives and false negatives, per class (or
            scalars).

    Returns:
        A float array of their broadcast shape.

    Example:
        >>> from rnnkit import metrics
        >>> metrics.f1_from_counts([1, 0], [0, 0], [1, 0])
        array([0.66666667, 0.        ])
    """
    tp, fp, fn = (np.asarray(a, float) for a in (tp, fp, fn))
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(denom), where=denom > 0)


def classification_report(y_true, y_pred, n_classes: int) -> dict:
    """Accuracy, macro-F1 (mean over classes present in y_true or y_pred) and
    micro-F1 for single-label predictions.

    Args:
        y_true: integer labels, one per sample.
        y_pred: integer predictions, as many.
        n_classes: the number of classes.

    Returns:
        ``{"accuracy", "macro_f1", "micro_f1"}``, floats.

    Raises:
        ValueError, TypeError: labels as :func:`confusion_matrix` refuses them.

    Example:
        >>> from rnnkit import metrics
        >>> report = metrics.classification_report([0, 1, 1], [0, 0, 1], 3)
        >>> round(report["macro_f1"], 4)
        0.6667
    """
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
    the labels present in y_true (the ModApte convention).

    Args:
        y_true: 0/1 matrix (samples, labels).
        y_pred: 0/1 matrix of the same shape.

    Returns:
        ``{"micro_f1", "macro_f1", "subset_accuracy"}``, floats; subset accuracy is the
        share of samples whose every label is right.

    Raises:
        ValueError: matrices that are not 2-D, of different shapes, or holding a value
            other than 0 and 1 (scores, probabilities: threshold them first).

    Example:
        >>> from rnnkit import metrics
        >>> report = metrics.multilabel_report([[1, 0], [1, 1]], [[1, 0], [0, 1]])
        >>> report["micro_f1"], report["subset_accuracy"]
        (0.8, 0.5)
    """
    y_true, y_pred = _indicator(y_true, "y_true"), _indicator(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"Received mismatched shapes: y_true {y_true.shape}, y_pred {y_pred.shape}; "
            f"expected one row of labels per sample in both."
        )
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


def _indicator(values, argument: str) -> np.ndarray:
    """A (samples, labels) 0/1 matrix as booleans; any other value is refused (a cast to
    bool would count a probability of 0.3 as a predicted label)."""
    arr = validation.as_array(values, argument)
    if arr.ndim != 2:
        raise ValueError(
            f"Received an invalid value for argument {argument}: expected a 2-D 0/1 matrix "
            f"(samples, labels), got shape {arr.shape}."
        )
    outside = ~np.isin(arr, (0, 1))
    if outside.any():
        raise ValueError(
            f"Received an invalid value for argument {argument}: expected only 0 and 1, "
            f"got {arr[outside][0]!r} (threshold scores first)."
        )
    return arr.astype(bool)

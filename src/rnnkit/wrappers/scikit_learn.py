"""scikit-learn estimators around a model-building function, as the seeds use them:

    model = KerasClassifier(build_fn=vanilla_rnn, epochs=200, batch_size=50, verbose=1)
    model.fit(X_train, y_train)
    y_pred = model.predict(X_test)

scikit-learn itself is not needed to use these; they follow its estimator contract
(``fit``/``predict``/``score``, ``get_params``/``set_params``), so they work in its
pipelines and searches when it is installed.

``random_state=`` (an int) seeds rnnkit before each build, so every fit — in a serial
search, or as a trial on a Dask cluster (:mod:`rnnkit.distributed.sweeps`) — draws the
same weights, shuffles and dropout masks for the same parameters.
"""

from __future__ import annotations

import copy
import inspect

import numpy as np

from .. import backend
from ..utils.np_utils import to_categorical
from ..utils.validation import as_array

_FIT_ARGS = {
    "batch_size",
    "epochs",
    "verbose",
    "callbacks",
    "validation_split",
    "validation_data",
    "shuffle",
    "class_weight",
    "sample_weight",
    "initial_epoch",
}


class _BaseWrapper:
    def __init__(self, build_fn=None, **sk_params):
        if build_fn is not None and not callable(build_fn):
            raise TypeError(
                f"Received an invalid value for argument build_fn, expected a callable that "
                f"returns a compiled model, got {build_fn!r}."
            )
        self.build_fn = build_fn
        self.sk_params = sk_params
        self._check_params(sk_params)

    def _check_params(self, params):
        seed = params.get("random_state")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(
                f"Received an invalid value for argument random_state, expected an int or "
                f"None, got {seed!r}."
            )
        allowed = set(_FIT_ARGS) | {"batch_size", "random_state"}
        if self.build_fn is not None:
            allowed |= set(inspect.signature(self.build_fn).parameters)
        for name in params:
            if name not in allowed:
                raise ValueError(f"{name!r} is not a legal parameter (allowed: {sorted(allowed)}).")

    def get_params(self, deep: bool = True) -> dict:
        params = copy.deepcopy(self.sk_params) if deep else dict(self.sk_params)
        params["build_fn"] = self.build_fn
        return params

    def set_params(self, **params):
        if "build_fn" in params:
            self.build_fn = params.pop("build_fn")
        self._check_params(params)
        self.sk_params.update(params)
        return self

    def _build(self):
        if self.build_fn is None:
            raise ValueError("build_fn is None: pass a function that builds and compiles a model.")
        names = set(inspect.signature(self.build_fn).parameters)
        seed = self.sk_params.get("random_state")
        if seed is not None:
            backend.set_random_seed(int(seed))
        model = self.build_fn(**{k: v for k, v in self.sk_params.items() if k in names})
        if not hasattr(model, "fit") or getattr(model, "loss", None) is None:
            raise ValueError("build_fn must return a compiled rnnkit model.")
        return model

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, InputTags, RegressorTags, Tags, TargetTags

        classifier = self._estimator_type == "classifier"
        return Tags(
            estimator_type=self._estimator_type,
            target_tags=TargetTags(required=True),
            classifier_tags=ClassifierTags() if classifier else None,
            regressor_tags=None if classifier else RegressorTags(),
            input_tags=InputTags(three_d_array=True),
        )

    def _fit_kwargs(self, overrides):
        kwargs = {k: v for k, v in self.sk_params.items() if k in _FIT_ARGS}
        kwargs.update(overrides)
        return kwargs


class KerasClassifier(_BaseWrapper):
    """A classifier: y as class labels (any hashable values) or one-hot rows.

    ``predict`` returns labels from ``classes_``; ``predict_proba`` the model's
    probabilities (a single sigmoid output becomes two columns); ``score`` the
    accuracy. With a categorical cross-entropy loss the labels are one-hot encoded
    for the model, otherwise passed as integer ids.

    Args:
        build_fn: a function that builds and compiles a model, called at each ``fit``
            with the parameters its signature names; default None (``fit`` then
            raises).
        **sk_params: ``build_fn``'s parameters, ``fit``'s (``epochs``, ``batch_size``,
            ``verbose``, ``callbacks``, ``validation_split``, ...) and ``random_state``
            (an int: ``rnnkit.backend.set_random_seed`` before each build).

    Raises:
        TypeError: ``build_fn`` not callable, or ``random_state`` not an int.
        ValueError: a parameter neither ``build_fn`` nor ``fit`` takes; at ``fit``, a
            ``build_fn`` that is None or does not return a compiled model.
        RuntimeError: ``predict`` or ``score`` before ``fit``.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential
        >>> from rnnkit.wrappers.scikit_learn import KerasClassifier
        >>> def build(units=4):
        ...     model = Sequential([layers.Input((3, 2)), layers.SimpleRNN(units),
        ...                         layers.Dense(2, activation="softmax")])
        ...     model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        ...     return model
        >>> x = np.random.default_rng(0).random((8, 3, 2)).astype("float32")
        >>> clf = KerasClassifier(build_fn=build, units=4, epochs=1, verbose=0)
        >>> clf.fit(x, np.array(["a", "b"] * 4)).classes_
        array(['a', 'b'], dtype='<U1')
        >>> clf.predict(x[:2]).shape
        (2,)
    """

    _estimator_type = "classifier"

    def fit(self, x, y, **kwargs):
        y = as_array(y, "y", numeric=False)
        if y.ndim == 2 and y.shape[1] > 1:
            self.classes_ = np.arange(y.shape[1])
            encoded = np.argmax(y, axis=1)
        else:
            y = y.reshape(len(y))
            self.classes_, encoded = np.unique(y, return_inverse=True)
        self.n_classes_ = len(self.classes_)
        self.model = self._build()
        loss = self.model.loss.name
        if loss == "categorical_crossentropy":
            target = to_categorical(encoded, self.n_classes_)
        else:
            target = encoded
        self.history_ = self.model.fit(x, target, **self._fit_kwargs(kwargs))
        return self

    def predict_proba(self, x, **kwargs):
        self._require_fit()
        probs = self.model.predict(x, **kwargs)
        if probs.shape[-1] == 1:  # a single sigmoid output
            probs = np.concatenate([1 - probs, probs], axis=-1)
        return probs

    def predict(self, x, **kwargs):
        proba = self.predict_proba(x, **kwargs)
        return self.classes_[np.argmax(proba, axis=-1)]

    def score(self, x, y, **kwargs) -> float:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            y = self.classes_[np.argmax(y, axis=1)]
        return float(np.mean(self.predict(x, **kwargs) == y.reshape(len(y))))

    def _require_fit(self):
        if not hasattr(self, "model"):
            raise RuntimeError("This KerasClassifier is not fitted yet; call fit first.")


class KerasRegressor(_BaseWrapper):
    """A regressor: ``predict`` returns the model's outputs; ``score`` is R².

    A single output column is returned as a 1-D array; R² is averaged over the
    output columns.

    Args:
        build_fn: a function that builds and compiles a model, called at each ``fit``
            with the parameters its signature names; default None (``fit`` then
            raises).
        **sk_params: ``build_fn``'s parameters, ``fit``'s (``epochs``, ``batch_size``,
            ``verbose``, ``callbacks``, ``validation_split``, ...) and ``random_state``
            (an int: ``rnnkit.backend.set_random_seed`` before each build).

    Raises:
        TypeError: ``build_fn`` not callable, or ``random_state`` not an int.
        ValueError: a parameter neither ``build_fn`` nor ``fit`` takes; at ``fit``, a
            ``build_fn`` that is None or does not return a compiled model.
        RuntimeError: ``predict`` or ``score`` before ``fit``.

    Example:
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential
        >>> from rnnkit.wrappers.scikit_learn import KerasRegressor
        >>> def build():
        ...     model = Sequential([layers.Input((3, 2)), layers.SimpleRNN(4), layers.Dense(1)])
        ...     model.compile(optimizer="adam", loss="mse")
        ...     return model
        >>> x = np.random.default_rng(0).random((8, 3, 2)).astype("float32")
        >>> reg = KerasRegressor(build_fn=build, epochs=1, verbose=0, random_state=0)
        >>> reg.fit(x, np.arange(8.0)).predict(x).shape
        (8,)
    """

    _estimator_type = "regressor"

    def fit(self, x, y, **kwargs):
        self.model = self._build()
        self.history_ = self.model.fit(x, y, **self._fit_kwargs(kwargs))
        return self

    def predict(self, x, **kwargs):
        if not hasattr(self, "model"):
            raise RuntimeError("This KerasRegressor is not fitted yet; call fit first.")
        out = self.model.predict(x, **kwargs)
        return out[:, 0] if out.ndim == 2 and out.shape[1] == 1 else out

    def score(self, x, y, **kwargs) -> float:
        y = np.asarray(y, dtype=float).reshape(len(y), -1)
        pred = np.asarray(self.predict(x, **kwargs), dtype=float).reshape(len(y), -1)
        ss_res = np.sum((y - pred) ** 2, axis=0)
        ss_tot = np.sum((y - y.mean(axis=0)) ** 2, axis=0)
        safe = np.where(ss_tot > 0, ss_tot, 1.0)
        r2 = np.where(ss_tot > 0, 1 - ss_res / safe, np.where(ss_res == 0, 1.0, 0.0))
        return float(np.mean(r2))

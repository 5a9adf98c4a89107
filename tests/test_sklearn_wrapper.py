"""rnnkit.wrappers.scikit_learn: KerasClassifier and KerasRegressor as the seeds use
them, and as scikit-learn's estimator contract expects (clone, get/set_params,
cross_val_score)."""

from __future__ import annotations

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone, is_classifier, is_regressor  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402

import rnnkit  # noqa: E402
from rnnkit import optimizers  # noqa: E402
from rnnkit.layers import Dense, SimpleRNN  # noqa: E402
from rnnkit.models import Sequential  # noqa: E402
from rnnkit.wrappers.scikit_learn import KerasClassifier, KerasRegressor  # noqa: E402

STEPS, FEATURES = 5, 2


def build_classifier(units=8, n_classes=3, loss="categorical_crossentropy", lr=0.03):
    model = Sequential()
    model.add(SimpleRNN(units, input_shape=(STEPS, FEATURES)))
    model.add(Dense(n_classes, activation="softmax"))
    model.compile(loss=loss, optimizer=optimizers.Adam(learning_rate=lr), metrics=["accuracy"])
    return model


def build_binary(units=6):
    model = Sequential()
    model.add(SimpleRNN(units, input_shape=(STEPS, FEATURES)))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer=optimizers.Adam(learning_rate=0.03))
    return model


def build_regressor(units=8, outputs=1):
    model = Sequential()
    model.add(SimpleRNN(units, input_shape=(STEPS, FEATURES)))
    model.add(Dense(outputs))
    model.compile(loss="mse", optimizer=optimizers.Adam(learning_rate=0.02))
    return model


def three_class_problem(n=90, seed=0):
    """Class = which third the sum of feature 0 over time falls in: learnable."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, STEPS, FEATURES))
    total = x[:, :, 0].sum(axis=1)
    y = np.digitize(total, np.quantile(total, [1 / 3, 2 / 3]))
    return x, y


@pytest.fixture(autouse=True)
def _seeded():
    rnnkit.set_random_seed(0)


# ---- the classifier ------------------------------------------------------------------
@pytest.mark.parametrize(
    "encoding",
    ["integers", "strings", "one_hot", "sparse_loss"],
)
def test_classifier_fit_predict_proba_score(encoding):
    x, y_int = three_class_problem()
    kwargs = {}
    if encoding == "integers":  # any integer labels, not only 0..k-1
        y, classes = np.array([2, 5, 9])[y_int], np.array([2, 5, 9])
    elif encoding == "strings":
        y, classes = np.array(["cat", "dog", "eel"])[y_int], np.array(["cat", "dog", "eel"])
    elif encoding == "one_hot":
        y, classes = np.eye(3)[y_int], np.arange(3)
    else:
        y, classes = np.array([2, 5, 9])[y_int], np.array([2, 5, 9])
        kwargs["loss"] = "sparse_categorical_crossentropy"
    clf = KerasClassifier(build_fn=build_classifier, epochs=40, batch_size=16, verbose=0, **kwargs)
    assert clf.fit(x, y) is clf
    np.testing.assert_array_equal(clf.classes_, classes)
    assert clf.n_classes_ == 3
    assert len(clf.history_.history["loss"]) == 40

    proba = clf.predict_proba(x)
    assert proba.shape == (len(x), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    pred = clf.predict(x)
    assert pred.shape == (len(x),)
    np.testing.assert_array_equal(pred, classes[np.argmax(proba, axis=1)])

    truth = classes[y_int]
    expected_acc = float(np.mean(pred == truth))
    assert clf.score(x, y) == pytest.approx(expected_acc)
    assert expected_acc > 0.8, f"did not learn a separable problem: accuracy {expected_acc}"
    if encoding == "one_hot":  # one-hot and label forms score the same
        assert clf.score(x, y_int) == pytest.approx(expected_acc)


def test_binary_classifier_with_one_sigmoid_output():
    x, y_int = three_class_problem(n=60, seed=1)
    y = np.where(y_int == 2, "yes", "no")
    clf = KerasClassifier(build_fn=build_binary, epochs=30, batch_size=16, verbose=0)
    clf.fit(x, y)
    np.testing.assert_array_equal(clf.classes_, ["no", "yes"])
    proba = clf.predict_proba(x)
    assert proba.shape == (len(x), 2)  # [P(no), P(yes)] from the single sigmoid
    p_yes = clf.model.predict(x)[:, 0]
    np.testing.assert_allclose(proba[:, 1], p_yes)
    np.testing.assert_allclose(proba[:, 0], 1 - p_yes)
    np.testing.assert_array_equal(clf.predict(x), np.where(p_yes > 0.5, "yes", "no"))


@pytest.mark.parametrize(
    "method",
    [
        "classifier.predict",
        "classifier.predict_proba",
        "classifier.score",
        "regressor.predict",
        "regressor.score",
    ],
)
def test_use_before_fit_raises_not_fitted(method):
    x, _ = three_class_problem(n=10)
    owner, name = method.split(".")
    est = {
        "classifier": KerasClassifier(build_fn=build_classifier, epochs=1, verbose=0),
        "regressor": KerasRegressor(build_fn=build_regressor, epochs=1, verbose=0),
    }[owner]
    args = (x,) if name.startswith("predict") else (x, np.zeros(10, dtype=int))
    # the wrappers' own clear error, not an AttributeError from deep inside
    with pytest.raises(RuntimeError, match="not fitted"):
        getattr(est, name)(*args)


# ---- parameters ------------------------------------------------------------------------
def test_get_params_set_params_round_trip():
    clf = KerasClassifier(build_fn=build_classifier, units=4, epochs=3, batch_size=8, verbose=0)
    params = clf.get_params()
    assert params == {
        "build_fn": build_classifier,
        "units": 4,
        "epochs": 3,
        "batch_size": 8,
        "verbose": 0,
    }
    # the parameters rebuild an equal estimator, and set_params takes them back
    assert KerasClassifier(**params).get_params() == params
    assert clf.set_params(**params) is clf
    assert clf.get_params() == params

    clf.set_params(units=6, epochs=2)
    assert clf.get_params()["units"] == 6 and clf.get_params()["epochs"] == 2
    x, y = three_class_problem(n=20)
    clf.fit(x, y)
    assert clf.model.layers[0].units == 6  # build_fn received the new value
    assert len(clf.history_.history["loss"]) == 2  # and fit the new epochs

    def other_builder(units=3):
        return build_classifier(units=units)

    clf.set_params(build_fn=other_builder)
    assert clf.get_params()["build_fn"] is other_builder


def test_deep_get_params_copies_mutable_values():
    callbacks = []
    clf = KerasClassifier(build_fn=build_classifier, callbacks=callbacks)
    assert clf.get_params(deep=False)["callbacks"] is callbacks
    assert clf.get_params(deep=True)["callbacks"] is not callbacks


@pytest.mark.parametrize(
    "make",
    [
        lambda: KerasClassifier(build_fn=build_classifier, not_a_param=1),
        lambda: KerasRegressor(build_fn=build_regressor, n_classes=2),  # builder lacks it
        lambda: KerasClassifier(build_fn=build_classifier).set_params(learning_rate=0.1),
        lambda: KerasRegressor(build_fn=build_regressor).set_params(epoch=3),
    ],
    ids=["classifier_init", "regressor_init", "classifier_set_params", "regressor_set_params"],
)
def test_illegal_params_raise_value_error(make):
    with pytest.raises(ValueError, match="legal parameter"):
        make()


def test_failed_set_params_leaves_params_unchanged():
    clf = KerasClassifier(build_fn=build_classifier, epochs=3)
    with pytest.raises(ValueError):
        clf.set_params(epochs=5, bogus=1)
    assert clf.get_params()["epochs"] == 3


def test_sklearn_clone_gives_an_unfitted_equal_estimator():
    x, y = three_class_problem(n=20)
    clf = KerasClassifier(build_fn=build_classifier, units=4, epochs=1, batch_size=10, verbose=0)
    clf.fit(x, y)
    copy = clone(clf)
    assert type(copy) is KerasClassifier and copy is not clf
    assert copy.get_params() == clf.get_params()
    assert not hasattr(copy, "model") and not hasattr(copy, "classes_")
    copy.fit(x, y)
    assert copy.model is not clf.model

    reg = KerasRegressor(build_fn=build_regressor, epochs=1, verbose=0)
    assert clone(reg).get_params() == reg.get_params()


# ---- scikit-learn's machinery ----------------------------------------------------------
def test_sklearn_recognises_the_estimator_types():
    # cross_val_score, GridSearchCV and Pipeline ask these (through the estimator tags)
    assert is_classifier(KerasClassifier(build_fn=build_classifier))
    assert is_regressor(KerasRegressor(build_fn=build_regressor))
    assert not is_regressor(KerasClassifier(build_fn=build_classifier))


def test_classifier_in_cross_val_score():
    x, y = three_class_problem(n=60, seed=3)
    clf = KerasClassifier(build_fn=build_classifier, epochs=30, batch_size=10, verbose=0)
    scores = cross_val_score(clf, x, y, cv=2)
    assert scores.shape == (2,)
    assert np.all((scores >= 0) & (scores <= 1))
    assert scores.mean() > 0.45, scores  # chance is 1/3


def test_regressor_in_cross_val_score():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((60, STEPS, FEATURES))
    y = 0.5 * x[:, :, 0].sum(axis=1)
    reg = KerasRegressor(build_fn=build_regressor, epochs=40, batch_size=10, verbose=0)
    scores = cross_val_score(reg, x, y, cv=2)
    assert scores.shape == (2,)
    assert scores.mean() > 0.4, scores  # R² of a linear target


# ---- the regressor ---------------------------------------------------------------------
def test_regressor_fit_predict_score_is_r2():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((80, STEPS, FEATURES))
    y = 0.5 * x[:, :, 0].sum(axis=1) - 0.3 * x[:, -1, 1]
    reg = KerasRegressor(build_fn=build_regressor, epochs=60, batch_size=16, verbose=0)
    assert reg.fit(x, y) is reg
    pred = reg.predict(x)
    assert pred.shape == (80,)  # a single output is returned flat, as scikit-learn expects
    np.testing.assert_allclose(pred, reg.model.predict(x)[:, 0])
    score = reg.score(x, y)
    assert score == pytest.approx(r2_score(y, pred), rel=1e-6)
    assert score > 0.8, score


def test_regressor_multi_output_score_matches_sklearn_r2():
    # scikit-learn's regressors score multi-output R² as the uniform average of the
    # per-output R² (RegressorMixin.score, multioutput="uniform_average")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((60, STEPS, FEATURES))
    y = np.stack([x[:, :, 0].sum(axis=1), 0.05 * x[:, 0, 1]], axis=1)  # unequal variances
    reg = KerasRegressor(build_fn=build_regressor, outputs=2, epochs=5, batch_size=16, verbose=0)
    reg.fit(x, y)
    pred = reg.predict(x)
    assert pred.shape == (60, 2)
    assert reg.score(x, y) == pytest.approx(r2_score(y, pred), rel=1e-6)

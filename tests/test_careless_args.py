"""Careless arguments and hostile values: each gets an error that names the argument,
what was expected and what came, never a NumPy traceback or a silently wrong result;
and the Keras semantics that careless users rely on (hook arguments, CSV appends,
dtype policy, the loss evaluate reports)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import regularizers
from rnnkit.layers import Dense, SimpleRNN
from rnnkit.models import Sequential


def _regression(seed=0, n=12):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    y = rng.standard_normal((n, 2)).astype(np.float32)
    return x, y


# ---- evaluate's loss: data loss plus the penalties, as fit minimises -------------------
@pytest.mark.timeout(60)
def test_evaluate_loss_includes_weight_and_activity_penalties():
    x, y = _regression()
    dense = Dense(
        2,
        input_shape=(3,),
        kernel_regularizer=regularizers.L2(0.1),
        bias_regularizer=regularizers.L1(0.05),
        activity_regularizer=regularizers.L2(0.01),
        seed=1,
    )
    model = Sequential([dense])
    model.compile("sgd", "mse")
    model.set_weights([np.linspace(-1, 1, 6).reshape(3, 2), np.array([0.5, -0.25])])
    kernel, bias = (w.astype(np.float64) for w in model.get_weights())
    out = x.astype(np.float64) @ kernel + bias
    data_loss = np.mean((out - y) ** 2)
    penalty = 0.1 * np.sum(kernel**2) + 0.05 * np.sum(np.abs(bias))
    activity = 0.01 * np.sum(out**2) / len(x)  # one batch: Keras 3 divides by its size
    expected = data_loss + penalty + activity
    got = model.evaluate(x, y, batch_size=len(x))
    assert got == pytest.approx(expected, rel=1e-5)
    # fit's validation loss is the same figure
    history = model.fit(x, y, epochs=1, batch_size=len(x), verbose=0, validation_data=(x, y))
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x, y, batch_size=len(x)))


def test_evaluate_loss_without_penalties_is_the_data_loss():
    x, y = _regression(1)
    model = Sequential([Dense(2, input_shape=(3,), seed=0)])
    model.compile("sgd", "mse")
    pred = model.predict(x, verbose=0).astype(np.float64)
    assert model.evaluate(x, y, batch_size=5) == pytest.approx(np.mean((pred - y) ** 2), rel=1e-5)


def test_evaluate_generator_includes_penalties():
    x, y = _regression(2)
    model = Sequential([Dense(2, input_shape=(3,), kernel_regularizer=regularizers.L2(0.5))])
    model.compile("sgd", "mse")
    arrays = model.evaluate(x, y, batch_size=4)
    batches = ((x[i : i + 4], y[i : i + 4]) for i in range(0, len(x), 4))
    assert model.evaluate(batches) == pytest.approx(arrays, rel=1e-6)
    assert arrays > model.compute_loss(x, y, training=False)[0]


# ---- callbacks: Keras's hook arguments, CSV appends, a plateau's rate on resume --------
def _small_fit_model(lr=0.1):
    from rnnkit import optimizers

    model = Sequential([Dense(2, input_shape=(3,), seed=0)])
    model.compile(optimizers.SGD(learning_rate=lr), "mse")
    return model


@pytest.mark.timeout(60)
def test_lambda_callback_functions_get_keras_arguments():
    from rnnkit.callbacks import LambdaCallback

    x, y = _regression()
    calls = []
    log = LambdaCallback(
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch, dict(logs))),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_begin=lambda logs: calls.append(("train_begin", dict(logs))),
        on_train_end=lambda logs: calls.append(("train_end", sorted(logs))),
        on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch, dict(logs))),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch, sorted(logs))),
        on_batch_end=lambda batch, logs: calls.append(("old_batch_end", batch)),
    )
    _small_fit_model().fit(x, y, epochs=1, batch_size=6, shuffle=False, verbose=0, callbacks=[log])
    assert calls == [
        ("train_begin", {}),
        ("epoch_begin", 0, {}),
        ("batch_begin", 0, {}),
        ("batch_end", 0, ["gradient_norm", "loss"]),
        ("old_batch_end", 0),
        ("batch_begin", 1, {}),
        ("batch_end", 1, ["gradient_norm", "loss"]),
        ("old_batch_end", 1),
        ("epoch_end", 0, ["loss"]),
        ("train_end", ["loss"]),  # the last epoch's logs, as Keras
    ]


def test_lambda_callback_refuses_hooks_it_would_never_call():
    from rnnkit.callbacks import LambdaCallback

    with pytest.raises(TypeError, match="on_test_end"):
        LambdaCallback(on_test_end=lambda logs: None)
    with pytest.raises(TypeError, match="on_epoch_end.*expected a function.*3"):
        LambdaCallback(on_epoch_end=3)


def test_subclass_with_keras_old_batch_hook_names_is_called():
    from rnnkit.callbacks import Callback

    class Counter(Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_batch_end(self, batch, logs=None):
            self.seen.append((batch, sorted(logs)))

    x, y = _regression()
    counter = Counter()
    _small_fit_model().fit(x, y, epochs=1, batch_size=6, verbose=0, callbacks=[counter])
    assert counter.seen == [(0, ["gradient_norm", "loss"]), (1, ["gradient_norm", "loss"])]


def _csv_rows(path):
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.timeout(60)
def test_csv_logger_replaces_by_default_and_appends_when_asked(tmp_path):
    from rnnkit.callbacks import CSVLogger

    x, y = _regression()
    path = tmp_path / "log.csv"
    model = _small_fit_model()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[CSVLogger(path)])
    model.fit(x, y, epochs=3, verbose=0, callbacks=[CSVLogger(path)])
    assert [r["epoch"] for r in _csv_rows(path)] == ["1", "2", "3"]  # replaced, as Keras
    first = _csv_rows(path)
    model.fit(
        x, y, epochs=2, verbose=0, validation_data=(x, y), callbacks=[CSVLogger(path, append=True)]
    )
    rows = _csv_rows(path)
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "1", "2"]
    assert [r["loss"] for r in rows[:3]] == [r["loss"] for r in first]  # kept as written
    assert rows[0]["val_loss"] == "" and float(rows[4]["val_loss"]) > 0  # new column
    # the same callback used for two fits with append=False: the second replaces
    log = CSVLogger(path)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[log])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[log])
    assert len(_csv_rows(path)) == 1
    # another separator, and an append to an empty file writes the header
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    model.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(empty, separator="\t", append=True)])
    assert empty.read_text().splitlines()[0] == "epoch\tloss"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("append", [False, True])
def test_csv_logger_keeps_earlier_rows_when_a_fit_resumes(tmp_path, append):
    from rnnkit.callbacks import CSVLogger

    x, y = _regression()
    path, ckpt = tmp_path / "log.csv", tmp_path / "ckpt"
    _small_fit_model().fit(
        x, y, epochs=2, verbose=0, checkpoint_dir=ckpt, callbacks=[CSVLogger(path, append=append)]
    )
    before = _csv_rows(path)
    resumed = _small_fit_model()  # a new process builds the model and callbacks afresh
    resumed.fit(
        x,
        y,
        epochs=4,
        verbose=0,
        checkpoint_dir=ckpt,
        resume=True,
        callbacks=[CSVLogger(path, append=append)],
    )
    rows = _csv_rows(path)
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4"]
    assert rows[:2] == before


def test_csv_logger_bad_arguments_and_files(tmp_path):
    from rnnkit.callbacks import CSVLogger

    with pytest.raises(ValueError, match="separator"):
        CSVLogger(tmp_path / "a.csv", separator=",,")
    with pytest.raises(TypeError, match="separator"):
        CSVLogger(tmp_path / "a.csv", separator=None)
    with pytest.raises(TypeError, match="append"):
        CSVLogger(tmp_path / "a.csv", append="yes")
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 10)
    log = CSVLogger(binary, append=True)
    with pytest.raises(ValueError, match="model.bin"):
        log.on_train_begin()
    assert binary.read_bytes() == b"\xff\xfe\x00\x81" * 10
    with pytest.raises(ValueError, match="rows"):
        CSVLogger(tmp_path / "a.csv").set_state({"rows": [{"epoch": 1}]}, {})


@pytest.mark.timeout(60)
@pytest.mark.parametrize("resume_optimizer", [True, False])
def test_reduce_lr_on_plateau_resumes_at_the_rate_it_had_reached(tmp_path, resume_optimizer):
    from rnnkit.callbacks import ReduceLROnPlateau

    x, y = _regression()

    def plateau():  # min_delta so large that no epoch improves: a cut after every epoch
        return ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e9)

    first = _small_fit_model(0.1)
    first.fit(x, y, epochs=2, verbose=0, checkpoint_dir=tmp_path, callbacks=[plateau()])
    assert first.optimizer.learning_rate == pytest.approx(0.1 * 0.5**1)  # epoch 0 improves
    resumed = _small_fit_model(0.1)
    history = resumed.fit(
        x,
        y,
        epochs=3,
        verbose=0,
        checkpoint_dir=tmp_path,
        resume=True,
        resume_optimizer=resume_optimizer,
        callbacks=[plateau()],
    )
    # the history resumes too; each rate is logged before that epoch's cut
    assert history.history["lr"] == pytest.approx([0.1, 0.1, 0.05])
    assert resumed.optimizer.learning_rate == pytest.approx(0.025)


def test_reduce_lr_on_plateau_set_state_directly_and_bad_state():
    from rnnkit.callbacks import ReduceLROnPlateau

    model = _small_fit_model(0.1)
    cb = ReduceLROnPlateau(monitor="loss")
    cb.set_state({"best": 1.0, "wait": 2, "cooldown": 0, "lr": 0.004}, {})
    cb.set_model(model)  # applied when the model arrives
    assert model.optimizer.learning_rate == pytest.approx(0.004)
    assert cb.get_state()[0]["lr"] == pytest.approx(0.004)
    for bad in (-1.0, float("nan"), "0.1", True):
        with pytest.raises(ValueError, match="lr"):
            cb.set_state({"best": 1.0, "wait": 0, "cooldown": 0, "lr": bad}, {})
    assert model.optimizer.learning_rate == pytest.approx(0.004)


@pytest.mark.parametrize(
    "kwargs, error, word",
    [
        ({"patience": -1}, ValueError, "patience"),
        ({"patience": 2.5}, ValueError, "patience"),
        ({"cooldown": None}, ValueError, "cooldown"),
        ({"factor": "0.5"}, TypeError, "factor"),
        ({"factor": float("nan")}, ValueError, "factor"),
        ({"min_lr": -1e-3}, ValueError, "min_lr"),
        ({"min_delta": None}, TypeError, "min_delta"),
    ],
)
def test_reduce_lr_on_plateau_bad_arguments(kwargs, error, word):
    from rnnkit.callbacks import ReduceLROnPlateau

    with pytest.raises(error, match=word):
        ReduceLROnPlateau(**kwargs)


@pytest.mark.parametrize(
    "kwargs, error, word",
    [
        ({"patience": "3"}, ValueError, "patience"),
        ({"min_delta": "0.1"}, TypeError, "min_delta"),
        ({"baseline": float("inf")}, ValueError, "baseline"),
        ({"start_from_epoch": -2}, ValueError, "start_from_epoch"),
    ],
)
def test_early_stopping_bad_arguments(kwargs, error, word):
    from rnnkit.callbacks import EarlyStopping

    with pytest.raises(error, match=word):
        EarlyStopping(**kwargs)


# ---- constraints: arguments checked when made, Keras's formulas ------------------------
NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    "make, error, word",
    [
        (lambda: _c().MaxNorm(None), TypeError, "max_value"),
        (lambda: _c().MaxNorm("2"), TypeError, "max_value"),
        (lambda: _c().MaxNorm(True), TypeError, "max_value"),
        (lambda: _c().MaxNorm(-1.0), ValueError, "max_value"),
        (lambda: _c().MaxNorm(0), ValueError, "max_value"),
        (lambda: _c().MaxNorm(NAN), ValueError, "max_value"),
        (lambda: _c().MaxNorm(INF), ValueError, "max_value"),
        (lambda: _c().MaxNorm(2, axis="0"), TypeError, "axis"),
        (lambda: _c().MaxNorm(2, axis=0.5), TypeError, "axis"),
        (lambda: _c().MaxNorm(2, axis=()), TypeError, "axis"),
        (lambda: _c().MaxNorm(2, axis=(0, 0)), ValueError, "axis"),
        (lambda: _c().MaxNorm(2, axis=[0, "1"]), TypeError, "axis"),
        (lambda: _c().UnitNorm(axis=None), TypeError, "axis"),
        (lambda: _c().MinMaxNorm(min_value=-0.1), ValueError, "min_value"),
        (lambda: _c().MinMaxNorm(min_value=2.0, max_value=1.0), ValueError, "max_value"),
        (lambda: _c().MinMaxNorm(rate=0.0), ValueError, "rate"),
        (lambda: _c().MinMaxNorm(rate=1.5), ValueError, "rate"),
        (lambda: _c().MinMaxNorm(rate=None), TypeError, "rate"),
        (lambda: _c().MinMaxNorm(max_value=NAN), ValueError, "max_value"),
        (
            lambda: _c().get({"class_name": "MaxNorm", "config": {"max_value": -3}}),
            ValueError,
            "max_value",
        ),
    ],
)
def test_constraint_arguments_are_checked_when_made(make, error, word):
    with pytest.raises(error, match=f"argument {word}"):
        make()


def _c():
    from rnnkit import constraints

    return constraints


def test_constraint_axis_the_weight_lacks_is_a_named_error():
    w = np.ones((3, 2), np.float32)
    for constraint in (_c().MaxNorm(1, axis=2), _c().UnitNorm(axis=(0, -3))):
        with pytest.raises(ValueError, match=r"axis.*\(3, 2\)"):
            constraint(w)
    assert _c().MaxNorm(1, axis=-1)(w).shape == (3, 2)  # negative axes count from the end


def test_min_max_norm_is_keras_formula_and_round_trips():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 5)) * np.array([0.1, 0.5, 1.0, 3.0, 10.0])
    c = _c().MinMaxNorm(min_value=0.5, max_value=2.0, rate=0.7, axis=0)
    norms = np.sqrt((w**2).sum(axis=0, keepdims=True))
    desired = 0.7 * np.clip(norms, 0.5, 2.0) + 0.3 * norms
    np.testing.assert_allclose(c(w), w * desired / (1e-7 + norms), rtol=1e-12)
    strict = _c().MinMaxNorm(0.5, 2.0)(w)
    got = np.sqrt((strict**2).sum(axis=0))
    np.testing.assert_allclose(got, np.clip(norms[0], 0.5, 2.0), rtol=1e-6)
    again = _c().get(_c().serialize(c))
    assert isinstance(again, _c().MinMaxNorm) and again.get_config() == c.get_config()
    assert isinstance(_c().get("min_max_norm"), _c().MinMaxNorm)
    layer = Dense(5, input_shape=(4,), kernel_constraint="MinMaxNorm")
    assert layer.get_config()["kernel_constraint"]["class_name"] == "MinMaxNorm"


# ---- initializers: every argument checked, Keras's distributions ----------------------
def _i():
    from rnnkit import initializers

    return initializers


@pytest.mark.parametrize(
    "make, error, word",
    [
        (lambda: _i().VarianceScaling(distribution="gaussian"), ValueError, "distribution"),
        (lambda: _i().VarianceScaling(distribution=None), TypeError, "distribution"),
        (lambda: _i().VarianceScaling(mode="fan_sum"), ValueError, "mode"),
        (lambda: _i().VarianceScaling(mode=1), TypeError, "mode"),
        (lambda: _i().VarianceScaling(scale=0.0), ValueError, "scale"),
        (lambda: _i().VarianceScaling(scale=-2.0), ValueError, "scale"),
        (lambda: _i().VarianceScaling(scale=NAN), ValueError, "scale"),
        (lambda: _i().VarianceScaling(scale="1"), TypeError, "scale"),
        (lambda: _i().Orthogonal(gain=None), TypeError, "gain"),
        (lambda: _i().Orthogonal(gain=INF), ValueError, "gain"),
        (lambda: _i().Identity(gain="2"), TypeError, "gain"),
        (lambda: _i().RandomNormal(stddev=-0.1), ValueError, "stddev"),
        (lambda: _i().RandomNormal(mean=NAN), ValueError, "mean"),
        (lambda: _i().RandomUniform(0.5, -0.5), ValueError, "maxval"),
        (lambda: _i().RandomUniform(minval=None), TypeError, "minval"),
        (lambda: _i().RandomUniform(maxval=INF), ValueError, "maxval"),
        (lambda: _i().Constant(None), TypeError, "value"),
        (lambda: _i().Constant(np.ones(3)), TypeError, "value"),
        (lambda: _i().Constant(NAN), ValueError, "value"),
        (lambda: _i().get({"class_name": "uniform", "config": [1]}), TypeError, "initializer"),
        (
            lambda: _i().get({"class_name": "normal", "config": {"stddev": -1}}),
            ValueError,
            "stddev",
        ),
    ],
)
def test_initializer_arguments_are_checked_when_made(make, error, word):
    with pytest.raises(error, match=f"argument {word}"):
        make()


def test_variance_scaling_distributions_have_the_variance_asked_for():
    rng = np.random.default_rng(0)
    shape = (400, 500)
    variance = 2.0 / 400  # scale 2, fan_in
    for name in ("truncated_normal", "untruncated_normal", "uniform", "Normal", "UNIFORM"):
        init = _i().VarianceScaling(2.0, "fan_in", name)
        w = init(shape, np.float64, rng)
        assert w.var() == pytest.approx(variance, rel=0.02), name
    assert _i().VarianceScaling(distribution="Normal").distribution == "truncated_normal"
    plain = _i().VarianceScaling(1.0, "fan_in", "untruncated_normal")((400, 500), np.float64, rng)
    assert np.abs(plain).max() > 2.5 * np.sqrt(1 / 400)  # not cut at two deviations
    again = _i().get(_i().serialize(_i().VarianceScaling(3.0, "fan_avg", "untruncated_normal")))
    assert again.get_config() == {
        "scale": 3.0,
        "mode": "fan_avg",
        "distribution": "untruncated_normal",
    }


def test_orthogonal_needs_two_axes_and_zero_stddev_is_allowed():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"two axes.*\(5,\)"):
        _i().Orthogonal()((5,), np.float32, rng)
    np.testing.assert_array_equal(_i().RandomNormal(0.3, 0.0)((2,), np.float64, rng), [0.3, 0.3])
    np.testing.assert_array_equal(_i().RandomUniform(1.0, 1.0)((2,), np.float64, rng), [1.0, 1.0])


# ---- optimizers: every hyper-parameter checked, Keras's ranges -------------------------
def _o():
    from rnnkit import optimizers

    return optimizers


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adagrad", "Adam", "LazyAdam"])
@pytest.mark.parametrize(
    "argument, value, error",
    [
        ("learning_rate", -0.1, ValueError),
        ("learning_rate", 0.0, ValueError),
        ("learning_rate", NAN, ValueError),
        ("learning_rate", "0.01", TypeError),
        ("learning_rate", True, TypeError),
        ("learning_rate", lambda step: 0.1, TypeError),
        ("lr", INF, ValueError),
        ("clipnorm", 0.0, ValueError),
        ("clipnorm", -1.0, ValueError),
        ("clipvalue", NAN, ValueError),
        ("clipvalue", "1", TypeError),
        ("global_clipnorm", -5, ValueError),
        ("global_clipnorm", [1.0], TypeError),
    ],
)
def test_common_optimizer_arguments_are_checked(name, argument, value, error):
    with pytest.raises(
        error, match=f"argument {argument if argument != 'lr' else 'learning_rate'}"
    ):
        getattr(_o(), name)(**{argument: value})


@pytest.mark.parametrize(
    "name, argument, value, error",
    [
        ("RMSprop", "epsilon", -1e-7, ValueError),
        ("RMSprop", "epsilon", NAN, ValueError),
        ("RMSprop", "epsilon", "1e-7", TypeError),
        ("RMSprop", "rho", 1.0, ValueError),
        ("RMSprop", "rho", -0.1, ValueError),
        ("RMSprop", "rho", None, TypeError),
        ("Adagrad", "epsilon", INF, ValueError),
        ("Adagrad", "epsilon", None, TypeError),
        ("Adagrad", "initial_accumulator_value", -0.1, ValueError),
        ("Adagrad", "initial_accumulator_value", "0.1", TypeError),
        ("Adam", "epsilon", -1e-8, ValueError),
        ("Adam", "epsilon", NAN, ValueError),
        ("Adam", "epsilon", None, TypeError),
        ("Adam", "beta_1", 1.0, ValueError),
        ("Adam", "beta_2", -0.5, ValueError),
        ("Adam", "beta_2", NAN, ValueError),
        ("Adam", "beta_1", "0.9", TypeError),
        ("LazyAdam", "epsilon", -1.0, ValueError),
        ("LazyAdam", "beta_2", 1.5, ValueError),
        ("SGD", "momentum", -0.1, ValueError),
        ("SGD", "momentum", 1.5, ValueError),
        ("SGD", "momentum", NAN, ValueError),
        ("SGD", "momentum", "0.9", TypeError),
        ("SGD", "nesterov", "False", TypeError),
    ],
)
def test_each_optimizer_own_arguments_are_checked(name, argument, value, error):
    with pytest.raises(error, match=f"argument {argument}"):
        getattr(_o(), name)(**{argument: value})


def test_optimizer_accepts_what_keras_accepts():
    assert _o().SGD(momentum=1.0).momentum == 1.0  # Keras's range is [0, 1]
    assert _o().SGD(learning_rate=np.float32(0.5), momentum=np.float64(0.0)).learning_rate == 0.5
    assert _o().Adam(epsilon=0, beta_1=0.0).epsilon == 0.0
    assert _o().Adagrad(learning_rate=1, initial_accumulator_value=0).learning_rate == 1.0
    with pytest.raises(TypeError, match="learning_rate"):
        _o().SGD().lr = "0.1"
    with pytest.raises(TypeError, match="spec"):
        _o().deserialize(["adam"])
    with pytest.raises(ValueError, match="beta_1"):
        _o().deserialize({"class_name": "adam", "config": {"beta_1": 2.0}})


def test_optimizer_apply_refuses_mismatched_gradients():
    p = np.zeros((3, 2))
    opt = _o().SGD(0.1)
    with pytest.raises(ValueError, match="2 weights and 1 gradients"):
        opt.apply([p, np.zeros(2)], [np.ones((3, 2))])
    with pytest.raises(ValueError, match=r"shape \(3, 2\).*\(2,\)"):
        opt.apply([p], [np.ones(2)])  # would broadcast onto every row
    assert not p.any() and opt.iterations == 0


# ---- classification reports: labels checked, never a wrapped or truncated count ---------
def _m():
    from rnnkit import metrics

    return metrics


@pytest.mark.parametrize(
    "y_true, y_pred, n, error, match",
    [
        ([0, -1, 1], [0, 0, 1], 2, ValueError, r"y_true.*\[0, 2\).*-1"),  # would wrap
        ([0, 1, 1], [0, 2, 1], 2, ValueError, r"y_pred.*\[0, 2\).*2"),  # an IndexError
        ([0, 1.5, 1], [0, 0, 1], 2, ValueError, r"y_true.*1\.5.*index 1"),  # truncated
        ([0, np.nan], [0, 0], 2, ValueError, "y_true.*integer"),
        ([0, 1, 1], [0, 1], 2, ValueError, "y_true has 3 labels, y_pred 2"),
        ([0], [0, 1], 2, ValueError, "y_true has 1 labels"),  # would broadcast
        ([[1, 0], [0, 1]], [0, 1], 2, ValueError, "y_true.*one integer label per sample"),
        (["a", "b"], [0, 1], 2, TypeError, "y_true.*dtype"),
        ([True, False], [0, 1], 2, TypeError, "y_true.*dtype bool"),
        ([0, 1], [0, 1], 0, ValueError, "n_classes"),
        ([0, 1], [0, 1], 2.0, ValueError, "n_classes"),
    ],
)
def test_confusion_matrix_refuses_bad_labels(y_true, y_pred, n, error, match):
    with pytest.raises(error, match=match):
        _m().confusion_matrix(y_true, y_pred, n)
    with pytest.raises(error, match=match):
        _m().classification_report(y_true, y_pred, n)


def test_confusion_matrix_accepts_whole_floats_and_column_vectors():
    got = _m().confusion_matrix(np.array([[0.0], [2.0], [1.0]]), np.array([0, 1, 1]), 3)
    np.testing.assert_array_equal(got, [[1, 0, 0], [0, 1, 0], [0, 1, 0]])
    assert _m().confusion_matrix([], [], 2).sum() == 0


@pytest.mark.parametrize(
    "y_true, y_pred, match",
    [
        ([[1, 0], [0, 1]], [[0.3, 0.9], [0, 1]], r"y_pred.*0 and 1.*0\.3"),
        ([[1, 0], [0, 2]], [[1, 0], [0, 1]], "y_true.*0 and 1"),
        ([[1, 0], [0, 1]], [[1, 0, 0], [0, 1, 0]], "mismatched shapes"),
        ([1, 0, 1], [1, 0, 1], "y_true.*2-D"),
    ],
)
def test_multilabel_report_refuses_non_indicator_matrices(y_true, y_pred, match):
    with pytest.raises(ValueError, match=match):
        _m().multilabel_report(y_true, y_pred)


# ---- RNN.reset_states(states): checked as Keras checks them -----------------------------
def _stateful_lstm():
    from rnnkit.layers import LSTM

    layer = LSTM(3, stateful=True, seed=0)
    layer(np.ones((2, 4, 5), np.float32))
    return layer


@pytest.mark.parametrize(
    "states, error, match",
    [
        ([np.zeros((2, 3))], ValueError, r"expects 2 state array\(s\).*got 1"),
        ([np.zeros((2, 3))] * 3, ValueError, "got 3"),
        ([np.zeros((2, 4)), np.zeros((2, 3))], ValueError, r"state 'h'.*\(batch, 3\).*\(2, 4\)"),
        ([np.zeros(3), np.zeros(3)], ValueError, r"state 'h'.*\(3,\)"),
        ([np.zeros((2, 3)), np.zeros((1, 3))], ValueError, r"state 'c'.*batch 2.*\(1, 3\)"),
        ([np.zeros((2, 3)), np.full((2, 3), np.nan)], ValueError, "'c'.*NaN or inf"),
        ([np.full((2, 3), 1e300), np.zeros((2, 3))], ValueError, "'h'.*too large for float32"),
        ([np.zeros((2, 3)), np.array([["a"] * 3] * 2)], TypeError, "states.*'c'.*numeric"),
        ("zeros", TypeError, "argument states.*str"),
        (3.0, TypeError, "argument states.*float"),
    ],
)
def test_reset_states_checks_what_it_is_given(states, error, match):
    layer = _stateful_lstm()
    before = [s.copy() for s in layer.states]
    with pytest.raises(error, match=match):
        layer.reset_states(states)
    for kept, old in zip(layer.states, before):  # a refused call changes nothing
        np.testing.assert_array_equal(kept, old)


def test_reset_states_sets_checked_copies_and_refuses_a_layer_that_is_not_stateful():
    layer = _stateful_lstm()
    h, c = np.full((2, 3), 0.5), np.full((2, 3), -0.25)
    layer.reset_states([h, c])
    assert [s.dtype for s in layer.states] == [np.float32, np.float32]
    h[...] = 9.0  # the layer holds its own copy
    assert float(layer.states[0][0, 0]) == 0.5
    rnn = SimpleRNN(3, stateful=True)
    rnn(np.ones((1, 2, 4), np.float32))
    rnn.reset_states(np.ones((1, 3)))  # a single array for a single state, as Keras
    assert rnn.states[0].shape == (1, 3)
    with pytest.raises(ValueError, match="not stateful"):
        SimpleRNN(3).reset_states([np.zeros((1, 3))])
    SimpleRNN(3).reset_states()  # forgetting is always allowed


# ---- dtype policy: a layer computes in its own dtype, whatever float comes in ----------
def _float_layers():
    """Every layer class of rnnkit.layers that takes a float tensor, with an input."""
    from rnnkit import layers

    x3 = np.random.default_rng(0).standard_normal((2, 5, 4))
    pair = [x3, x3]
    return {
        "Dense": (lambda d: layers.Dense(3, dtype=d), x3),
        "TiedDense": None,  # needs an Embedding; checked in its own test below
        "Activation": (lambda d: layers.Activation("tanh", dtype=d), x3),
        "ReLU": (lambda d: layers.ReLU(dtype=d), x3),
        "Dropout": (lambda d: layers.Dropout(0.5, seed=0, dtype=d), x3),
        "SpatialDropout1D": (lambda d: layers.SpatialDropout1D(0.5, seed=0, dtype=d), x3),
        "Flatten": (lambda d: layers.Flatten(dtype=d), x3),
        "RepeatVector": (lambda d: layers.RepeatVector(2, dtype=d), x3[:, 0]),
        "Masking": (lambda d: layers.Masking(dtype=d), x3),
        "SimpleRNN": (lambda d: layers.SimpleRNN(3, dtype=d), x3),
        "LSTM": (lambda d: layers.LSTM(3, dtype=d), x3),
        "GRU": (lambda d: layers.GRU(3, dtype=d), x3),
        "Bidirectional": (lambda d: layers.Bidirectional(layers.LSTM(3, dtype=d), dtype=d), x3),
        "TimeDistributed": (
            lambda d: layers.TimeDistributed(layers.Dense(3, dtype=d), dtype=d),
            x3,
        ),
        "Conv1D": (lambda d: layers.Conv1D(3, 2, dtype=d), x3),
        "MaxPooling1D": (lambda d: layers.MaxPooling1D(dtype=d), x3),
        "AveragePooling1D": (lambda d: layers.AveragePooling1D(dtype=d), x3),
        "GlobalMaxPooling1D": (lambda d: layers.GlobalMaxPooling1D(dtype=d), x3),
        "GlobalAveragePooling1D": (lambda d: layers.GlobalAveragePooling1D(dtype=d), x3),
        "GlobalMaxAveragePooling1D": (lambda d: layers.GlobalMaxAveragePooling1D(dtype=d), x3),
        "BatchNormalization": (lambda d: layers.BatchNormalization(dtype=d), x3),
        "LayerNormalization": (lambda d: layers.LayerNormalization(dtype=d), x3),
        "Add": (lambda d: layers.Add(dtype=d), pair),
        "Concatenate": (lambda d: layers.Concatenate(dtype=d), pair),
        "DotAttention": (lambda d: layers.DotAttention(dtype=d), pair),
        "BahdanauAttention": (lambda d: layers.BahdanauAttention(3, dtype=d), pair),
    }


def test_every_float_layer_is_listed():
    from rnnkit import layers

    # Embedding takes ids, InputLayer passes its input to the model
    takes_floats = set(layers._CLASSES) - {"Embedding", "InputLayer", "Convolution1D"}
    takes_floats -= {"MaxPool1D", "AvgPool1D"}  # aliases
    assert takes_floats == set(_float_layers())


@pytest.mark.parametrize("name", [n for n in sorted(_float_layers()) if n != "TiedDense"])
@pytest.mark.parametrize("training", [False, True])
def test_layer_output_dtype_is_the_layer_dtype(name, training):
    make, x = _float_layers()[name]
    for layer_dtype, other in (("float32", np.float64), ("float64", np.float32)):
        layer = make(layer_dtype)
        inputs = [a.astype(other) for a in x] if isinstance(x, list) else x.astype(other)
        out = layer(inputs, training=training)
        outs = out if isinstance(out, (list, tuple)) else [out]
        assert [o.dtype.name for o in outs] == [layer_dtype] * len(outs), (name, layer_dtype)


def test_dense_in_a_float32_model_gives_float32_for_float64_input():
    from rnnkit.layers import Embedding, TiedDense

    x = np.random.default_rng(0).standard_normal((4, 3))  # float64
    dense = Dense(2, seed=0)
    y = dense(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, x.astype(np.float32) @ dense.params["kernel"], rtol=1e-6)
    emb = Embedding(7, 3)
    emb(np.array([[1, 2]]))
    assert TiedDense(emb)(x).dtype == np.float32
    with pytest.raises(TypeError, match="use_bias"):
        Dense(2, use_bias="False")
    from rnnkit.layers import Masking

    with pytest.raises(TypeError, match="mask_value"):
        Masking(mask_value=None)


# ---- the same slips in siblings: classes for instances, Keras's class names, flags -----
def test_classes_and_keras_class_names_are_taken_as_keras_takes_them():
    assert isinstance(_i().get(_i().Orthogonal), _i().Orthogonal)
    assert _i().get("GlorotUniform").name == "glorot_uniform"
    assert isinstance(_i().get("RandomNormal"), _i().RandomNormal)
    assert _i().get({"class_name": "VarianceScaling", "config": {"scale": 2.0}}).scale == 2.0
    with pytest.raises(ValueError, match="kernel_initializer.*'TruncatedNormal'"):
        _i().get("TruncatedNormal", "kernel_initializer")
    assert isinstance(_c().get(_c().NonNeg), _c().NonNeg)
    assert isinstance(_o().get(_o().RMSprop), _o().RMSprop)
    adam = _o().get({"class_name": "Adam", "config": {"learning_rate": 0.01}})
    assert isinstance(adam, _o().Adam) and adam.learning_rate == 0.01
    with pytest.raises(TypeError, match="weight_decay"):
        _o().get({"class_name": "Adam", "config": {"weight_decay": 0.01}})


@pytest.mark.parametrize(
    "make, error, word",
    [
        (lambda cb: cb.EarlyStopping(monitor=None), TypeError, "monitor"),
        (lambda cb: cb.EarlyStopping(restore_best_weights="no"), TypeError, "restore_best_weights"),
        (
            lambda cb: cb.ModelCheckpoint("m.rnnkit", save_best_only="False"),
            TypeError,
            "save_best_only",
        ),
        (
            lambda cb: cb.ModelCheckpoint("m.rnnkit", save_weights_only=1),
            TypeError,
            "save_weights_only",
        ),
        (lambda cb: cb.ModelCheckpoint("m.rnnkit", monitor=3), TypeError, "monitor"),
        (lambda cb: cb.ReduceLROnPlateau(monitor=""), TypeError, "monitor"),
        (lambda cb: cb.ResetStates(every=0), ValueError, "every"),
        (lambda cb: cb.ResetStates(every=-1), ValueError, "every"),
        (lambda cb: cb.ResetStates(every="2"), ValueError, "every"),
    ],
)
def test_callback_flags_and_names_are_checked(make, error, word):
    from rnnkit import callbacks

    with pytest.raises(error, match=f"argument {word}"):
        make(callbacks)


@pytest.mark.parametrize(
    "returned, error",
    [(None, TypeError), ("0.1", TypeError), (-0.1, ValueError), (NAN, ValueError)],
)
def test_learning_rate_schedule_returning_a_bad_rate_is_named(returned, error):
    from rnnkit.callbacks import LearningRateScheduler

    x, y = _regression()
    model = _small_fit_model(0.1)
    schedule = LearningRateScheduler(lambda epoch, lr: returned)
    with pytest.raises(error, match=r"schedule\(0, lr\) returned"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[schedule])
    assert model.optimizer.learning_rate == 0.1


def test_functional_evaluate_includes_penalties_too():
    from rnnkit.models import Input, Model

    inp = Input((3,))
    model = Model(inp, Dense(2, kernel_regularizer=regularizers.L2(1.0), seed=0)(inp))
    model.compile("sgd", "mse")
    x, y = _regression(3)
    data_loss = model.compute_loss(x, y, training=False)[0]
    assert model.evaluate(x, y, batch_size=len(x)) == pytest.approx(
        data_loss + model.regularization_loss(), rel=1e-6
    )


def test_sparse_accuracy_does_not_truncate_a_fractional_label():
    scores = np.array([[0.1, 0.9], [0.2, 0.8], [0.7, 0.3]])
    assert _m().sparse_categorical_accuracy(np.array([1.7, 1.0, 0]), scores) == (2.0, 3)


@pytest.mark.timeout(120)
def test_norm_constraints_match_keras_3():
    import os

    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras", reason="Keras 3 is not installed")
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((4, 5)) * np.array([0.1, 0.5, 1.0, 3.0, 10.0])).astype(np.float32)
    cases = [
        ("MinMaxNorm", {"min_value": 0.5, "max_value": 2.0, "rate": 0.7, "axis": 0}),
        ("MinMaxNorm", {"axis": 1}),
        ("MinMaxNorm", {"min_value": 1.0, "max_value": 1.0, "axis": [0, 1]}),
        ("MaxNorm", {"max_value": 1.5, "axis": 0}),
        ("UnitNorm", {"axis": -1}),
    ]
    for name, kwargs in cases:
        theirs = np.asarray(
            getattr(keras.constraints, name)(**kwargs)(keras.ops.convert_to_tensor(w))
        )
        ours = getattr(_c(), name)(**kwargs)(w)
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7, err_msg=f"{name}{kwargs}")


# ---- wrappers and fit's hooks --------------------------------------------------------
def test_bidirectional_reset_states_takes_both_halves_all_or_nothing():
    from rnnkit.layers import LSTM, Bidirectional

    layer = Bidirectional(LSTM(3, stateful=True))
    layer(np.ones((2, 4, 5), np.float32))
    rng = np.random.default_rng(0)
    states = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(4)]
    layer.reset_states(states)
    np.testing.assert_array_equal(layer.forward_layer.states[1], states[1])
    np.testing.assert_array_equal(layer.backward_layer.states[0], states[2])
    before = [s.copy() for s in layer.forward_layer.states]
    with pytest.raises(ValueError, match="expects 4 states"):
        layer.reset_states(states[:2])
    bad = states[:2] + [np.ones((2, 7), np.float32), states[3]]  # backward half refused
    with pytest.raises(ValueError):
        layer.reset_states(bad)
    for a, b in zip(layer.forward_layer.states, before):
        np.testing.assert_array_equal(a, b)
    layer.reset_states()
    for half in (layer.forward_layer, layer.backward_layer):
        assert half.states is None or not any(np.any(s) for s in half.states)


def test_fit_passes_logs_to_every_hook_as_keras():
    from rnnkit.callbacks import Callback
    from rnnkit.layers import Dense
    from rnnkit.models import Sequential

    seen = []

    class Record(Callback):
        def on_train_begin(self, logs=None):
            seen.append(("train_begin", logs))

        def on_epoch_begin(self, epoch, logs=None):
            seen.append(("epoch_begin", logs))

        def on_train_end(self, logs=None):
            seen.append(("train_end", logs))

    model = Sequential([Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((8, 2), np.float32)
    model.fit(x, x[:, :1], epochs=2, verbose=0, callbacks=[Record()])
    assert seen[0] == ("train_begin", {}) and seen[1] == ("epoch_begin", {})
    name, logs = seen[-1]
    assert name == "train_end" and logs["loss"] == pytest.approx(model.history.history["loss"][-1])


def test_time_distributed_keeps_ids_for_an_embedding_and_casts_floats():
    from rnnkit.layers import Embedding, TimeDistributed

    ids = np.array([[[1, 2], [3, 0]]], dtype=np.int64)  # (batch, time, tokens)
    wrapped = TimeDistributed(Embedding(5, 3))
    out = wrapped(ids)
    assert out.shape == (1, 2, 2, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0, 1, 0], wrapped.layer.params["embeddings"][3])
    with pytest.raises(TypeError, match="integer token ids"):
        wrapped(ids + 0.5)
    dense = TimeDistributed(Dense(2))
    assert dense(np.ones((1, 2, 3))).dtype == np.float32  # float64 in, the layer's dtype out

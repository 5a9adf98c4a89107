"""fit's arguments are checked as Keras checks them, and fit / evaluate / predict
take Python generators and Keras-style PyDatasets as they take arrays."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import rnnkit
from rnnkit.layers import LSTM, Dense, Dropout, Embedding, SimpleRNN
from rnnkit.models import PyDataset, Sequential

pytestmark = pytest.mark.timeout(120)


def build():
    rnnkit.set_random_seed(5)
    model = Sequential([SimpleRNN(4, input_shape=(5, 2)), Dense(3, activation="softmax")])
    model.compile(rnnkit.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    return model


def data(n=40):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 5, 2)).astype(np.float32), rng.integers(0, 3, n)


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"epochs": -1}, ValueError, "epochs"),
        ({"epochs": 2.7}, TypeError, "epochs"),
        ({"epochs": "3"}, TypeError, "epochs"),
        ({"epochs": True}, TypeError, "epochs"),
        ({"initial_epoch": -2}, ValueError, "initial_epoch"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": -5}, ValueError, "batch_size"),
        ({"batch_size": 2.5}, ValueError, "batch_size"),
        ({"verbose": 7}, ValueError, "verbose"),
        ({"shuffle": "yes"}, TypeError, "shuffle"),
        ({"class_weight": {5: 1.0}}, ValueError, "class_weight.*class 5"),
        ({"class_weight": {-1: 1.0}}, ValueError, "class_weight"),
        ({"class_weight": {"0": 1.0}}, TypeError, "class_weight.*keys"),
        ({"class_weight": {0.5: 1.0}}, TypeError, "class_weight"),
        ({"class_weight": {0: -1.0}}, ValueError, "class_weight.*>= 0"),
        ({"class_weight": {0: "heavy"}}, TypeError, "class_weight.*number"),
        ({"class_weight": {0: float("nan")}}, ValueError, "class_weight"),
        ({"class_weight": [1.0, 2.0]}, TypeError, "class_weight"),
        ({"sample_weight": np.ones(39)}, ValueError, "sample_weight"),
        ({"sample_weight": np.ones((40, 3))}, ValueError, "sample_weight"),
        ({"sample_weight": np.full(40, -1.0)}, ValueError, "sample_weight"),
        ({"sample_weight": np.array(["a"] * 40)}, TypeError, "sample_weight"),
        ({"steps_per_epoch": 0}, ValueError, "steps_per_epoch"),
        ({"steps_per_epoch": 99}, ValueError, "steps_per_epoch"),
        ({"callbacks": rnnkit.callbacks.History()}, TypeError, "callbacks"),
        ({"resume": 3}, TypeError, "resume"),
        ({"overwrite": "no"}, TypeError, "overwrite"),
        ({"validation_data": (np.zeros((4, 5, 2)),)}, ValueError, "validation_data"),
    ],
)
def test_bad_fit_arguments_name_the_argument(kwargs, error, pattern):
    x, y = data()
    model = build()
    before = model.get_weights()
    with pytest.raises(error, match=pattern):
        model.fit(x, y, **{"batch_size": 10, "verbose": 0, **kwargs})
    for a, b in zip(before, model.get_weights()):  # refused before any training
        np.testing.assert_array_equal(a, b)


def test_missing_x_or_y_is_named():
    x, y = data()
    with pytest.raises(ValueError, match="argument x"):
        build().fit(None, y, verbose=0)
    with pytest.raises(ValueError, match="argument y"):
        build().fit(x, verbose=0)


def test_a_generator_is_not_called_ragged_and_y_with_it_is_refused():
    x, y = data()
    with pytest.raises(ValueError, match="`y` should not be passed"):
        build().fit((b for b in [(x, y)]), y, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        build().fit((b for b in [(x, y)]), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match=r"batch 1.*\(x, y\)"):
        build().fit((b for b in [x]), verbose=0)  # no targets
    with pytest.raises(ValueError, match="checkpoints and resume"):
        build().fit((b for b in [(x, y)]), verbose=0, checkpoint_dir="unused")


class Batches(PyDataset):
    def __init__(self, x, y, batch_size, w=None):
        super().__init__()
        self.x, self.y, self.w, self.batch_size = x, y, w, batch_size
        self.epochs_ended = 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        if self.w is None:
            return self.x[s], self.y[s]
        return self.x[s], self.y[s], self.w[s]

    def on_epoch_end(self):
        self.epochs_ended += 1


def batches(x, y, batch_size, epochs=1, w=None):
    for _ in range(epochs):
        for i in range(0, len(x), batch_size):
            s = slice(i, i + batch_size)
            yield (x[s], y[s]) if w is None else (x[s], y[s], w[s])


def assert_same(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_generator_and_pydataset_fits_equal_the_array_fit():
    x, y = data()
    xv, yv = data(12)
    w = np.linspace(0.5, 1.5, 40)
    reference = build()
    ref = reference.fit(
        x,
        y,
        batch_size=8,
        epochs=3,
        shuffle=False,
        verbose=0,
        sample_weight=w,
        validation_data=(xv, yv),
    )

    generated = build()
    hist = generated.fit(
        batches(x, y, 8, 3, w),
        steps_per_epoch=5,
        epochs=3,
        verbose=0,
        validation_data=batches(xv, yv, 32, 3),
        validation_steps=1,
    )
    assert_same(reference, generated)
    assert hist.history == ref.history

    dataset = Batches(x, y, 8, w)
    from_dataset = build()
    hist = from_dataset.fit(
        dataset, epochs=3, shuffle=False, verbose=0, validation_data=Batches(xv, yv, 32)
    )
    assert_same(reference, from_dataset)
    assert hist.history == ref.history
    assert dataset.epochs_ended == 3


def test_a_shuffled_pydataset_resumes_exactly(tmp_path):
    x, y = data()
    reference = build()
    reference.fit(Batches(x, y, 8), epochs=3, verbose=0)

    class Crash(rnnkit.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if getattr(self, "n", 0) == 7:
                raise KeyboardInterrupt
            self.n = getattr(self, "n", 0) + 1

    with pytest.raises(KeyboardInterrupt):
        build().fit(
            Batches(x, y, 8),
            epochs=3,
            verbose=0,
            callbacks=[Crash()],
            checkpoint_dir=tmp_path,
            checkpoint_every=2,
        )
    resumed = build()
    resumed.fit(Batches(x, y, 8), epochs=3, verbose=0, checkpoint_dir=tmp_path, resume=True)
    assert_same(reference, resumed)


def test_class_weight_applies_to_generator_batches():
    x, y = data()
    cw = {0: 2.0, 1: 0.5, 2: 1.0}
    reference = build()
    reference.fit(x, y, batch_size=10, shuffle=False, verbose=0, class_weight=cw)
    generated = build()
    generated.fit(batches(x, y, 10), verbose=0, class_weight=cw)
    assert_same(reference, generated)


def test_a_generator_that_runs_out_stops_training_with_a_warning():
    x, y = data()
    model = build()
    with pytest.warns(UserWarning, match="ran out of data.*steps_per_epoch"):
        history = model.fit(batches(x, y, 10), epochs=3, verbose=0)
    assert history.epoch == [0]  # the first epoch used every batch it had


def test_evaluate_and_predict_on_generators_and_pydatasets():
    x, y = data()
    model = build()
    model.fit(x, y, batch_size=8, verbose=0)
    expected = model.evaluate(x, y, batch_size=8, return_dict=True)
    assert model.evaluate(Batches(x, y, 8), return_dict=True) == pytest.approx(expected)
    assert model.evaluate(batches(x, y, 8), return_dict=True) == pytest.approx(expected)
    first_two = model.evaluate(x[:16], y[:16], batch_size=8, return_dict=True)
    assert model.evaluate(Batches(x, y, 8), steps=2, return_dict=True) == pytest.approx(first_two)
    out = model.predict(x, batch_size=8)
    np.testing.assert_array_equal(model.predict(Batches(x, y, 8)), out)
    np.testing.assert_array_equal(model.predict(x[i : i + 8] for i in range(0, 40, 8)), out)
    np.testing.assert_array_equal(model.predict(batches(x, y, 8), steps=2), out[:16])
    with pytest.raises(ValueError, match="steps"):
        model.evaluate(Batches(x, y, 8), steps=9)
    with pytest.raises(ValueError, match="yielded no batch"):
        model.predict(iter([]))


def test_keras_own_pydataset_works():
    keras = pytest.importorskip("keras", reason="keras is an optional extra")
    x, y = data()

    class KerasBatches(keras.utils.PyDataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return x[i * 8 : (i + 1) * 8], y[i * 8 : (i + 1) * 8]

    reference = build()
    reference.fit(x, y, batch_size=8, shuffle=False, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = KerasBatches()
    model = build()
    model.fit(dataset, shuffle=False, verbose=0)
    assert_same(reference, model)


def test_token_batches_from_a_generator_match_arrays():
    rng = np.random.default_rng(1)
    tokens = rng.integers(1, 20, (24, 7))
    tokens[::2, 4:] = 0
    labels = rng.integers(0, 2, 24)

    def model():
        rnnkit.set_random_seed(2)
        m = Sequential(
            [
                Embedding(20, 4, mask_zero=True),
                LSTM(5),
                Dropout(0.2),
                Dense(2, activation="softmax"),
            ]
        )
        m.compile("adam", "sparse_categorical_crossentropy")
        return m

    a, b = model(), model()
    a.fit(tokens, labels, batch_size=6, epochs=2, shuffle=False, verbose=0)
    b.fit(batches(tokens, labels, 6, 2), steps_per_epoch=4, epochs=2, verbose=0)
    assert_same(a, b)

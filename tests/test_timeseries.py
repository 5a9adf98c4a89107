"""timeseries_dataset_from_array: Keras's windows (the cases of Keras's own docstring
and unit tests, checked value by value), its shuffled order, and fit / evaluate /
predict on the batches it gives."""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit
from rnnkit.layers import LSTM, Dense
from rnnkit.models import Sequential
from rnnkit.utils import timeseries_dataset_from_array


def test_basics_as_keras_tests_them():
    data = np.arange(100)
    dataset = timeseries_dataset_from_array(data, data * 2, sequence_length=9, batch_size=5)
    assert len(dataset) == 19
    for i, (inputs, targets) in enumerate(dataset):
        assert inputs.shape == ((5, 9) if i < 18 else (2, 9))
        np.testing.assert_array_equal(inputs[:, 0] * 2, targets)
        for j in range(len(inputs)):
            np.testing.assert_array_equal(inputs[j], np.arange(i * 5 + j, i * 5 + j + 9))


def test_sampling_rate_and_stride_of_the_docstring():
    data = np.arange(99)
    dataset = timeseries_dataset_from_array(
        data, None, sequence_length=10, sampling_rate=2, sequence_stride=3, batch_size=None
    )
    windows = list(dataset)
    np.testing.assert_array_equal(windows[0], np.arange(0, 20, 2))
    np.testing.assert_array_equal(windows[1], np.arange(3, 23, 2))
    np.testing.assert_array_equal(windows[2], np.arange(6, 26, 2))
    np.testing.assert_array_equal(windows[-1], np.arange(78, 98, 2))
    assert len(windows) == 27  # the next would start at 81 and end past 98


def test_regression_targets_and_many_to_many():
    data = np.arange(50) * 1.5
    dataset = timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10)
    inputs, targets = dataset[0]
    np.testing.assert_array_equal(inputs[0], data[:10])
    assert targets[0] == data[10]
    x, y = np.arange(100), np.arange(100) * 2
    xs = timeseries_dataset_from_array(x, None, sequence_length=20, sequence_stride=20)
    ys = timeseries_dataset_from_array(y, None, sequence_length=20, sequence_stride=20)
    for inputs, targets in zip(xs, ys):
        np.testing.assert_array_equal(inputs[0], x[:20])
        np.testing.assert_array_equal(targets[1], y[20:40])


def test_start_and_end_index():
    data = np.arange(100)
    dataset = timeseries_dataset_from_array(
        data,
        data,
        sequence_length=9,
        sampling_rate=2,
        sequence_stride=3,
        batch_size=None,
        start_index=10,
        end_index=90,
    )
    windows = [w for w, _ in dataset]
    np.testing.assert_array_equal(windows[0], np.arange(10, 28, 2))
    assert all(w.max() < 90 for w in windows)
    assert all(t == w[0] for w, t in dataset)
    assert len(windows) == len(range(0, 90 - 10 - 8 * 2, 3))


def test_multichannel_data_and_targets_shorter_than_the_data():
    data = np.random.default_rng(0).standard_normal((30, 3))
    targets = np.arange(12)
    dataset = timeseries_dataset_from_array(data, targets, sequence_length=4, batch_size=5)
    # as Keras: no more windows than targets
    assert sum(len(x) for x, _ in dataset) == 12
    x, y = dataset[2]
    assert x.shape == (2, 4, 3)
    np.testing.assert_array_equal(x[1], data[11:15])
    assert y[1] == 11


def test_shuffle_is_keras_order_and_reproducible():
    data = np.arange(40)
    kwargs = dict(sequence_length=5, batch_size=4, shuffle=True, seed=7)
    first = timeseries_dataset_from_array(data, data * 10, **kwargs)
    again = timeseries_dataset_from_array(data, data * 10, **kwargs)
    starts = np.concatenate([x[:, 0] for x, _ in first])
    expected = np.arange(36)
    np.random.RandomState(7).shuffle(expected)  # Keras's own permutation of the starts
    np.testing.assert_array_equal(starts, expected)
    np.testing.assert_array_equal(starts, np.concatenate([x[:, 0] for x, _ in again]))
    for x, y in first:  # inputs and targets still paired
        np.testing.assert_array_equal(x[:, 0] * 10, y)
        np.testing.assert_array_equal(x - x[:, :1], np.tile(np.arange(5), (len(x), 1)))
    first.on_epoch_end()  # a new order for the next epoch, still every window once
    reshuffled = np.concatenate([x[:, 0] for x, _ in first])
    assert sorted(reshuffled) == list(range(36)) and not np.array_equal(reshuffled, starts)


def test_take_and_indexing():
    dataset = timeseries_dataset_from_array(np.arange(20), None, sequence_length=3, batch_size=4)
    assert len(dataset.take(2)) == 2 and len(dataset.take(100)) == len(dataset) == 5
    np.testing.assert_array_equal(dataset[-1], dataset[len(dataset) - 1])
    with pytest.raises(IndexError):
        dataset[5]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(sequence_length=0), "sequence_length"),
        (dict(sequence_length=3, sampling_rate=0), "sampling_rate"),
        (dict(sequence_length=3, sequence_stride=-1), "sequence_stride"),
        (dict(sequence_length=3, batch_size=0), "batch_size"),
        (dict(sequence_length=3, start_index=20), "start_index"),
        (dict(sequence_length=3, start_index=5, end_index=4), "end_index"),
        (dict(sequence_length=30), "No window fits"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        timeseries_dataset_from_array(np.arange(20), None, **kwargs)


def test_non_numeric_data_is_refused():
    with pytest.raises(TypeError, match="data"):
        timeseries_dataset_from_array(np.array(list("abcdef")), None, sequence_length=2)


@pytest.mark.timeout(60)
def test_fit_evaluate_predict_on_the_batches():
    rnnkit.set_random_seed(0)
    t = np.arange(300)
    series = np.stack([np.sin(t / 7), np.cos(t / 11)], axis=1).astype("float32")
    train = timeseries_dataset_from_array(
        series[:-1], series[1:, 0], sequence_length=8, batch_size=32, shuffle=True, seed=1
    )
    model = Sequential([LSTM(8, input_shape=(8, 2)), Dense(1)])
    model.compile("adam", "mse")
    history = model.fit(train, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    x_all = np.concatenate([x for x, _ in train])
    y_all = np.concatenate([y for _, y in train])
    loss = model.evaluate(train, verbose=0)
    np.testing.assert_allclose(loss, model.evaluate(x_all, y_all, verbose=0), rtol=1e-4)
    inputs = timeseries_dataset_from_array(series, None, sequence_length=8, batch_size=32)
    assert model.predict(inputs, verbose=0).shape == (300 - 7, 1)

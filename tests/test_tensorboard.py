"""The TensorBoard callback writes event files that TensorBoard's own reader reads."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import rnnkit
from rnnkit.callbacks import ReduceLROnPlateau, TensorBoard
from rnnkit.layers import Dense, SimpleRNN
from rnnkit.models import Sequential

pytest.importorskip("tensorboardX", reason="tensorboardX is the tensorboard extra")
event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="TensorBoard's reader is needed to read the files back",
)
pytestmark = pytest.mark.timeout(120)


def fit(log_dir, epochs=3, **kwargs):
    rnnkit.set_random_seed(1)
    model = Sequential([SimpleRNN(4, input_shape=(5, 2)), Dense(1)])
    model.compile(rnnkit.optimizers.SGD(0.05), "mse", ["mae"])
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((30, 5, 2)), rng.standard_normal((30, 1))
    board = TensorBoard(log_dir, **kwargs)
    plateau = ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5, min_delta=10.0)
    history = model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=10,
        verbose=0,
        validation_split=0.2,
        callbacks=[plateau, board],
    )
    return model, history


def read(folder):
    acc = event_accumulator.EventAccumulator(
        str(folder), size_guidance={event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0}
    )
    acc.Reload()
    return acc


def test_epoch_scalars_and_learning_rate_read_back(tmp_path):
    model, history = fit(tmp_path, update_freq="epoch")
    train, val = read(tmp_path / "train"), read(tmp_path / "validation")
    h = history.history
    for key in ("loss", "mae"):
        events = train.Scalars(f"epoch_{key}")
        assert [e.step for e in events] == [0, 1, 2]
        assert [e.value for e in events] == pytest.approx(h[key], rel=1e-6)
        assert [e.value for e in val.Scalars(f"epoch_{key}")] == pytest.approx(
            h[f"val_{key}"], rel=1e-6
        )
    rates = [e.value for e in train.Scalars("epoch_learning_rate")]
    assert rates == pytest.approx([0.05, 0.025, 0.0125])  # cut after every epoch
    assert "batch_loss" not in train.Tags()["scalars"]
    assert train.Tags()["histograms"] == []


def test_batch_scalars_and_histograms(tmp_path):
    model, history = fit(tmp_path, epochs=2, update_freq="batch", histogram_freq=1)
    train = read(tmp_path / "train")
    batch_loss = train.Scalars("batch_loss")
    assert [e.step for e in batch_loss] == [1, 2, 3, 4, 5, 6]  # 24 samples, batches of 10
    assert len(train.Scalars("batch_gradient_norm")) == 6
    tags = train.Tags()["histograms"]
    for name, _ in model.weights():
        assert name in tags
    assert "gradient_norm/global" in tags
    kernel = train.Histograms(model.weights()[0][0])
    assert [h.step for h in kernel] == [0, 1]
    assert kernel[-1].histogram_value.num == model.weights()[0][1].size
    norms = train.Histograms("gradient_norm/global")[0].histogram_value
    assert norms.num == 3 and norms.min > 0


def test_every_n_batches(tmp_path):
    fit(tmp_path, epochs=2, update_freq=4)
    assert [e.step for e in read(tmp_path / "train").Scalars("batch_loss")] == [4]


def test_bad_arguments_and_a_missing_writer(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard(tmp_path, update_freq="sometimes")
    with pytest.raises(ValueError, match="histogram_freq"):
        TensorBoard(tmp_path, histogram_freq=-1)
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install rnnkit\[tensorboard\]"):
        TensorBoard(tmp_path)

"""Divergence is reported honestly and never checkpointed: a step that makes the
weights non-finite is undone, the message about checkpoints is true, skipped
batches are counted (never averaged in as zeros), and no callback counts a diverged
epoch as an improvement."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import rnnkit
from rnnkit.callbacks import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from rnnkit.layers import Dense, SimpleRNN
from rnnkit.models import Sequential, load_model
from rnnkit.models.checkpoint import list_checkpoints

pytestmark = pytest.mark.timeout(120)


def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((40, 5, 2)), rng.standard_normal((40, 1))


def overflowing_model(lr=1e300, optimizer=None):
    """Finite loss and gradients, but an update that overflows float32 to inf."""
    rnnkit.set_random_seed(0)
    model = Sequential([SimpleRNN(4, input_shape=(5, 2)), Dense(1)])
    model.compile(optimizer or rnnkit.optimizers.SGD(lr), "mse")
    return model


def all_finite(model):
    return all(np.isfinite(w).all() for w in model.get_weights())


def test_an_update_to_inf_weights_is_undone_and_never_checkpointed(tmp_path):
    x, y = data()
    model = overflowing_model()
    before = model.get_weights()
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError) as err:
        model.fit(
            x,
            y,
            epochs=3,
            batch_size=10,
            shuffle=False,
            verbose=0,
            checkpoint_dir=tmp_path,
            checkpoint_every=1,
        )
    message = str(err.value)
    assert re.search(r"The update made weight \S+ NaN or inf at epoch 1, batch 1", message)
    assert "undone" in message and "no checkpoint" in message
    assert "written no checkpoint" in message  # it failed on the first batch: none exists
    assert list_checkpoints(tmp_path) == []
    for a, b in zip(before, model.get_weights()):  # the step was taken back exactly
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 0 and model.optimizer.slots == {}


def test_a_later_divergence_names_the_last_checkpoint_that_is_really_intact(tmp_path):
    x, y = data()
    rnnkit.set_random_seed(0)
    model = Sequential([SimpleRNN(4, input_shape=(5, 2)), Dense(1)])
    model.compile(rnnkit.optimizers.SGD(0.01), "mse")

    class Explode(rnnkit.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # from epoch 3 on, every update overflows
                self.model.optimizer.learning_rate = 1e300

    with np.errstate(all="ignore"), pytest.raises(FloatingPointError) as err:
        model.fit(
            x,
            y,
            epochs=5,
            batch_size=10,
            shuffle=False,
            verbose=0,
            checkpoint_dir=tmp_path,
            callbacks=[Explode()],
        )
    newest = list_checkpoints(tmp_path)[-1]
    assert newest.name.startswith("ckpt-00002-0000000-")
    assert "epoch 3, batch 1" in str(err.value) and newest.name in str(err.value)
    assert "intact" in str(err.value)
    for path in list_checkpoints(tmp_path):
        assert all_finite(load_model(path))
    assert all_finite(model)
    np.testing.assert_array_equal(load_model(newest).get_weights()[0], model.get_weights()[0])


def test_adam_moments_overflowing_are_undone_too():
    x, y = data()
    model = overflowing_model(optimizer=rnnkit.optimizers.Adam(1e300))
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="undone"):
        model.fit(x, y, epochs=3, batch_size=10, shuffle=False, verbose=0)
    assert all_finite(model)
    slots = model.optimizer.slots
    assert all(np.isfinite(a).all() for arrays in slots.values() for a in arrays)


def test_skip_counts_skipped_batches_and_an_all_skipped_epoch_has_no_loss(tmp_path):
    x, y = data()
    model = overflowing_model()
    best = tmp_path / "best.rnnkit"
    stop = EarlyStopping(monitor="val_loss", patience=2)
    plateau = ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5)
    with np.errstate(all="ignore"):
        history = model.fit(
            x,
            y,
            epochs=4,
            batch_size=10,
            verbose=0,
            validation_split=0.25,
            on_nonfinite="skip",
            callbacks=[ModelCheckpoint(best, save_best_only=True), stop, plateau],
        )
    h = history.history
    assert h["skipped_batches"][0] == 3  # 30 training samples in batches of 10
    assert all(math.isnan(v) for v in h["loss"][:1])  # not 0.0: nothing was trained
    assert model.skipped_batches == sum(h["skipped_batches"])
    assert all_finite(model)
    assert not best.exists()  # no diverged epoch was "the best"
    assert stop.best == math.inf
    assert plateau.best == math.inf


def test_skip_averages_only_the_trained_batches():
    x, y = data()
    rnnkit.set_random_seed(0)
    model = Sequential([SimpleRNN(4, input_shape=(5, 2)), Dense(1)])
    model.compile(rnnkit.optimizers.SGD(0.01), "mse")
    bad = y.copy()
    bad[10:20] = 1e30  # the second batch's loss overflows to inf
    with np.errstate(all="ignore"):
        history = model.fit(
            x, bad, epochs=1, batch_size=10, shuffle=False, verbose=0, on_nonfinite="skip"
        )
    assert history.history["skipped_batches"] == [1]
    rnnkit.set_random_seed(0)
    reference = Sequential([SimpleRNN(4, input_shape=(5, 2)), Dense(1)])
    reference.compile(rnnkit.optimizers.SGD(0.01), "mse")
    keep = np.r_[0:10, 20:40]
    ref = reference.fit(x[keep], y[keep], epochs=1, batch_size=10, shuffle=False, verbose=0)
    assert history.history["loss"][0] == pytest.approx(ref.history["loss"][0], rel=1e-12)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_train_on_batch_undoes_an_overflowing_update():
    x, y = data()
    model = overflowing_model()
    before = model.get_weights()
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="undone"):
        model.train_on_batch(x[:10], y[:10])
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)

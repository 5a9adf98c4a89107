"""Learning-rate schedules and plateau reduction."""

from __future__ import annotations

import math

import numpy as np
import pytest

import rnnkit
from rnnkit.callbacks import (
    LambdaCallback,
    LearningRateScheduler,
    ReduceLROnPlateau,
    TimeBudget,
    cosine_decay,
    step_decay,
)
from rnnkit.layers import Dense, SimpleRNN
from rnnkit.models import Sequential


def model_and_data():
    model = Sequential([SimpleRNN(4, input_shape=(5, 2)), Dense(1)])
    model.compile(rnnkit.optimizers.SGD(lr=0.1), "mse")
    rng = np.random.default_rng(0)
    return model, rng.standard_normal((20, 5, 2)), rng.standard_normal((20, 1))


def test_schedules_formulae():
    s = step_decay(1.0, 0.5, every=2)
    assert [s(e, None) for e in range(5)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    c = cosine_decay(1.0, epochs=10, final_lr=0.1)
    assert c(0, None) == pytest.approx(1.0)
    assert c(5, None) == pytest.approx(0.55)
    assert c(10, None) == pytest.approx(0.1)
    w = cosine_decay(1.0, epochs=10, warmup=2)
    assert [w(0, None), w(1, None)] == [0.5, 1.0]


def test_scheduler_sets_the_optimizer_rate_each_epoch():
    model, x, y = model_and_data()
    history = model.fit(
        x, y, epochs=4, verbose=0, callbacks=[LearningRateScheduler(step_decay(0.1, 0.1, every=1))]
    )
    assert history.history["lr"] == pytest.approx([0.1, 0.01, 0.001, 0.0001])
    with pytest.raises(TypeError, match="schedule"):
        LearningRateScheduler(0.1)


def test_reduce_on_plateau_cuts_after_patience():
    model, x, y = model_and_data()
    cb = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_lr=0.02)
    cb.set_model(model)
    for epoch, loss in enumerate([1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99, 1.0]):
        cb.on_epoch_end(epoch, {"loss": loss})
    # stalls after epoch 1: cut at epochs 3 and 5, then floored at min_lr
    assert model.optimizer.learning_rate == pytest.approx(0.02)
    assert not math.isnan(cb.best)
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.5)


@pytest.mark.parametrize("restore", [False, True])
def test_early_stopping_stops_with_or_without_restoring(restore):
    from rnnkit.callbacks import EarlyStopping

    model, _, _ = model_and_data()
    stop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=restore)
    stop.set_model(model)
    stop.on_train_begin()
    for epoch, value in enumerate([1.0, 0.9, 1.1, 1.2, 1.3, 1.4]):
        stop.on_epoch_end(epoch, {"val_loss": value})
        if model.stop_training:
            break
    assert model.stop_training and stop.stopped_epoch == 3  # two epochs after the best
    assert stop.best == 0.9 and stop.best_epoch == 1


def test_time_budget_stops_before_an_epoch_that_would_overrun(monkeypatch):
    """A fake clock: every epoch takes 10 s; a 35 s budget allows 3 epochs (after the
    third, 30 s + the longest 10 s > 35 s), a resumed one counts the time already spent."""
    import rnnkit.callbacks as cb

    clock = {"now": 0.0}
    monkeypatch.setattr(cb.time, "perf_counter", lambda: clock["now"])
    tick = LambdaCallback(on_epoch_end=lambda epoch, logs: clock.update(now=clock["now"] + 10))
    model, x, y = model_and_data()
    budget = TimeBudget(35)
    # the tick runs first, so the budget sees each epoch's 10 s
    hist = model.fit(x, y, epochs=10, verbose=0, callbacks=[tick, budget])
    assert len(hist.history["loss"]) == 3
    assert budget.stopped_epoch == 2 and budget.elapsed == pytest.approx(30)

    again = TimeBudget(35)
    again.set_state(*budget.get_state())
    model2, _, _ = model_and_data()
    hist2 = model2.fit(x, y, epochs=10, verbose=0, callbacks=[tick, again])
    assert len(hist2.history["loss"]) == 1  # 30 s spent before: one more epoch at most


@pytest.mark.parametrize("bad", [0, -1.0, "60", True, None])
def test_time_budget_rejects_bad_seconds(bad):
    with pytest.raises(ValueError, match="seconds"):
        TimeBudget(bad)

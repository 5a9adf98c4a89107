"""A refused set_weights or load_weights changes nothing; a failed save leaves the old
file and no temporary one."""

from __future__ import annotations

import os

import numpy as np
import pytest

from rnnkit.layers import LSTM, Dense, Embedding
from rnnkit.models import Input, Model, Sequential, load_model, saving

pytestmark = pytest.mark.timeout(60)


def stack(last_units: int = 3) -> Sequential:
    return Sequential([Embedding(30, 4, input_shape=(6,)), LSTM(5), Dense(last_units)])


def snapshot(model) -> list[bytes]:
    return [w.tobytes() for w in model.get_weights()]


def other_weights(model, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(w.shape).astype(w.dtype) for w in model.get_weights()]


def test_set_weights_refused_anywhere_changes_nothing():
    model = stack()
    before = snapshot(model)
    good = other_weights(model)
    bad_cases = []
    shape = list(good)
    shape[-1] = np.zeros(7, good[-1].dtype)  # the last array has the wrong shape
    bad_cases.append((shape, ValueError, "shape"))
    nan = [w.copy() for w in good]
    nan[-1][0] = np.nan
    bad_cases.append((nan, ValueError, "NaN"))
    text = list(good)
    text[-1] = np.array(["a"] * good[-1].size)
    bad_cases.append((text, TypeError, "numeric"))
    ragged = list(good)
    ragged[-1] = [[1.0], [1.0, 2.0]]
    bad_cases.append((ragged, TypeError, "array"))
    bad_cases.append((good[:-1], ValueError, "expects"))
    for weights, error, match in bad_cases:
        with pytest.raises(error, match=match):
            model.set_weights(weights)
        assert snapshot(model) == before
    model.set_weights(good)  # and a good list goes in whole
    assert snapshot(model) == [w.tobytes() for w in good]


def test_values_that_overflow_the_weight_dtype_are_refused():
    model = Sequential([Dense(3, input_shape=(4,), dtype="float32"), Dense(2, dtype="float32")])
    before = snapshot(model)
    weights = [w.astype(np.float64) for w in other_weights(model)]
    weights[-1][0] = 1e300  # finite in float64, inf in float32
    with pytest.raises(ValueError, match="NaN or inf"):
        model.set_weights(weights)
    assert snapshot(model) == before


def test_layer_set_weights_is_all_or_nothing():
    model = stack()
    lstm = model.layers[1]
    before = [w.tobytes() for w in lstm.get_weights()]
    weights = other_weights(model)[1:4]
    weights[2] = weights[2][:-1]
    with pytest.raises(ValueError, match="bias"):
        lstm.set_weights(weights)
    assert [w.tobytes() for w in lstm.get_weights()] == before
    with pytest.raises(TypeError, match="list of arrays"):
        lstm.set_weights(np.zeros(3))


def test_set_weights_casts_like_keras():
    model = stack()
    weights = [w.astype(np.float64) for w in other_weights(model)]
    model.set_weights(weights)
    for w, got in zip(weights, model.get_weights()):
        assert got.dtype == model.layers[0].dtype
        np.testing.assert_array_equal(got, w.astype(got.dtype))


def test_functional_set_weights_is_all_or_nothing():
    inp = Input((6,))
    out = Dense(3)(LSTM(5)(Embedding(30, 4)(inp)))
    model = Model(inp, out)
    before = snapshot(model)
    weights = other_weights(model)
    weights[-1] = weights[-1][:2]
    with pytest.raises(ValueError):
        model.set_weights(weights)
    assert snapshot(model) == before


def test_refused_load_weights_changes_nothing(tmp_path):
    model = stack(3)
    before = snapshot(model)
    stack(4).save_weights(tmp_path / "four.rnnkit")  # the same but for the last layer
    with pytest.raises(ValueError, match="four.rnnkit") as info:
        model.load_weights(tmp_path / "four.rnnkit")
    assert "dense" in str(info.value)
    assert snapshot(model) == before

    donor = stack(3)
    weights = other_weights(donor)
    weights[-1][1] = np.inf
    for layer_weights, layer in zip([weights[:1], weights[1:4], weights[4:]], donor.layers):
        for (_, target), value in zip(layer.weights(), layer_weights):
            target[...] = value  # around set_weights, which would refuse the inf
    donor.save_weights(tmp_path / "inf.rnnkit")
    with pytest.raises(ValueError, match="NaN or inf"):
        model.load_weights(tmp_path / "inf.rnnkit")
    assert snapshot(model) == before

    data = (tmp_path / "four.rnnkit").read_bytes()
    (tmp_path / "cut.rnnkit").write_bytes(data[: len(data) - 40])
    (tmp_path / "text.rnnkit").write_text("weights, honest")
    for name in ("cut.rnnkit", "text.rnnkit"):
        with pytest.raises(ValueError, match=name):
            model.load_weights(tmp_path / name)
        assert snapshot(model) == before

    good = stack(3)
    good.save_weights(tmp_path / "good.rnnkit")
    model.load_weights(tmp_path / "good.rnnkit")
    assert snapshot(model) == snapshot(good)


def test_weights_file_is_not_a_model(tmp_path):
    stack().save_weights(tmp_path / "w.rnnkit")
    with pytest.raises(ValueError, match="weights only"):
        load_model(tmp_path / "w.rnnkit")


def test_failed_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "m.rnnkit"
    stack().save(path)
    old = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(saving.np, "savez", broken_savez)
    for save in (lambda: stack().save(path), lambda: stack().save_weights(path)):
        with pytest.raises(OSError, match="disk full"):
            save()
        assert path.read_bytes() == old
        assert os.listdir(tmp_path) == ["m.rnnkit"]


def test_read_only_weight_is_found_before_anything_is_assigned():
    model = stack()
    model.layers[-1].params["kernel"].flags.writeable = False
    before = snapshot(model)
    with pytest.raises(ValueError, match="read-only"):
        model.set_weights(other_weights(model))
    assert snapshot(model) == before

"""rnnkit read as a Keras 3 namespace: top-level names, Input, model.layers indexed as
Keras indexes them, symbolic model.input / layer.output, build with the batch axis,
boolean inputs, hard_sigmoid. Where Keras 3 is installed its own behaviour is the
reference."""

from __future__ import annotations

import os

import numpy as np
import pytest

import rnnkit
import rnnkit as keras_like

os.environ.setdefault("KERAS_BACKEND", "jax")


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def test_top_level_names():
    for name in (
        "Sequential",
        "Model",
        "Input",
        "layers",
        "optimizers",
        "losses",
        "callbacks",
        "utils",
        "activations",
        "regularizers",
        "constraints",
    ):
        assert hasattr(rnnkit, name), name
    assert rnnkit.layers.Input is rnnkit.Input
    assert rnnkit.models.Input is rnnkit.Input
    assert rnnkit.Model is rnnkit.models.Model
    assert callable(rnnkit.utils.timeseries_dataset_from_array)
    assert rnnkit.utils.PyDataset is rnnkit.models.PyDataset
    assert rnnkit.utils.set_random_seed is rnnkit.set_random_seed
    assert rnnkit.preprocessing.timeseries_dataset_from_array is (
        rnnkit.utils.timeseries_dataset_from_array
    )
    for name in (
        "Conv1D",
        "MaxPooling1D",
        "AveragePooling1D",
        "BatchNormalization",
        "LayerNormalization",
        "InputLayer",
    ):
        assert hasattr(rnnkit.layers, name), name


def test_input_tensor_shape_has_the_batch_axis(keras):
    ours = keras_like.Input(shape=(None, 3))
    theirs = keras.Input(shape=(None, 3))
    assert ours.shape == tuple(theirs.shape) == (None, None, 3)
    assert keras_like.Input(batch_shape=(None, 4)).shape == (None, 4)
    with pytest.raises(TypeError, match="shape"):
        keras_like.Input(shape="abc")
    with pytest.raises(ValueError, match="shape"):
        keras_like.Input()


def _sequential(k, with_input=True):
    layers = [k.layers.LSTM(4, return_sequences=True), k.layers.Dense(3), k.layers.Dense(1)]
    return k.Sequential(([k.Input(shape=(5, 2))] if with_input else []) + layers)


def test_sequential_with_input_lists_layers_as_keras(keras):
    ours, theirs = _sequential(keras_like), _sequential(keras)
    assert [type(l).__name__ for l in ours.layers] == [type(l).__name__ for l in theirs.layers]
    assert [type(l).__name__ for l in ours.layers] == ["LSTM", "Dense", "Dense"]
    assert ours.built and ours.input_shape == (None, 5, 2)
    # the InputLayer object, passed explicitly, is not listed either
    seq = keras_like.Sequential(
        [keras_like.layers.InputLayer(shape=(4,)), keras_like.layers.Dense(2)]
    )
    assert [type(l).__name__ for l in seq.layers] == ["Dense"]
    with pytest.raises(ValueError, match="Input can only come first"):
        keras_like.Sequential([keras_like.layers.Dense(2), keras_like.Input((3,))])


def test_functional_model_lists_input_layers_as_keras(keras):
    def build(k):
        a = k.Input((3,), name="a")
        d = k.layers.Dense(2)(a)
        b = k.Input((2,), name="b")
        return k.Model([b, a], k.layers.Add()([d, b]))

    ours, theirs = build(keras_like), build(keras)
    assert [type(l).__name__ for l in ours.layers] == [type(l).__name__ for l in theirs.layers]
    assert [type(l).__name__ for l in ours.layers] == ["InputLayer", "Dense", "InputLayer", "Add"]
    x = [np.ones((2, 2)), np.ones((2, 3))]
    assert ours.predict(x).shape == (2, 2)


def test_feature_extraction_from_a_sequential():
    rnnkit.set_random_seed(0)
    model = _sequential(keras_like)
    x = np.random.default_rng(0).standard_normal((3, 5, 2)).astype("float32")
    full = model.predict(x)
    assert model.input.shape == (None, 5, 2)
    assert model.output.shape == (None, 5, 1)
    assert model.layers[1].output.shape == (None, 5, 3)
    assert model.layers[0].input is model.input
    features = keras_like.Model(model.input, model.layers[1].output)
    hidden = features.predict(x)
    assert hidden.shape == (3, 5, 3)
    # the same layers, so the same numbers as running them by hand
    by_hand = model.layers[1].forward(model.layers[0].forward(x))
    np.testing.assert_allclose(hidden, by_hand, rtol=1e-6)
    np.testing.assert_allclose(model.layers[2].forward(hidden), full, rtol=1e-5, atol=1e-6)


def test_layer_output_before_any_call_is_an_attribute_error():
    with pytest.raises(AttributeError, match="never been called"):
        _ = keras_like.layers.Dense(2).output
    with pytest.raises(AttributeError, match="not built"):
        _ = keras_like.Sequential([keras_like.layers.Dense(2)]).input


def test_build_takes_the_batch_axis(keras):
    ours = _sequential(keras_like, with_input=False)
    ours.build((None, 5, 2))
    theirs = _sequential(keras, with_input=False)
    theirs.build((None, 5, 2))
    assert ours.count_params() == theirs.count_params()
    assert ours.output_shape == tuple(theirs.output_shape) == (None, 5, 1)
    assert ours.layers[0].output.shape == (None, 5, 4)
    # the one-entry form keeps meaning one sample's shape: token ids of any length
    lm = keras_like.Sequential([keras_like.layers.Embedding(5, 2), keras_like.layers.LSTM(3)])
    lm.build((None,))
    assert lm.output_shape == (None, 3)


def test_get_layer_by_name_and_index():
    model = _sequential(keras_like)
    assert model.get_layer(index=1) is model.layers[1]
    assert model.get_layer(model.layers[2].name) is model.layers[2]
    with pytest.raises(ValueError, match="No layer named"):
        model.get_layer("nope")


def test_boolean_and_integer_arrays_are_accepted():
    rnnkit.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((6, 4, 3)) > 0.5  # one-hot style boolean input, as Keras examples build
    y = rng.random((6, 2)) > 0.5
    model = keras_like.Sequential(
        [
            keras_like.Input((4, 3)),
            keras_like.layers.LSTM(3),
            keras_like.layers.Dense(2, activation="sigmoid"),
        ]
    )
    model.compile("adam", "binary_crossentropy")
    history = model.fit(x, y, epochs=2, batch_size=3, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    np.testing.assert_allclose(model.predict(x), model.predict(x.astype("float32")))
    np.testing.assert_allclose(
        model.predict(x.astype("int64")), model.predict(x.astype("float32")), rtol=1e-6
    )


def test_save_load_keeps_the_input_and_the_indexing(tmp_path):
    rnnkit.set_random_seed(0)
    a = keras_like.Input((4,), name="features")
    model = keras_like.Model(a, keras_like.layers.Dense(2)(keras_like.layers.Dense(3)(a)))
    x = np.random.default_rng(1).standard_normal((2, 4))
    model.save(tmp_path / "m.rnnkit")
    loaded = keras_like.models.load_model(tmp_path / "m.rnnkit")
    assert [type(l).__name__ for l in loaded.layers] == ["InputLayer", "Dense", "Dense"]
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)


def test_hard_sigmoid_is_keras_3s(keras):
    z = np.linspace(-5, 5, 41)
    ours = keras_like.activations.get("hard_sigmoid")
    np.testing.assert_allclose(ours(z), np.asarray(keras.activations.hard_sigmoid(z)), atol=1e-7)
    np.testing.assert_allclose(ours(z), np.clip(z + 3, 0, 6) / 6)
    # the derivative, by central differences away from the kinks at ±3
    z = np.array([-4.0, -2.0, 0.0, 1.5, 2.9, 3.5])
    eps = 1e-6
    numeric = (ours(z + eps) - ours(z - eps)) / (2 * eps)
    np.testing.assert_allclose(ours.grad(ours(z)), numeric, atol=1e-6)


def test_functional_layer_order_is_keras_3s_depth_order(keras):
    """Keras 3 lists a functional model's layers by depth from the outputs (deepest
    first), not by creation: the seq2seq example's model.layers[2] is the encoder."""

    def seq2seq(k):
        enc_in = k.Input(shape=(None, 5), name="enc_in")
        _, h, c = k.layers.LSTM(4, return_state=True, name="encoder")(enc_in)
        dec_in = k.Input(shape=(None, 6), name="dec_in")
        dec, _, _ = k.layers.LSTM(4, return_sequences=True, return_state=True, name="decoder")(
            dec_in, initial_state=[h, c]
        )
        return k.Model([enc_in, dec_in], k.layers.Dense(6, name="head")(dec))

    def diamond(k):
        a = k.Input((3,), name="a")
        d1 = k.layers.Dense(3, name="d1")(a)
        d2 = k.layers.Dense(3, name="d2")(d1)
        d3 = k.layers.Dense(3, name="d3")(a)
        b = k.Input((3,), name="b")
        inner = k.layers.Add(name="inner")([d2, b])
        return k.Model([a, b], k.layers.Add(name="outer")([d3, inner]))

    for build in (seq2seq, diamond):
        ours = [layer.name for layer in build(keras_like).layers]
        assert ours == [layer.name for layer in build(keras).layers]
    assert [l.name for l in seq2seq(keras_like).layers] == [
        "enc_in",
        "dec_in",
        "encoder",
        "decoder",
        "head",
    ]

"""Conv1D, MaxPooling1D / AveragePooling1D, BatchNormalization and LayerNormalization:
central-difference gradient checks in float64 for every option, Keras 3's forward
pass (and BatchNormalization's moving statistics) as the reference, saving, and the
errors for bad arguments."""

from __future__ import annotations

import os

import numpy as np
import pytest

import rnnkit
from rnnkit.layers import (
    AveragePooling1D,
    BatchNormalization,
    Conv1D,
    Dense,
    Flatten,
    LayerNormalization,
    MaxPooling1D,
)
from rnnkit.models import Sequential, load_model
from rnnkit.utils.gradient_check import check_layer, numerical_gradient, relative_error

os.environ.setdefault("KERAS_BACKEND", "jax")

TOL = 1e-6
F64 = {"dtype": "float64"}


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def assert_small(errors, tol=TOL):
    bad = {k: v for k, v in errors.items() if not v < tol}
    assert not bad, f"relative errors above {tol}: {bad} (all: {errors})"


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


CONV_OPTIONS = [
    {"kernel_size": 3},
    {"kernel_size": 3, "padding": "same"},
    {"kernel_size": 4, "padding": "same"},
    {"kernel_size": 3, "padding": "causal"},
    {"kernel_size": 2, "strides": 2},
    {"kernel_size": 3, "strides": 2, "padding": "same"},
    {"kernel_size": 2, "dilation_rate": 2},
    {"kernel_size": 3, "dilation_rate": 2, "padding": "causal"},
    {"kernel_size": 3, "activation": "tanh"},
    {"kernel_size": 1, "use_bias": False},
]


@pytest.mark.parametrize("options", CONV_OPTIONS, ids=str)
def test_conv1d_gradients(options):
    layer = Conv1D(3, **options, **F64)
    x = rand(2, 7, 2)
    layer.ensure_built(x.shape[1:])
    if layer.use_bias:
        layer.params["bias"][...] = rand(3, seed=2)
    assert_small(check_layer(layer, x))


# Keras (on JAX) compiles each new configuration: a few cover every option
KERAS_CONV_OPTIONS = [
    {"kernel_size": 3, "strides": 2, "padding": "same"},
    {"kernel_size": 4, "padding": "same", "activation": "relu"},
    {"kernel_size": 3, "dilation_rate": 2, "padding": "causal"},
    {"kernel_size": 2, "strides": 3, "use_bias": False},
]


@pytest.mark.parametrize("options", KERAS_CONV_OPTIONS, ids=str)
def test_conv1d_matches_keras(keras, options):
    x = rand(3, 9, 4, seed=1).astype("float32")
    theirs = keras.layers.Conv1D(5, **options)
    expected = np.asarray(theirs(x))
    ours = Conv1D(5, **options)
    ours.ensure_built(x.shape[1:])
    ours.set_weights(theirs.get_weights())
    assert ours.compute_output_shape(x.shape[1:]) == expected.shape[1:]
    np.testing.assert_allclose(ours(x), expected, atol=2e-6)


POOL_OPTIONS = [
    {"pool_size": 2},
    {"pool_size": 3, "strides": 1},
    {"pool_size": 3, "padding": "same"},
    {"pool_size": 2, "strides": 3, "padding": "same"},
    {"pool_size": 4, "strides": 2, "padding": "same"},
]


@pytest.mark.parametrize("cls", [MaxPooling1D, AveragePooling1D])
@pytest.mark.parametrize("options", POOL_OPTIONS, ids=str)
def test_pooling_gradients(cls, options):
    assert_small(check_layer(cls(**options, **F64), rand(2, 7, 3)))


@pytest.mark.parametrize("name", ["MaxPooling1D", "AveragePooling1D"])
@pytest.mark.parametrize("options", POOL_OPTIONS[2:], ids=str)
def test_pooling_matches_keras(keras, name, options):
    x = rand(3, 9, 4, seed=3).astype("float32")
    expected = np.asarray(getattr(keras.layers, name)(**options)(x))
    ours = getattr(rnnkit.layers, name)(**options)
    np.testing.assert_allclose(ours(x), expected, atol=1e-6)


def _norm_errors(layer, x, training, mask=None):
    """Relative errors of dL/dx and of the trained weights' gradients, L = Σ y ⊙ R."""
    probe = rand(*x.shape, seed=9)
    layer.ensure_built(x.shape[1:])

    def loss():
        return float(np.sum(layer.forward(x, training=training, mask=mask) * probe))

    layer.forward(x, training=training, mask=mask)
    dx = layer.backward(probe)
    analytic = dict(zip([n for n, _ in layer.trainable_weights()], layer.gradients()))
    errors = {"x": relative_error(dx, numerical_gradient(loss, x))}
    for name, w in layer.trainable_weights():
        errors[name] = relative_error(analytic[name].copy(), numerical_gradient(loss, w))
    return errors


@pytest.mark.parametrize("shape", [(5, 3), (3, 4, 2)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [(True, True), (False, True), (True, False)])
def test_batch_normalization_gradients(shape, training, affine):
    center, scale = affine
    layer = BatchNormalization(center=center, scale=scale, **F64)
    x = rand(*shape) * 2 + 0.5
    layer.ensure_built(x.shape[1:])
    for name in ("gamma", "beta"):
        if name in layer.params:
            layer.params[name][...] = rand(shape[-1], seed=4)
    layer.params["moving_variance"][...] = 0.5 + rand(shape[-1], seed=5) ** 2
    assert_small(_norm_errors(layer, x, training))


def test_batch_normalization_gradients_with_a_mask():
    layer = BatchNormalization(**F64)
    mask = np.ones((3, 4), bool)
    mask[1, 2:] = False
    assert_small(_norm_errors(layer, rand(3, 4, 2), True, mask))


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5)])
def test_layer_normalization_gradients(shape):
    layer = LayerNormalization(**F64)
    x = rand(*shape)
    layer.ensure_built(x.shape[1:])
    layer.params["gamma"][...] = rand(shape[-1], seed=6)
    layer.params["beta"][...] = rand(shape[-1], seed=7)
    assert_small(check_layer(layer, x))


@pytest.mark.parametrize("shape", [(6, 4), (3, 5, 4)])
def test_batch_normalization_matches_keras(keras, shape):
    """Training output, the moving statistics after two steps, and inference output."""
    x1 = rand(*shape, seed=1).astype("float32") * 3 + 1
    x2 = rand(*shape, seed=2).astype("float32")
    theirs = keras.layers.BatchNormalization(momentum=0.8, epsilon=1e-2)
    theirs.build(x1.shape)
    start = [
        rand(shape[-1], seed=3).astype("float32"),
        rand(shape[-1], seed=4).astype("float32"),
        rand(shape[-1], seed=5).astype("float32"),
        (0.5 + rand(shape[-1], seed=6) ** 2).astype("float32"),
    ]
    theirs.set_weights(start)
    ours = BatchNormalization(momentum=0.8, epsilon=1e-2)
    ours.ensure_built(x1.shape[1:])
    ours.set_weights(start)
    for x in (x1, x2):
        np.testing.assert_allclose(
            ours(x, training=True), np.asarray(theirs(x, training=True)), atol=2e-5
        )
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        ours(x1, training=False), np.asarray(theirs(x1, training=False)), atol=2e-5
    )


def test_batch_normalization_mask_matches_keras(keras):
    x = rand(3, 6, 4, seed=1).astype("float32")
    mask = np.ones((3, 6), bool)
    mask[1, 3:] = False
    theirs = keras.layers.BatchNormalization(momentum=0.5)
    theirs.build(x.shape)
    expected = np.asarray(theirs(x, training=True, mask=mask))
    ours = BatchNormalization(momentum=0.5)
    ours.ensure_built(x.shape[1:])
    np.testing.assert_allclose(ours.forward(x, training=True, mask=mask), expected, atol=2e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_layer_normalization_matches_keras(keras):
    x = rand(3, 5, 4, seed=1).astype("float32") * 2
    theirs = keras.layers.LayerNormalization()
    theirs.build(x.shape)
    weights = [rand(4, seed=2).astype("float32"), rand(4, seed=3).astype("float32")]
    theirs.set_weights(weights)
    ours = LayerNormalization()
    ours.ensure_built(x.shape[1:])
    ours.set_weights(weights)
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), atol=2e-6)


def test_moving_statistics_are_not_trained_but_saved(tmp_path):
    rnnkit.set_random_seed(0)
    model = Sequential(
        [
            Conv1D(4, 3, padding="causal", activation="relu", input_shape=(8, 2)),
            BatchNormalization(),
            MaxPooling1D(2),
            LayerNormalization(),
            AveragePooling1D(2, padding="same"),
            Flatten(),
            Dense(1),
        ]
    )
    model.compile("sgd", "mse")
    bn = model.layers[1]
    assert [n for n, _ in bn.weights()] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [n for n, _ in bn.trainable_weights()] == ["gamma", "beta"]
    x, y = rand(16, 8, 2, seed=1), rand(16, 1, seed=2)
    before = bn.params["moving_mean"].copy()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    # moved by the batches' statistics (momentum), not by the optimizer
    assert not np.allclose(bn.params["moving_mean"], before)
    model.save(tmp_path / "m.rnnkit")
    loaded = load_model(tmp_path / "m.rnnkit")
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Conv1D(2, 3, padding="full"), "padding"),
        (lambda: Conv1D(0, 3), "filters"),
        (lambda: Conv1D(2, (3, 3)), "kernel_size"),
        (lambda: Conv1D(2, 3, data_format="channels_first"), "data_format"),
        (lambda: MaxPooling1D(2, padding="causal"), "padding"),
        (lambda: AveragePooling1D(0), "pool_size"),
        (lambda: BatchNormalization(momentum=2), "momentum"),
        (lambda: LayerNormalization(epsilon=0), "epsilon"),
    ],
)
def test_bad_arguments_name_themselves(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="fewer than the kernel"):
        Conv1D(2, 5)(np.zeros((1, 3, 2)))
    with pytest.raises(ValueError, match="3-D"):
        Conv1D(2, 2)(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="axis=-1"):
        BatchNormalization(axis=1)(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="fewer than pool_size"):
        MaxPooling1D(4)(np.zeros((1, 3, 2)))

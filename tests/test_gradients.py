"""Central-difference gradient checks in float64 for every layer, loss and option.

Each check compares the analytic backward pass against (f(w+ε) - f(w-ε)) / 2ε for
the input and every weight; the threshold is a relative error of 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit import layers, losses
from rnnkit.layers import (
    GRU,
    LSTM,
    Activation,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Masking,
    RepeatVector,
    SimpleRNN,
    TimeDistributed,
)
from rnnkit.models import Sequential
from rnnkit.utils.gradient_check import check_layer, check_loss, check_model

# every test here runs with the NumPy cells and with the fused numba kernels
pytestmark = pytest.mark.usefixtures("accelerator")

TOL = 1e-6
B, T, I, H = 2, 4, 3, 3


def assert_small(errors: dict, tol: float = TOL):
    bad = {k: v for k, v in errors.items() if not v < tol}
    assert not bad, f"relative errors above {tol}: {bad} (all: {errors})"


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def post_mask():
    """Sample 0 is full length, sample 1 has its last two steps padded."""
    m = np.ones((B, T), bool)
    m[1, -2:] = False
    return m


def make_rnn(kind, **kwargs):
    kwargs.setdefault("dtype", "float64")
    if kind == "rnn_tanh":
        return SimpleRNN(H, activation="tanh", **kwargs)
    if kind == "rnn_relu":
        return SimpleRNN(H, activation="relu", **kwargs)
    if kind == "rnn_sigmoid":
        return SimpleRNN(H, activation="sigmoid", **kwargs)
    if kind == "rnn_linear":
        return SimpleRNN(H, activation="linear", **kwargs)
    if kind == "lstm":
        return LSTM(H, **kwargs)
    if kind == "gru":
        return GRU(H, **kwargs)
    if kind == "gru_reset_before":  # Keras's older formulation (reset_after=False)
        return GRU(H, reset_after=False, **kwargs)
    raise AssertionError(kind)


def randomize_bias(layer, seed=1):
    """Non-zero biases, so their gradients are exercised."""
    weights = layer.get_weights()
    if len(weights) == 3:
        weights[2] = rand(*weights[2].shape, seed=seed) * 0.5
        layer.set_weights(weights)


KINDS = ["rnn_tanh", "rnn_relu", "rnn_sigmoid", "rnn_linear", "lstm", "gru", "gru_reset_before"]
CORE_KINDS = ["rnn_tanh", "lstm", "gru", "gru_reset_before"]  # each cell and formulation
OPTIONS = [
    {},
    {"return_sequences": True},
    {"go_backwards": True},
    {"go_backwards": True, "return_sequences": True},
    {"use_bias": False},
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "default")
def test_recurrent_layer(kind, options):
    layer = make_rnn(kind, **options)
    layer.ensure_built((T, I))
    randomize_bias(layer)
    assert_small(check_layer(layer, rand(B, T, I)))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_recurrent_layer_with_mask(kind, return_sequences, go_backwards):
    layer = make_rnn(kind, return_sequences=return_sequences, go_backwards=go_backwards)
    layer.ensure_built((T, I))
    randomize_bias(layer)
    assert_small(check_layer(layer, rand(B, T, I), forward_kwargs={"mask": post_mask()}))


@pytest.mark.parametrize("kind", CORE_KINDS)
def test_zero_output_for_mask(kind):
    layer = make_rnn(kind, return_sequences=True, zero_output_for_mask=True)
    assert_small(check_layer(layer, rand(B, T, I), forward_kwargs={"mask": post_mask()}))


@pytest.mark.parametrize("kind", CORE_KINDS)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_return_state_and_initial_state(kind, return_sequences):
    layer = make_rnn(kind, return_state=True, return_sequences=return_sequences)
    layer.ensure_built((T, I))
    randomize_bias(layer)
    n_states = 2 if kind == "lstm" else 1
    init = [rand(B, H, seed=10 + k) * 0.5 for k in range(n_states)]
    errors = check_layer(layer, rand(B, T, I), forward_kwargs={"initial_state": init})
    assert set(errors) >= {"x", "initial_state/0"}
    assert_small(errors)


@pytest.mark.parametrize("kind", CORE_KINDS)
def test_stateful_carry(kind):
    """The second batch starts from the first batch's final state (held fixed);
    gradients w.r.t. the weights and input are exact for that truncated graph."""
    layer = make_rnn(kind, stateful=True)
    layer(rand(B, T, I, seed=5))  # leaves carried states
    carried = [s.copy() for s in layer.states]
    assert np.abs(carried[0]).sum() > 0

    def restore():
        layer.states = [s.copy() for s in carried]

    assert_small(check_layer(layer, rand(B, T, I), before_forward=restore))
    # the carried state really is used: a reset changes the output
    restore()
    with_state = layer.forward(rand(B, T, I))
    layer.reset_states()
    without = layer.forward(rand(B, T, I))
    assert not np.allclose(with_state, without)


@pytest.mark.parametrize("kind", CORE_KINDS)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_dropout_with_fixed_mask(kind, return_sequences):
    layer = make_rnn(kind, dropout=0.4, recurrent_dropout=0.3, return_sequences=return_sequences)

    def reseed():
        layer.rng = np.random.default_rng(7)

    assert_small(
        check_layer(layer, rand(B, T, I), forward_kwargs={"training": True}, before_forward=reseed)
    )
    reseed()
    out_train = layer.forward(rand(B, T, I), training=True)
    out_eval = layer.forward(rand(B, T, I), training=False)
    assert not np.allclose(out_train, out_eval)  # the masks were applied


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("kind", CORE_KINDS)
def test_bidirectional(merge_mode, return_sequences, kind):
    layer = Bidirectional(
        make_rnn(kind, return_sequences=return_sequences), merge_mode=merge_mode, dtype="float64"
    )
    assert_small(check_layer(layer, rand(B, T, I)))


@pytest.mark.parametrize("merge_mode", ["concat", "mul"])
def test_bidirectional_with_mask(merge_mode):
    layer = Bidirectional(
        LSTM(H, return_sequences=True, dtype="float64"), merge_mode=merge_mode, dtype="float64"
    )
    assert_small(check_layer(layer, rand(B, T, I), forward_kwargs={"mask": post_mask()}))


@pytest.mark.parametrize("activation", [None, "tanh", "relu", "sigmoid", "softmax"])
@pytest.mark.parametrize("rank", [2, 3])
def test_dense(activation, rank):
    layer = Dense(4, activation=activation, dtype="float64")
    x = rand(B, I) if rank == 2 else rand(B, T, I)
    layer.ensure_built(x.shape[1:])
    layer.set_weights([rand(I, 4, seed=3), rand(4, seed=4)])
    assert_small(check_layer(layer, x))


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "softmax", "linear"])
def test_activation_layer(activation):
    x = rand(B, 5) + 0.05  # keep relu inputs away from the kink at 0
    assert_small(check_layer(Activation(activation, dtype="float64"), x))


def test_time_distributed_dense():
    assert_small(
        check_layer(TimeDistributed(Dense(4, activation="tanh", dtype="float64")), rand(B, T, I))
    )


def test_repeat_vector_and_flatten():
    assert_small(check_layer(RepeatVector(3, dtype="float64"), rand(B, I)))
    assert_small(check_layer(Flatten(dtype="float64"), rand(B, T, I)))


def test_masking_layer():
    """Masked steps pass no gradient; elsewhere the layer is the identity. (At a
    masked step a perturbation un-masks it, so central differences are meaningless
    there: compare only unmasked entries.)"""
    from rnnkit.utils.gradient_check import numerical_gradient, relative_error

    x = rand(B, T, I)
    x[1, -2:] = 0.0
    layer = Masking(0.0, dtype="float64")
    probe = rand(B, T, I, seed=3)
    layer.forward(x)
    dx = layer.backward(probe)
    assert np.all(dx[1, -2:] == 0)
    numeric = numerical_gradient(lambda: float(np.sum(layer.forward(x) * probe)), x)
    keep = np.ones_like(x, bool)
    keep[1, -2:] = False
    assert relative_error(dx[keep], numeric[keep]) < TOL


def test_dropout_layer_fixed_mask():
    layer = Dropout(0.5, dtype="float64")

    def reseed():
        layer.rng = np.random.default_rng(3)

    assert_small(
        check_layer(layer, rand(B, T, I), forward_kwargs={"training": True}, before_forward=reseed)
    )


def test_embedding():
    layer = Embedding(7, 4, dtype="float64")
    ids = np.array([[1, 2, 2, 0], [6, 1, 0, 0]])
    errors = check_layer(layer, ids, check_input=False)
    assert set(errors) == {"embeddings"}
    assert_small(errors)


# ---- losses ---------------------------------------------------------------------
def _probs(shape, seed=0):
    z = rand(*shape, seed=seed)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


LOSS_CASES = [
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_crossentropy",
    "mse",
    "mae",
]


def _targets(name, shape, seed=1):
    rng = np.random.default_rng(seed)
    if name == "categorical_crossentropy":
        return np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
    if name == "sparse_categorical_crossentropy":
        return rng.integers(0, shape[-1], shape[:-1])
    if name == "binary_crossentropy":
        return rng.integers(0, 2, shape).astype(float)
    return rng.standard_normal(shape)


LOSS_GRID = [
    (name, rank, weighting, logits)
    for name in LOSS_CASES
    for rank in (2, 3)
    for weighting in ("none", "sample_weight", "mask")
    for logits in (False, True)
    if not (logits and name in ("mse", "mae"))  # regression losses have no logits form
    and not (weighting == "mask" and rank == 2)  # masks apply to sequence outputs
]


@pytest.mark.parametrize("name,rank,weighting,logits", LOSS_GRID)
def test_loss_gradients(name, rank, weighting, logits):
    loss = losses.get(name)
    shape = (B, 5) if rank == 2 else (B, T, 5)
    y_pred = rand(*shape) if logits else _probs(shape)
    if name == "binary_crossentropy" and not logits:
        y_pred = 1 / (1 + np.exp(-rand(*shape)))
    if name == "mae":
        y_pred = y_pred + 0.3  # stay away from the kink
    sw = np.array([0.3, 1.7]) if weighting == "sample_weight" else None
    mask = post_mask() if weighting == "mask" else None
    err = check_loss(
        loss, _targets(name, shape), y_pred, sample_weight=sw, mask=mask, logits=logits
    )
    assert err < TOL, err


def test_masked_loss_ignores_padded_steps():
    loss = losses.get("categorical_crossentropy")
    y = _targets("categorical_crossentropy", (B, T, 5))
    p = _probs((B, T, 5))
    mask = post_mask()
    p2 = p.copy()
    p2[1, -2:] = _probs((2, 5), seed=9)  # change only padded steps
    assert loss(y, p, mask=mask) == pytest.approx(loss(y, p2, mask=mask), abs=0)
    _, grad = loss.value_and_grad(y, p, mask=mask)
    assert np.all(grad[1, -2:] == 0)


# ---- whole models: fused softmax + cross-entropy, masks to the loss --------------
@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
@pytest.mark.parametrize("head", ["dense_softmax", "activation_layer"])
def test_model_fused_softmax_crossentropy(loss, head):
    model = Sequential(
        [
            Embedding(9, 3, mask_zero=True, input_shape=(T,), dtype="float64"),
            LSTM(H, return_sequences=True, dtype="float64"),
            GRU(H, dtype="float64"),
        ]
    )
    if head == "dense_softmax":
        model.add(Dense(5, activation="softmax", dtype="float64"))
    else:
        model.add(Dense(5, dtype="float64"))
        model.add(Activation("softmax", dtype="float64"))
    model.compile("sgd", loss)
    assert model._fused_output()
    x = np.array([[3, 1, 4, 1], [5, 2, 0, 0]])
    labels = np.array([1, 4])
    y = labels if loss.startswith("sparse") else np.eye(5)[labels]
    assert_small(check_model(model, x, y, sample_weight=np.array([1.0, 0.5])))


def test_model_sequence_output_with_mask_to_loss():
    """many-to-many with mask_zero: the loss skips padded steps, gradients exact."""
    model = Sequential(
        [
            Embedding(9, 3, mask_zero=True, input_shape=(T,), dtype="float64"),
            SimpleRNN(H, return_sequences=True, dtype="float64"),
            TimeDistributed(Dense(4, activation="softmax", dtype="float64")),
        ]
    )
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = np.array([[3, 1, 4, 1], [5, 2, 0, 0]])
    y = np.array([[0, 1, 2, 3], [3, 2, 1, 0]])
    assert_small(check_model(model, x, y))
    loss_a = model.compute_loss(x, y, training=False)[0]
    y2 = y.copy()
    y2[1, 2:] = [3, 3]  # labels at padded steps do not matter
    assert model.compute_loss(x, y2, training=False)[0] == loss_a


def test_stacked_bidirectional_model_mse():
    model = Sequential(
        [
            Bidirectional(
                GRU(H, return_sequences=True, dtype="float64"), input_shape=(T, I), dtype="float64"
            ),
            LSTM(H, dtype="float64"),
            Dense(2, dtype="float64"),
        ]
    )
    model.compile("sgd", "mse")
    assert_small(check_model(model, rand(B, T, I), rand(B, 2, seed=2)))


def test_layer_registry_round_trip():
    for layer in [
        SimpleRNN(3),
        LSTM(3, return_sequences=True),
        GRU(2, go_backwards=True),
        Dense(2, activation="tanh"),
        Embedding(5, 2, mask_zero=True),
    ]:
        clone = layers.deserialize(layers.serialize(layer))
        assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize(
    "cls", ["GlobalMaxPooling1D", "GlobalAveragePooling1D", "GlobalMaxAveragePooling1D"]
)
@pytest.mark.parametrize("masked", [False, True])
def test_global_pooling(cls, masked):
    layer = getattr(layers, cls)(dtype="float64")
    kwargs = {"mask": post_mask()} if masked else {}
    assert_small(check_layer(layer, rand(B, T, I), forward_kwargs=kwargs))


def test_pooling_ignores_padded_steps():
    x = rand(B, T, I)
    x2 = x.copy()
    x2[1, -2:] = 100.0  # huge values at padded steps must not win the max
    for cls in ("GlobalMaxPooling1D", "GlobalAveragePooling1D"):
        layer = getattr(layers, cls)(dtype="float64")
        np.testing.assert_array_equal(
            layer.forward(x, mask=post_mask()), layer.forward(x2, mask=post_mask())
        )


def test_max_pooling_ties_nan_and_float32():
    """The max pooling's argmax is the first valid step holding the max (its gradient
    goes there alone); a NaN at a valid step makes the output NaN, one at a padded
    step is ignored; float32 in, float32 out."""
    layer = layers.GlobalMaxPooling1D(dtype="float32")
    x = np.zeros((2, 4, 3), np.float32)
    x[0, 1, 0] = x[0, 3, 0] = 5.0  # a tie: step 1 wins
    x[1, 0, 1] = np.nan  # a valid step of row 1
    x[1, 3, 2] = np.nan  # a padded step of row 1
    mask = np.array([[1, 1, 1, 1], [1, 1, 1, 0]], bool)
    y = layer.forward(x, mask=mask)
    assert y.dtype == np.float32
    assert y[0, 0] == 5.0 and np.isnan(y[1, 1]) and y[1, 2] == 0.0
    dx = layer.backward(np.ones((2, 3), np.float32))
    assert dx[0, 1, 0] == 1.0 and dx[0, 3, 0] == 0.0
    assert dx.sum() == 6.0  # one step per (row, feature)
    assert dx[1, 3].sum() == 0.0  # never a padded step


def test_spatial_dropout_fixed_mask():
    layer = layers.SpatialDropout1D(0.5, dtype="float64")

    def reseed():
        layer.rng = np.random.default_rng(2)

    assert_small(
        check_layer(layer, rand(B, T, I), forward_kwargs={"training": True}, before_forward=reseed)
    )
    reseed()
    out = layer.forward(np.ones((B, T, I)), training=True)
    assert np.all(out == out[:, :1, :])  # the same channels dropped at every step


def test_recorded_state_gradient_norms_come_from_bptt():
    """For a linear Elman RNN, dL/dh_t = dL/dh_T · (Wᵀ)^(T-t): the recorded norms must
    follow that product exactly, step by step, in reading order (also backwards)."""
    for go_backwards in (False, True):
        layer = SimpleRNN(H, activation="linear", go_backwards=go_backwards, dtype="float64")
        layer.record_state_grads = True
        layer(rand(1, T, I))
        dy = rand(1, H, seed=5)
        layer.backward(dy)
        w = layer.get_weights()[1]
        expected = [np.linalg.norm(dy @ np.linalg.matrix_power(w.T, T - 1 - k)) for k in range(T)]
        if go_backwards:
            expected = expected[::-1]  # step k of the reversed reading is input step T-1-k
        assert layer.state_grad_norms.shape == (1, T)
        np.testing.assert_allclose(layer.state_grad_norms[0], expected, rtol=1e-12)


def test_sparse_crossentropy_from_logits_matches_log_softmax_and_is_stable():
    """The one-exponential fused path equals -log_softmax at the label, with gradient
    softmax - onehot, for ordinary and for huge logits (no overflow, no NaN)."""
    from rnnkit.activations import log_softmax, softmax

    loss = losses.get("sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    for scale in (1.0, 1e4):
        z = rng.normal(size=(3, 4, 7)) * scale
        labels = rng.integers(0, 7, size=(3, 4))
        values, grad = loss.entries_and_grad(labels, z, from_logits=True)
        want = -np.take_along_axis(log_softmax(z), labels[..., None], axis=-1)[..., 0]
        np.testing.assert_allclose(values, want, rtol=1e-12, atol=1e-9)
        onehot = np.eye(7)[labels]
        np.testing.assert_allclose(grad, softmax(z) - onehot, atol=1e-12)
        assert np.isfinite(values).all() and np.isfinite(grad).all()

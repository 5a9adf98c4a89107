"""GRU ``reset_after=False``, Keras's older formulation (the reset gate applied to
h_{t-1} before the candidate's recurrent product, one (3·H,) bias), end to end:
central-difference gradient checks in float64 of the input, every weight and the
initial state under every option the time loop has (masks packed and not, dropout,
go_backwards, Bidirectional; the stateful carry and the options every cell shares are
in tests/test_gradients.py, whose kinds include this formulation); streaming steps;
configs; Keras 3's predictions and SGD step; Keras ``.keras`` / ``.h5`` files both
ways and rnnkit's own format; ONNX (``linear_before_reset=0``) through onnxruntime;
and PyTorch weights refused by name.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import rnnkit
from rnnkit import backend, kernels, layers
from rnnkit.cells import GRUCell
from rnnkit.layers import GRU, Bidirectional, Dense, Embedding, Masking
from rnnkit.models import Sequential, load_model
from rnnkit.utils.gradient_check import check_layer

os.environ.setdefault("KERAS_BACKEND", "jax")

TOL = 1e-6  # the gradient checks' relative error, as tests/test_gradients.py
B, T, I, H = 2, 4, 3, 3


def assert_small(errors: dict, tol: float = TOL):
    bad = {k: v for k, v in errors.items() if not v < tol}
    assert not bad, f"relative errors above {tol}: {bad} (all: {errors})"


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def gru(**kwargs):
    """A built float64 reset_after=False GRU with a non-zero bias."""
    kwargs.setdefault("dtype", "float64")
    layer = GRU(H, reset_after=False, **kwargs)
    layer.ensure_built((T, I))
    weights = layer.get_weights()
    if len(weights) == 3:
        assert weights[2].shape == (3 * H,)
        weights[2] = rand(3 * H, seed=1) * 0.5
        layer.set_weights(weights)
    return layer


def post_mask():
    """Sample 1 has its last two steps padded: 6 of 8 steps kept, below
    recurrent.PACKED_BELOW, so the kept rows are packed."""
    m = np.ones((B, T), bool)
    m[1, -2:] = False
    return m


def sparse_mask():
    """One step of eight masked (a hole): the unpacked masked path."""
    m = np.ones((B, T), bool)
    m[0, 1] = False
    return m


# ---- the cell --------------------------------------------------------------------------
def test_one_step_is_keras_formula():
    """One step against the equations written out independently of the cell."""
    rng = np.random.default_rng(3)
    cell = GRUCell(H, reset_after=False)
    cell.build(I, np.float64, rng)
    cell.params["bias"][...] = rng.standard_normal(3 * H)
    x, h = rng.standard_normal((B, I)), rng.standard_normal((B, H))
    U, W, b = cell.params["kernel"], cell.params["recurrent_kernel"], cell.params["bias"]

    def sigmoid(a):
        return 1 / (1 + np.exp(-a))

    z = sigmoid(x @ U[:, :H] + b[:H] + h @ W[:, :H])
    r = sigmoid(x @ U[:, H : 2 * H] + b[H : 2 * H] + h @ W[:, H : 2 * H])
    h_tilde = np.tanh(x @ U[:, 2 * H :] + b[2 * H :] + (r * h) @ W[:, 2 * H :])
    want = z * h + (1 - z) * h_tilde
    cache = cell.allocate(1, B, np.float64)
    cache["gates"] = cell.project_inputs(x)[None].copy()
    (got,) = cell.forward_step(0, cache["gates"][0].copy(), (h,), h, cache)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)
    # the other formulation really is another one
    other = GRUCell(H)
    other.build(I, np.float64, rng)
    assert other.params["bias"].shape == (2, 3 * H) and "reset_after" not in other.get_config()


# ---- gradients -------------------------------------------------------------------------
OPTIONS = [
    {},
    {"return_sequences": True},
    {"go_backwards": True},
    {"go_backwards": True, "return_sequences": True},
    {"use_bias": False},
    {"activation": "relu", "recurrent_activation": "hard_sigmoid", "return_sequences": True},
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "default")
def test_gradients(options):
    errors = check_layer(gru(**options), rand(B, T, I))
    assert set(errors) >= {"x", "kernel", "recurrent_kernel"}
    assert_small(errors)


@pytest.mark.parametrize("mask", [post_mask, sparse_mask], ids=["packed", "unpacked"])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_gradients_with_mask(mask, go_backwards, return_sequences):
    layer = gru(go_backwards=go_backwards, return_sequences=return_sequences)
    assert_small(check_layer(layer, rand(B, T, I), forward_kwargs={"mask": mask()}))


def test_gradients_zero_output_for_mask():
    layer = gru(return_sequences=True, zero_output_for_mask=True)
    assert_small(check_layer(layer, rand(B, T, I), forward_kwargs={"mask": post_mask()}))


@pytest.mark.parametrize("return_sequences", [False, True])
def test_gradients_of_the_initial_state(return_sequences):
    layer = gru(return_state=True, return_sequences=return_sequences)
    init = [rand(B, H, seed=10) * 0.5]
    errors = check_layer(layer, rand(B, T, I), forward_kwargs={"initial_state": init})
    assert set(errors) >= {"x", "initial_state/0", "bias"}
    assert_small(errors)


@pytest.mark.parametrize("mask", [None, post_mask], ids=["unmasked", "masked"])
@pytest.mark.parametrize("dropout", [0.0, 0.4])
def test_gradients_with_recurrent_dropout(mask, dropout):
    layer = gru(dropout=dropout, recurrent_dropout=0.3, return_sequences=True)
    kwargs = {"training": True}
    if mask is not None:
        kwargs["mask"] = mask()

    def reseed():
        layer.rng = np.random.default_rng(7)

    assert_small(check_layer(layer, rand(B, T, I), forward_kwargs=kwargs, before_forward=reseed))
    reseed()
    out_train = layer.forward(rand(B, T, I), training=True)
    out_eval = layer.forward(rand(B, T, I), training=False)
    assert not np.allclose(out_train, out_eval)  # the masks were applied


@pytest.mark.parametrize("merge_mode", ["concat", "mul"])
@pytest.mark.parametrize("masked", [False, True])
def test_gradients_bidirectional(merge_mode, masked):
    layer = Bidirectional(
        GRU(H, reset_after=False, return_sequences=True, dtype="float64"),
        merge_mode=merge_mode,
        dtype="float64",
    )
    layer.ensure_built((T, I))
    for inner, seed in ((layer.forward_layer, 1), (layer.backward_layer, 2)):
        assert not inner.cell.reset_after
        inner.cell.params["bias"][...] = rand(3 * H, seed=seed) * 0.5
    kwargs = {"mask": post_mask()} if masked else {}
    assert_small(check_layer(layer, rand(B, T, I), forward_kwargs=kwargs))


# ---- the layer -------------------------------------------------------------------------
def test_streaming_steps_equal_the_sequence():
    layer = gru(return_sequences=True)
    x = rand(B, T, I, seed=4)
    h0 = rand(B, H, seed=5) * 0.5
    want = layer.forward(x, initial_state=[h0])
    states = [h0]
    for t in range(T):
        y, states = layer.step(x[:, t], states)
        np.testing.assert_allclose(y, want[:, t], rtol=1e-12, atol=1e-13)


def test_config_round_trips_and_reset_after_true_is_unchanged():
    layer = gru(return_sequences=True, go_backwards=True)
    config = layer.get_config()
    assert config["reset_after"] is False
    clone = layers.deserialize(layers.serialize(layer))
    assert isinstance(clone, GRU) and clone.cell.reset_after is False
    assert clone.get_config() == config
    clone.ensure_built((T, I))
    clone.set_weights(layer.get_weights())
    x = rand(B, T, I)
    np.testing.assert_array_equal(clone(x), layer(x))
    assert GRU.from_config(config).cell.bias_shape() == (3 * H,)
    # the default formulation's config is what it was before reset_after=False existed
    assert "reset_after" not in GRU(H).get_config()
    assert GRU.from_config(GRU(H).get_config()).cell.reset_after is True


@pytest.mark.parametrize("value", ["false", 0, None])
def test_reset_after_must_be_a_bool(value):
    with pytest.raises(TypeError, match=r"argument reset_after, expected a bool, got"):
        GRU(H, reset_after=value)


def test_weights_of_the_wrong_shape_are_refused():
    layer = gru()
    kernel, recurrent, _ = layer.get_weights()
    with pytest.raises(ValueError, match="bias"):
        layer.set_weights([kernel, recurrent, np.zeros((2, 3 * H))])


@pytest.mark.skipif(not kernels.available(), reason="numba is not usable here")
def test_the_compiled_loop_falls_back_and_says_so():
    previous = backend._accelerator
    backend.set_accelerator("numba")
    try:
        backend._warned.discard("reference:reset_after=False")
        layer = GRU(4, reset_after=False, return_sequences=True)
        x = np.ones((2, 3, 2), np.float32)
        with pytest.warns(RuntimeWarning, match="does not take reset_after=False"):
            y = layer(x)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # said once only
            layer(x)
        layer.backward(np.ones_like(y))
        ran = backend.kernel_info()["ran"]
        assert ran["GRUCell.forward"] == ran["GRUCell.backward"] == "reset_after=False"
        # the compiled loop still runs the default formulation
        new = GRU(4, return_sequences=True)
        new.backward(np.ones_like(new(x)))
        assert backend.kernel_info()["ran"]["GRUCell.forward"] == "numba-generic"
    finally:
        backend._accelerator = previous


def test_rnnkit_format_round_trip(tmp_path):
    model = Sequential(
        [
            Masking(0.0, input_shape=(T, I)),
            Bidirectional(GRU(H, reset_after=False, return_sequences=True)),
            GRU(2, reset_after=False, go_backwards=True),
            Dense(2),
        ]
    )
    rng = np.random.default_rng(8)
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape) for w in model.get_weights()])
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    x[1, -1] = 0.0
    model.save(tmp_path / "m.rnnkit")
    back = load_model(tmp_path / "m.rnnkit")
    assert back.layers[-2].cell.reset_after is False
    assert back.layers[-2].get_weights()[2].shape == (6,)
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))


# ---- Keras 3 ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras", reason="Keras 3 is not installed")


def keras_gru(keras, seed, **options):
    """A Keras reset_after=False GRU, built on (T, I) float32 input, random weights."""
    layer = keras.layers.GRU(H, reset_after=False, **options)
    layer.build((None, T, I))
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.uniform(-0.7, 0.7, w.shape).astype("float32") for w in layer.get_weights()]
    )
    return layer


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"return_sequences": True},
        {"go_backwards": True, "return_sequences": True},
        {"activation": "relu", "use_bias": False, "return_sequences": True},
    ],
    ids=lambda o: ",".join(o) or "default",
)
@pytest.mark.parametrize("masked", [False, True])
def test_predictions_equal_keras(keras, options, masked):
    theirs = keras_gru(keras, 11, **options)
    weights = theirs.get_weights()
    assert [w.shape for w in weights][-1] == (
        (3 * H,) if options.get("use_bias", True) else (H, 3 * H)
    )
    ours = GRU(H, reset_after=False, **options)
    ours.ensure_built((T, I))
    ours.set_weights(weights)
    x = rand(3, T, I, seed=12).astype("float32")
    mask = None
    if masked:
        mask = np.ones((3, T), bool)
        mask[1, -2:] = False  # post-padding
        mask[2, :1] = False  # pre-padding
    want = np.asarray(theirs(x, mask=mask))
    got = ours.forward(x, mask=mask)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_one_sgd_step_equals_keras(keras):
    if keras.backend.backend() == "numpy":
        pytest.skip("Keras runs on its NumPy backend in this process, which cannot train")
    rng = np.random.default_rng(13)
    x = rng.standard_normal((4, T, I)).astype("float32")
    y = rng.standard_normal((4, 2)).astype("float32")

    def build(k):
        return k.Sequential(
            [
                k.Input((T, I)),
                k.layers.GRU(H, reset_after=False, return_sequences=True),
                k.layers.GRU(H, reset_after=False, go_backwards=True),
                k.layers.Dense(2),
            ]
        )

    theirs = build(keras)
    start = [rng.uniform(-0.6, 0.6, w.shape).astype("float32") for w in theirs.get_weights()]
    theirs.set_weights(start)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    keras_loss = float(np.asarray(theirs.train_on_batch(x, y)))
    ours = build(rnnkit)
    ours.set_weights(start)
    ours.compile(optimizer=rnnkit.optimizers.SGD(0.1), loss="mse")
    our_loss = float(ours.train_on_batch(x, y))
    np.testing.assert_allclose(our_loss, keras_loss, rtol=1e-5)
    moved = False
    for a, b, s in zip(ours.get_weights(), theirs.get_weights(), start):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        moved = moved or not np.allclose(a, s)
    assert moved


@pytest.fixture(scope="module")
def keras_files_tests(keras):
    """The Keras file tests' helpers (seq_x, seq_model, save_both, assert_close,
    predict_keras)."""
    pytest.importorskip("h5py", reason="h5py is not installed (pip install rnnkit[keras])")
    from tests.interop import test_keras_files

    return test_keras_files


@pytest.mark.timeout(300)
def test_keras_files_both_ways(keras, keras_files_tests, tmp_path):
    kf, KL = keras_files_tests, keras.layers
    model = kf.seq_model(
        KL.Masking(0.0),
        KL.GRU(4, reset_after=False, return_sequences=True),
        KL.Bidirectional(KL.GRU(3, reset_after=False, return_sequences=True), merge_mode="sum"),
        KL.GRU(3, reset_after=False, go_backwards=True, recurrent_activation="tanh"),
        KL.Dense(2),
    )
    rng = np.random.default_rng(14)
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape) for w in model.get_weights()])
    x = kf.seq_x(rng)  # post- and pre-padded samples among them
    expected = kf.predict_keras(model, x)
    for path in kf.save_both(model, tmp_path, "old_gru"):
        loaded = load_model(path)
        gru_layers = [layer for layer in loaded.layers if isinstance(layer, GRU)]
        assert len(gru_layers) == 2 and all(not g.cell.reset_after for g in gru_layers)
        kf.assert_close(loaded.predict(x, verbose=0), expected, f"Keras -> rnnkit {path.suffix}")
        out = tmp_path / f"back{path.suffix}.keras"
        loaded.save(out)
        back = keras.saving.load_model(out, compile=False)
        assert back.layers[1].get_config()["reset_after"] is False
        kf.assert_close(kf.predict_keras(back, x), expected, f"rnnkit -> Keras {path.suffix}")


def test_a_model_built_in_rnnkit_opens_in_keras(keras, keras_files_tests, tmp_path):
    kf = keras_files_tests
    model = Sequential(
        [
            Embedding(9, 4, mask_zero=True, input_shape=(None,)),
            GRU(3, reset_after=False, return_sequences=True),
            GRU(2, reset_after=False),
        ]
    )
    rng = np.random.default_rng(15)
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape) for w in model.get_weights()])
    ids = rng.integers(1, 9, size=(3, 5))
    ids[0, 3:] = 0
    model.save(tmp_path / "m.keras")
    back = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    kf.assert_close(kf.predict_keras(back, ids), model.predict(ids, verbose=0), "rnnkit -> Keras")


# ---- ONNX --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def onnx_tests():
    """The ONNX export tests' helpers (session, run, assert_matches, padded_ids, floats)."""
    pytest.importorskip("onnx", reason="the onnx extra is not installed")
    pytest.importorskip("onnxruntime", reason="onnxruntime (a test dependency) is missing")
    from tests.interop import test_onnx_export

    return test_onnx_export


@pytest.mark.timeout(120)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_onnx_export(onnx_tests, tmp_path, go_backwards, return_sequences):
    ox = onnx_tests
    rng = np.random.default_rng(16)
    options = {"go_backwards": go_backwards, "return_sequences": return_sequences}
    plain = Sequential([GRU(5, reset_after=False, input_shape=(None, 3), **options)])
    sess = ox.session(plain, tmp_path, "plain.onnx")
    node = next(
        n for n in ox.onnx.load(str(tmp_path / "plain.onnx")).graph.node if n.op_type == "GRU"
    )
    assert {a.name: a.i for a in node.attribute}["linear_before_reset"] == 0
    for batch, steps in [(3, 9), (1, 1)]:
        ox.assert_matches(plain, sess, ox.floats(rng, batch, steps))
    masked = Sequential(
        [
            Embedding(ox.VOCAB, 4, mask_zero=True, input_shape=(None,)),
            GRU(5, reset_after=False, **options),
        ]
    )
    sess = ox.session(masked, tmp_path, "masked.onnx")
    ox.assert_matches(masked, sess, ox.padded_ids(rng, 6, 8))
    ox.assert_matches(masked, sess, rng.integers(1, ox.VOCAB, size=(3, 6)))  # unpadded


@pytest.mark.timeout(120)
@pytest.mark.parametrize("merge_mode", ["concat", "ave"])
def test_onnx_export_bidirectional(onnx_tests, tmp_path, merge_mode):
    ox = onnx_tests
    rng = np.random.default_rng(17)
    model = Sequential(
        [
            Embedding(ox.VOCAB, 3, mask_zero=True, input_shape=(None,)),
            Bidirectional(GRU(4, reset_after=False, return_sequences=True), merge_mode=merge_mode),
            GRU(3, reset_after=False),
        ]
    )
    sess = ox.session(model, tmp_path)
    ox.assert_matches(model, sess, ox.padded_ids(rng, 6, 7))
    ox.assert_matches(model, sess, rng.integers(1, ox.VOCAB, size=(3, 12)))


def test_onnx_export_of_the_bias():
    """The Keras single bias goes to ONNX's input bias Wb; the recurrent bias Rb is 0."""
    from rnnkit.interop._onnx_recurrent import onnx_weights

    layer = gru()
    w, r, b = onnx_weights(layer.cell)
    assert w.shape == (3 * H, I) and r.shape == (3 * H, H) and b.shape == (6 * H,)
    np.testing.assert_allclose(b[: 3 * H], layer.cell.params["bias"], rtol=1e-6)
    assert not b[3 * H :].any()


# ---- PyTorch -------------------------------------------------------------------------------
def test_pytorch_weights_are_refused_by_name():
    from rnnkit.interop.torch_weights import load_torch_weights

    layer = gru()
    before = [w.copy() for w in layer.get_weights()]
    state = {
        "weight_ih_l0": np.zeros((3 * H, I)),
        "weight_hh_l0": np.zeros((3 * H, H)),
        "bias_ih_l0": np.zeros(3 * H),
        "bias_hh_l0": np.zeros(3 * H),
    }
    with pytest.raises(ValueError, match=r"'gru'.*reset_after=False.*reset_after=True"):
        load_torch_weights(layer, state)
    for a, b in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(a, b)

"""Keras files in and out: Keras 3 builds and saves a model of each supported kind in
both of its formats, ``.keras`` and legacy ``.h5``; rnnkit loads each and predicts what
Keras does to 1e-5; rnnkit saves each back as ``.keras`` and Keras 3 loads that and
predicts the same. Bad files give errors naming the file and the part.

The files do not depend on Keras's backend: Keras runs on JAX (the suite's backend;
the first in a process fixes it for every test module), or on what KERAS_BACKEND says
(``KERAS_BACKEND=numpy``, inference without compilation, runs this module in a fraction
of the time).
"""

from __future__ import annotations

import os
import sys
import zipfile

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
h5py = pytest.importorskip("h5py", reason="h5py is not installed (pip install rnnkit[keras])")
keras = pytest.importorskip("keras", reason="Keras 3 is not installed")

import rnnkit  # noqa: E402
from rnnkit import layers as rl  # noqa: E402
from rnnkit.interop import keras_files  # noqa: E402
from rnnkit.models import Input, Model, Sequential, load_model  # noqa: E402

if int(keras.__version__.split(".")[0]) < 3:
    pytest.skip("these tests need Keras 3", allow_module_level=True)

KL = keras.layers
TOL = 1e-5
B, T, F, V = 4, 6, 3, 12


def seq_x(rng):
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    x[0, 4:] = 0.0  # post-padding for the Masking cases
    x[1, :2] = 0.0  # pre-padding
    return x


def ids_x(rng):
    ids = rng.integers(1, V, size=(B, T))
    ids[0, 4:] = 0  # post-padding
    ids[1, :3] = 0  # pre-padding
    return ids


def seq_model(*layers, ids=False):
    shape = (None,) if ids else (T, F)
    return keras.Sequential([keras.Input(shape, dtype="int32" if ids else "float32"), *layers])


def encoder_decoder():
    enc_in = keras.Input((None,), dtype="int32")
    emb = KL.Embedding(V, 5, mask_zero=True)(enc_in)
    _, h, c = KL.LSTM(4, return_state=True)(emb)
    dec_in = keras.Input((None, F))
    dec = KL.LSTM(4, return_sequences=True)(dec_in, initial_state=[h, c])
    out = KL.TimeDistributed(KL.Dense(V, activation="softmax"))(dec)
    return keras.Model([enc_in, dec_in], out), lambda rng: [ids_x(rng), seq_x(rng)]


def merges_and_two_outputs():
    inp = keras.Input((T, F))
    fwd, bwd = KL.Bidirectional(KL.GRU(3, return_sequences=True), merge_mode=None)(inp)
    joined = KL.Concatenate()([fwd, bwd])
    pooled = KL.GlobalMaxPooling1D()(joined)
    last = KL.SimpleRNN(6, activation="relu")(inp)
    added = KL.Add()([KL.Dense(6)(pooled), last])
    return keras.Model(inp, [KL.Dense(2, activation="sigmoid")(added), KL.Dense(1)(last)]), seq_x


def bidirectional_states():
    inp = keras.Input((T, F))
    out, hf, cf, hb, cb = KL.Bidirectional(KL.LSTM(3, return_state=True), merge_mode="ave")(inp)
    return keras.Model(inp, KL.Concatenate()([out, hf, cb])), seq_x


CASES = {
    "simple_rnn_tanh_relu_time_distributed": lambda: (
        seq_model(
            KL.SimpleRNN(5, return_sequences=True),
            KL.SimpleRNN(4, activation="relu", return_sequences=True),
            KL.TimeDistributed(KL.Dense(3, activation="softmax")),
        ),
        seq_x,
    ),
    "stacked_lstm_go_backwards": lambda: (
        seq_model(
            KL.LSTM(5, return_sequences=True),
            KL.LSTM(3, go_backwards=True, return_sequences=True),
            KL.Dense(2, activation="tanh"),
        ),
        seq_x,
    ),
    "gru_dropout_activation": lambda: (
        seq_model(
            KL.GRU(4, return_sequences=True, dropout=0.2, recurrent_dropout=0.1),
            KL.SpatialDropout1D(0.3),
            KL.GRU(3),
            KL.Dropout(0.5),
            KL.Activation("sigmoid"),
        ),
        seq_x,
    ),
    "bidirectional_every_merge_mode": lambda: (
        seq_model(
            KL.Bidirectional(KL.LSTM(3, return_sequences=True), merge_mode="concat"),
            KL.Bidirectional(KL.GRU(3, return_sequences=True), merge_mode="sum"),
            KL.Bidirectional(KL.SimpleRNN(2, return_sequences=True), merge_mode="mul"),
            KL.Bidirectional(KL.GRU(2), merge_mode="ave"),
        ),
        seq_x,
    ),
    "embedding_mask_zero_bidirectional_pooling": lambda: (
        seq_model(
            KL.Embedding(V, 5, mask_zero=True),
            KL.Bidirectional(KL.GRU(3, return_sequences=True)),
            KL.GlobalAveragePooling1D(),
            KL.Dense(2),
            ids=True,
        ),
        ids_x,
    ),
    "masking_lstm_seq": lambda: (
        seq_model(KL.Masking(0.0), KL.LSTM(4, return_sequences=True), KL.Dense(2)),
        seq_x,
    ),
    "repeat_vector_flatten": lambda: (
        seq_model(
            KL.LSTM(4),
            KL.RepeatVector(3),
            KL.SimpleRNN(2, return_sequences=True, go_backwards=True),
            KL.Flatten(),
            KL.Dense(3, activation="softmax"),
        ),
        seq_x,
    ),
    "functional_encoder_decoder": encoder_decoder,
    "functional_merges_two_outputs": merges_and_two_outputs,
    "functional_bidirectional_states": bidirectional_states,
}


def predict_keras(model, x):
    out = model.predict(x, verbose=0)
    return [np.asarray(o) for o in out] if isinstance(out, list) else np.asarray(out)


def assert_close(a, b, what):
    if isinstance(b, list):
        assert isinstance(a, list) and len(a) == len(b), what
        for ai, bi in zip(a, b):
            assert_close(ai, bi, what)
        return
    assert np.shape(a) == np.shape(b), f"{what}: shapes {np.shape(a)} and {np.shape(b)}"
    err = float(np.max(np.abs(np.asarray(a, np.float64) - b)))
    assert err < TOL, f"{what}: max abs difference {err:.2e}"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Every case built in Keras with random weights (biases too), saved as .keras and
    .h5, with its input and Keras's predictions."""
    folder = tmp_path_factory.mktemp("keras_models")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    out = {}
    for name, build in CASES.items():
        model, make_x = build()
        model.set_weights([rng.uniform(-0.6, 0.6, w.shape) for w in model.get_weights()])
        x = make_x(rng)
        paths = {}
        for ext in ("keras", "h5"):
            paths[ext] = folder / f"{name}.{ext}"
            model.save(paths[ext])
        out[name] = (paths, x, predict_keras(model, x))
    return out


@pytest.mark.timeout(900)
@pytest.mark.parametrize("fmt", ["keras", "h5"])
@pytest.mark.parametrize("case", list(CASES))
def test_rnnkit_reads_keras_files(saved, case, fmt):
    paths, x, expected = saved[case]
    model = load_model(paths[fmt])
    assert isinstance(model, Model if case.startswith("functional") else Sequential)
    assert_close(model.predict(x, verbose=0), expected, f"{case} from .{fmt}")


@pytest.mark.timeout(900)
@pytest.mark.parametrize("case", list(CASES))
def test_keras_reads_what_rnnkit_writes(saved, case, tmp_path):
    paths, x, expected = saved[case]
    model = load_model(paths["keras"])
    out = tmp_path / f"{case}.keras"
    model.save(out)
    back = keras.saving.load_model(out, compile=False)
    assert_close(predict_keras(back, x), expected, f"{case} rnnkit -> Keras")
    assert_close(load_model(out).predict(x, verbose=0), expected, f"{case} rnnkit -> rnnkit")


@pytest.mark.timeout(900)
def test_models_built_in_rnnkit_open_in_keras(tmp_path):
    rng = np.random.default_rng(5)
    seq = Sequential(
        [
            rl.Embedding(V, 4, mask_zero=True, input_shape=(None,)),
            rl.Bidirectional(rl.LSTM(3, return_sequences=True, zero_output_for_mask=True)),
            rl.LSTM(3),
            rl.Dense(2, activation="softmax"),
        ]
    )
    tokens = Input((None,))
    _, h = rl.GRU(4, return_state=True)(rl.Embedding(V, 3)(tokens))
    frames = Input((T, F))
    dec = rl.SimpleRNN(4, return_sequences=True)(frames, initial_state=[h])
    func = Model([tokens, frames], rl.Dense(2)(rl.GlobalAveragePooling1D()(dec)))
    for model, x in ((seq, ids_x(rng)), (func, [ids_x(rng), seq_x(rng)])):
        model.set_weights([rng.uniform(-0.6, 0.6, w.shape) for w in model.get_weights()])
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        back = keras.saving.load_model(path, compile=False)
        assert_close(predict_keras(back, x), model.predict(x, verbose=0), model.name)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("case", ["stacked_lstm_go_backwards", "functional_encoder_decoder"])
def test_weights_files_both_ways(saved, case, tmp_path):
    """Keras 3's ``.weights.h5`` read into an rnnkit model, an rnnkit model's written
    into a fresh Keras model of the same architecture; a legacy .h5 model file's
    weights read with load_weights."""
    paths, x, expected = saved[case]
    keras_model = keras.saving.load_model(paths["keras"], compile=False)
    keras_model.save_weights(tmp_path / "keras.weights.h5")
    model = load_model(paths["keras"])
    for source in (tmp_path / "keras.weights.h5", paths["h5"]):
        model.set_weights([np.zeros_like(w) for w in model.get_weights()])
        model.load_weights(source)
        assert_close(model.predict(x, verbose=0), expected, f"{case}: weights from {source.name}")
    model.save_weights(tmp_path / "rnnkit.weights.h5")
    fresh, _ = CASES[case]()  # other layer names, other random weights
    fresh.load_weights(tmp_path / "rnnkit.weights.h5")
    assert_close(predict_keras(fresh, x), expected, f"{case}: rnnkit weights in Keras")
    with pytest.raises(ValueError, match="other.weights.h5.*(shape|no weights)"):
        other = Sequential([rl.LSTM(2, input_shape=(T, F))])
        other.save_weights(tmp_path / "other.weights.h5")
        model.load_weights(tmp_path / "other.weights.h5")


def test_rnnkit_format_still_written_under_its_own_name(tmp_path):
    model = Sequential([rl.LSTM(3, input_shape=(T, F)), rl.Dense(2)])
    x = seq_x(np.random.default_rng(1))
    model.save(tmp_path / "m.rnnkit")
    assert (
        not zipfile.is_zipfile(tmp_path / "m.rnnkit")
        or "config.json" not in zipfile.ZipFile(tmp_path / "m.rnnkit").namelist()
    )
    np.testing.assert_array_equal(
        load_model(tmp_path / "m.rnnkit").predict(x, verbose=0), model.predict(x, verbose=0)
    )


# ---- what rnnkit refuses ---------------------------------------------------------------
def save_both(model, folder, name):
    paths = []
    for ext in ("keras", "h5"):
        path = folder / f"{name}.{ext}"
        model.save(path)
        paths.append(path)
    return paths


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: seq_model(KL.UpSampling1D(2)), r"UpSampling1D"),
        (
            lambda: seq_model(
                KL.LSTM(2, kernel_regularizer=keras.regularizers.OrthogonalRegularizer(0.1))
            ),
            r"kernel_regularizer",
        ),
        (lambda: seq_model(KL.GRU(2, activation="gelu")), r"gelu"),
        (
            lambda: seq_model(
                KL.Masking(), KL.LSTM(2, return_sequences=True), KL.GlobalMaxPooling1D()
            ),
            r"GlobalMaxPooling1D",
        ),
    ],
    ids=["unknown_layer", "regularizer", "activation", "masked_max_pooling"],
)
def test_layers_and_options_rnnkit_lacks_are_named(tmp_path, build, match):
    for path in save_both(build(), tmp_path, "m"):
        with pytest.raises(ValueError, match=match) as info:
            load_model(path)
        assert str(path) in str(info.value)


def random_weights(model, rng):
    """Random weights for every variable; positive moving variances."""
    model.set_weights(
        [
            rng.uniform(0.5, 1.5, v.shape)
            if "variance" in v.path
            else rng.uniform(-0.6, 0.6, v.shape)
            for v in model.weights
        ]
    )


@pytest.mark.timeout(900)
def test_convolution_pooling_normalization_read_and_written_or_refused(tmp_path):
    """Conv1D, MaxPooling1D, AveragePooling1D, BatchNormalization, ReLU, LayerNormalization:
    read and written where rnnkit has them, predicting what Keras does; refused by
    name where it has not."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((B, 12, F)).astype(np.float32)
    model = keras.Sequential(
        [
            keras.Input((12, F)),
            KL.Conv1D(4, 3, padding="same", dilation_rate=2, activation="relu"),
            KL.MaxPooling1D(2),
            KL.BatchNormalization(),
            KL.ReLU(),
            KL.LSTM(3, return_sequences=True),
            KL.LayerNormalization(),
            KL.AveragePooling1D(2, strides=1),
            KL.Flatten(),
            KL.Dense(2),
        ]
    )
    random_weights(model, rng)
    expected = predict_keras(model, x)
    have = all(hasattr(rl, n) for n in ("Conv1D", "MaxPooling1D", "BatchNormalization", "ReLU"))
    for path in save_both(model, tmp_path, "conv"):
        if not have:
            with pytest.raises(ValueError, match="Conv1D.*not supported") as info:
                load_model(path)
            assert str(path) in str(info.value)
            continue
        loaded = load_model(path)
        assert_close(loaded.predict(x, verbose=0), expected, f"conv from {path.suffix}")
        out = tmp_path / f"back{path.suffix}.keras"
        loaded.save(out)
        back = keras.saving.load_model(out, compile=False)
        assert_close(predict_keras(back, x), expected, "conv rnnkit -> Keras")


def test_regularizers_and_constraints_both_ways(tmp_path):
    rng = np.random.default_rng(6)
    x = seq_x(rng)
    model = seq_model(
        KL.LSTM(
            3,
            kernel_regularizer=keras.regularizers.L2(0.02),
            recurrent_constraint=keras.constraints.MaxNorm(1.5),
            bias_regularizer=keras.regularizers.L1L2(l1=0.01, l2=0.03),
        ),
        KL.Dense(2, kernel_constraint=keras.constraints.NonNeg(), activity_regularizer="l1"),
    )
    random_weights(model, rng)
    path = save_both(model, tmp_path, "reg")[0]
    loaded = load_model(path)
    lstm, dense = loaded.layers
    approx = pytest.approx  # Keras keeps the factors in float32
    assert lstm.weight_regularizers["kernel"].get_config() == approx({"l2": 0.02})
    assert lstm.weight_regularizers["bias"].get_config() == approx({"l1": 0.01, "l2": 0.03})
    assert lstm.weight_constraints["recurrent_kernel"].get_config()["max_value"] == 1.5
    assert type(dense.weight_constraints["kernel"]).__name__ == "NonNeg"
    assert dense.activity_regularizer.get_config() == approx({"l1": 0.01})
    assert_close(loaded.predict(x, verbose=0), predict_keras(model, x), "regularized")
    loaded.save(tmp_path / "back.keras")
    back = keras.saving.load_model(tmp_path / "back.keras", compile=False)
    config = back.layers[0].get_config()
    assert config["kernel_regularizer"]["config"]["l2"] == pytest.approx(0.02)
    assert config["recurrent_constraint"]["class_name"] == "MaxNorm"
    assert back.layers[1].get_config()["kernel_constraint"]["class_name"] == "NonNeg"
    assert_close(predict_keras(back, x), predict_keras(model, x), "regularized, back")


def test_options_rnnkit_may_lack_are_refused_or_match(tmp_path):
    """GRU reset_after=False and Keras 3's hard_sigmoid: either rnnkit implements them
    and predicts the same, or it says which option and file it cannot read."""
    rng = np.random.default_rng(2)
    x = seq_x(rng)
    for layer, what in (
        (KL.GRU(3, reset_after=False), "reset_after"),
        (KL.LSTM(3, recurrent_activation="hard_sigmoid"), "hard_sigmoid"),
    ):
        model = seq_model(layer)
        model.set_weights([rng.uniform(-0.6, 0.6, w.shape) for w in model.get_weights()])
        path = save_both(model, tmp_path, what)[0]
        try:
            loaded = load_model(path)
        except ValueError as exc:
            assert what in str(exc) and str(path) in str(exc)
        else:
            assert_close(loaded.predict(x, verbose=0), predict_keras(model, x), what)


@pytest.fixture(scope="module")
def small_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small")
    model = seq_model(KL.LSTM(3), KL.Dense(2))
    return save_both(model, folder, "small")


def test_bad_files_name_the_file_and_the_part(small_files, tmp_path):
    keras_path, h5_path = small_files
    data = h5_path.read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated.h5"):
        load_model(truncated)
    data = keras_path.read_bytes()
    cut = tmp_path / "cut.keras"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.keras"):
        load_model(cut)
    text = tmp_path / "text.keras"
    text.write_text("not a model")
    with pytest.raises(ValueError, match="text.keras.*not a Keras .keras archive"):
        load_model(text)
    own = tmp_path / "own.keras"  # rnnkit's own format (also a zip) under a Keras name
    model = Sequential([rl.Dense(2, input_shape=(3,))])
    rnnkit.models.saving._write_npz(own, {"w/0": np.zeros(2)})
    with pytest.raises(ValueError, match="own.keras.*no config.json"):
        load_model(own)
    with pytest.raises(FileNotFoundError, match="absent.keras"):
        load_model(tmp_path / "absent.keras")
    assert model is not None


def text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def test_tampered_weights_and_oversized_members(small_files, tmp_path, monkeypatch):
    keras_path, h5_path = small_files
    bad = tmp_path / "bad.h5"
    bad.write_bytes(h5_path.read_bytes())
    with h5py.File(bad, "r+") as f:
        names = [text(n) for n in f["model_weights"].attrs["layer_names"]]
        dense = [n for n in names if "dense" in n][0]
        group = f["model_weights"][dense]
        name = text(group.attrs["weight_names"][0])
        del group[name]
        group.create_dataset(name, data=np.zeros((5, 2), np.float32))
    with pytest.raises(ValueError, match=r"bad.h5.*shape \(5, 2\).*\(3, 2\)"):
        load_model(bad)
    with h5py.File(bad, "r+") as f:
        del f["model_weights"][dense][name]
        f["model_weights"][dense].create_dataset(name, shape=(3, 2), dtype="f4")
    with pytest.raises(ValueError, match=r"bad.h5.*stores 0 bytes for 24"):
        load_model(bad)  # a dataset declared and never written
    with h5py.File(bad, "r+") as f:
        del f["model_weights"][dense][name]
    with pytest.raises(ValueError, match="bad.h5.*lacks weights"):
        load_model(bad)
    huge = tmp_path / "huge.h5"  # a config asking for more than the file holds
    huge.write_bytes(h5_path.read_bytes())
    with h5py.File(huge, "r+") as f:
        config = text(f.attrs["model_config"]).replace('"units": 3', '"units": 3000000')
        f.attrs["model_config"] = config
    with pytest.raises(ValueError, match="huge.h5.*units=3000000.*exceeds"):
        load_model(huge)
    bomb = tmp_path / "bomb.keras"  # a few KiB that would expand to 8 MiB
    with zipfile.ZipFile(keras_path) as src, zipfile.ZipFile(bomb, "w") as out:
        out.writestr("config.json", src.read("config.json"))
        out.writestr("model.weights.h5", bytes(8 << 20), compress_type=zipfile.ZIP_DEFLATED)
    with pytest.raises(ValueError, match="bomb.keras.*model.weights.h5 would expand"):
        load_model(bomb)
    monkeypatch.setattr(keras_files, "MAX_MEMBERS", 2)
    with pytest.raises(ValueError, match="small.keras.*lists 3 entries"):
        load_model(keras_path)
    monkeypatch.setattr(keras_files, "MAX_MEMBERS", 10_000)
    monkeypatch.setattr(keras_files, "MAX_CONFIG_BYTES", 100)
    with pytest.raises(ValueError, match="config.json declares"):
        load_model(keras_path)


def test_saving_refuses_what_keras_cannot_read(tmp_path):
    model = Sequential([rl.LSTM(3, input_shape=(T, F)), rl.Dense(2)])
    with pytest.raises(ValueError, match=r"\.keras.*\.rnnkit"):
        model.save(tmp_path / "m.h5")
    assert not (tmp_path / "m.h5").exists()
    pooled = Sequential(
        [rl.LSTM(3, return_sequences=True, input_shape=(T, F)), rl.GlobalMaxAveragePooling1D()]
    )
    with pytest.raises(ValueError, match="GlobalMaxAveragePooling1D.*no Keras counterpart"):
        pooled.save(tmp_path / "p.keras")
    dirty = Sequential(
        [rl.Masking(input_shape=(T, F)), rl.Bidirectional(rl.LSTM(3, return_sequences=True))]
    )
    with pytest.raises(ValueError, match="zero_output_for_mask"):
        dirty.save(tmp_path / "d.keras")
    assert not any(tmp_path.iterdir())


def test_without_h5py_the_error_names_the_extra(small_files, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"rnnkit\[keras\]"):
        load_model(small_files[0])

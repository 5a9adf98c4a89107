"""ONNX export: every exported graph passes onnx.checker, and onnxruntime's outputs equal
rnnkit's predict to 1e-5 (float32) at batch and time sizes other than the ones the
model was built or run with; masks of every pattern (post-, pre-padding, holes, all
masked) reproduce Keras's carried states; the state inputs and outputs stream; what
cannot be exported raises before any file is written."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime (a test dependency) is missing")

from rnnkit import activations  # noqa: E402
from rnnkit.interop.onnx import export_onnx  # noqa: E402
from rnnkit.layers import (  # noqa: E402
    GRU,
    LSTM,
    Activation,
    Add,
    BahdanauAttention,
    Bidirectional,
    Concatenate,
    Dense,
    DotAttention,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    GlobalMaxAveragePooling1D,
    GlobalMaxPooling1D,
    Layer,
    Masking,
    RepeatVector,
    SimpleRNN,
    SpatialDropout1D,
    TiedDense,
    TimeDistributed,
)
from rnnkit.models import Input, Model, Sequential  # noqa: E402

pytestmark = pytest.mark.timeout(60)

ATOL = 1e-5
VOCAB = 17
RECURRENT = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}


@pytest.fixture(autouse=True)
def _reference_loop(request):
    """rnnkit's NumPy reference loop, the definition the export reproduces, for every
    test but the one that takes the ``accelerator`` fixture (it also runs the compiled
    loops, which their own tests hold to the reference): compiling the kernels for
    every dtype and option here would cost more than the export tests themselves."""
    from rnnkit import backend

    if "accelerator" in request.fixturenames:
        yield
        return
    previous = backend._accelerator
    backend.set_accelerator("numpy")
    yield
    backend._accelerator = previous


def session(model, tmp_path, name="model.onnx"):
    """Export ``model`` through its public method, check the file, open it. The weights
    are shaken first: the biases start at zero, where a misplaced one would not show."""
    rng = np.random.default_rng(99)
    for weight_name, w in model.weights():
        if weight_name.endswith("moving_variance"):  # a variance stays positive
            w[...] = rng.uniform(0.5, 2.0, size=w.shape)
        else:
            w += rng.normal(scale=0.3, size=w.shape).astype(w.dtype)
    path = tmp_path / name
    model.export(path)
    onnx.checker.check_model(str(path), full_check=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3  # (the state inputs' defaults make a warning)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run(sess, xs, extra=None):
    """All outputs of ``sess`` for the model inputs ``xs`` (the graph's first inputs)."""
    xs = xs if isinstance(xs, list) else [xs]
    feeds = {}
    for meta, x in zip(sess.get_inputs(), xs):
        feeds[meta.name] = x.astype(np.int64 if meta.type == "tensor(int64)" else np.float32)
    feeds.update(extra or {})
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def assert_matches(model, sess, xs):
    expected = model.predict(xs, batch_size=64)
    expected = expected if isinstance(expected, list) else [expected]
    got = run(sess, xs)
    names = ["output"] if len(expected) == 1 else [f"output_{k}" for k in range(len(expected))]
    for name, want in zip(names, expected):
        assert got[name].shape == want.shape, name
        np.testing.assert_allclose(got[name], want, rtol=0, atol=ATOL, err_msg=name)


def padded_ids(rng, batch, steps):
    """Token ids with every padding pattern: none, post, pre, holes, all padding."""
    ids = rng.integers(1, VOCAB, size=(batch, steps))
    ids[1, steps // 2 :] = 0  # post-padding (sequence_lens's own case)
    ids[2, : steps - 2] = 0  # pre-padding (Keras's pad_sequences default)
    ids[3, 1::3] = 0  # holes
    ids[4] = 0  # nothing kept: the initial state throughout
    return ids


def floats(rng, batch, steps, features=3):
    return rng.normal(size=(batch, steps, features)).astype(np.float32)


# ---- recurrent layers: every option, masked and not ------------------------------------
@pytest.mark.parametrize("kind", sorted(RECURRENT))
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_recurrent_layer(tmp_path, kind, go_backwards, return_sequences, masked):
    rng = np.random.default_rng(0)
    options = {"go_backwards": go_backwards, "return_sequences": return_sequences}
    if masked:
        layer = RECURRENT[kind](5, **options)
        model = Sequential([Embedding(VOCAB, 4, mask_zero=True, input_shape=(None,)), layer])
        model.predict(padded_ids(rng, 6, 8))  # run at one size, checked at others
        sess = session(model, tmp_path)
        for batch, steps in [(7, 11), (5, 3)]:
            assert_matches(model, sess, padded_ids(rng, batch, steps))
        assert_matches(model, sess, rng.integers(1, VOCAB, size=(3, 6)))  # unpadded
    else:
        model = Sequential([RECURRENT[kind](5, input_shape=(None, 3), **options)])
        model.predict(floats(rng, 2, 4))
        sess = session(model, tmp_path)
        for batch, steps in [(3, 9), (1, 1), (4, 2)]:
            assert_matches(model, sess, floats(rng, batch, steps))


@pytest.mark.parametrize("kind", sorted(RECURRENT))
def test_return_state_and_zero_output_for_mask(tmp_path, kind):
    rng = np.random.default_rng(1)
    tokens = Input(shape=(None,))
    x = Embedding(VOCAB, 4, mask_zero=True)(tokens)
    outs = RECURRENT[kind](6, return_sequences=True, return_state=True, zero_output_for_mask=True)(
        x
    )
    model = Model(tokens, list(outs))
    sess = session(model, tmp_path)
    assert_matches(model, sess, padded_ids(rng, 6, 9))
    assert_matches(model, sess, rng.integers(1, VOCAB, size=(2, 4)))


# (a first compilation of the kernels on a busy machine can take a minute)
@pytest.mark.timeout(300)
def test_stacked_layers_with_masks_and_per_step_dense(tmp_path, accelerator):
    rng = np.random.default_rng(2)
    model = Sequential(
        [
            Embedding(VOCAB, 5, mask_zero=True, input_shape=(None,)),
            SpatialDropout1D(0.3),
            LSTM(6, return_sequences=True),
            Dropout(0.2),
            TimeDistributed(Dense(4, activation="tanh")),  # passes the mask on
            GRU(5, return_sequences=True, go_backwards=True),
            SimpleRNN(4, return_sequences=True),
            Dense(3, activation="softmax"),  # per step on 3-D input
        ]
    )
    sess = session(model, tmp_path)
    assert_matches(model, sess, padded_ids(rng, 6, 10))
    assert_matches(model, sess, rng.integers(1, VOCAB, size=(2, 3)))


@pytest.mark.parametrize(
    "kind, options",
    [
        ("SimpleRNN", {"activation": "relu"}),
        ("SimpleRNN", {"activation": "linear", "use_bias": False}),
        ("SimpleRNN", {"activation": "sigmoid"}),
        ("LSTM", {"recurrent_activation": "hard_sigmoid"}),
        ("LSTM", {"activation": "relu", "use_bias": False}),
        ("GRU", {"activation": "relu", "recurrent_activation": "hard_sigmoid"}),
        ("GRU", {"use_bias": False}),
        ("LSTM", {"dropout": 0.3, "recurrent_dropout": 0.3}),  # the identity at inference
    ],
)
def test_activations_and_bias(tmp_path, kind, options):
    rng = np.random.default_rng(3)
    layer = RECURRENT[kind](5, return_sequences=True, input_shape=(None, 3), **options)
    model = Sequential([layer])
    for p in layer.params.values():  # biases away from zero, so that they count
        p += rng.normal(scale=0.3, size=p.shape).astype(p.dtype)
    assert_matches(model, session(model, tmp_path), floats(rng, 4, 7) * 2)


# ---- Bidirectional ------------------------------------------------------------------------
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_bidirectional(tmp_path, merge_mode, return_sequences, kind):
    rng = np.random.default_rng(4)
    layer = RECURRENT[kind](4, return_sequences=return_sequences)
    model = Sequential(
        [
            Embedding(VOCAB, 3, mask_zero=True, input_shape=(None,)),
            Bidirectional(layer, merge_mode=merge_mode),
        ]
    )
    sess = session(model, tmp_path)
    assert_matches(model, sess, padded_ids(rng, 6, 7))
    assert_matches(model, sess, rng.integers(1, VOCAB, size=(3, 12)))
    ops = [n.op_type for n in onnx.load(str(tmp_path / "model.onnx")).graph.node]
    assert ops.count(kind) == 1  # one operator, direction="bidirectional"


def test_bidirectional_merge_none_return_state_and_backwards_forward_layer(tmp_path):
    rng = np.random.default_rng(5)
    tokens = Input(shape=(None,))
    x = Embedding(VOCAB, 3, mask_zero=True)(tokens)
    both = Bidirectional(SimpleRNN(4, return_sequences=True), merge_mode=None)(x)
    y, h_f, c_f, h_b, c_b = Bidirectional(LSTM(3, return_state=True))(x)
    # a forward layer that reads backwards: two operators, each in its own direction
    z = Bidirectional(GRU(3, return_sequences=True, go_backwards=True))(x)
    model = Model(tokens, [both[0], both[1], y, h_f, c_f, h_b, c_b, z])
    sess = session(model, tmp_path)
    assert_matches(model, sess, padded_ids(rng, 6, 8))
    assert_matches(model, sess, rng.integers(1, VOCAB, size=(2, 5)))


# ---- the other layers ---------------------------------------------------------------------
def test_masking_and_pooling(tmp_path):
    rng = np.random.default_rng(6)
    inp = Input(shape=(None, 3))
    masked = Masking(0.0)(inp)
    seq = GRU(4, return_sequences=True)(masked)
    pooled = [
        GlobalMaxPooling1D()(seq),
        GlobalAveragePooling1D()(seq),
        GlobalMaxAveragePooling1D()(seq),
        GlobalAveragePooling1D()(Dense(2)(inp)),  # unmasked
        GlobalMaxPooling1D()(inp),
    ]
    model = Model(inp, pooled + [Activation("tanh")(masked)])
    sess = session(model, tmp_path)
    x = floats(rng, 5, 9)
    x[1, 5:] = 0.0
    x[2, :4] = 0.0
    x[3, 2] = 0.0
    x[4] = 0.0
    assert_matches(model, sess, x)
    assert_matches(model, sess, floats(rng, 2, 3))


def test_time_distributed_repeat_vector_flatten(tmp_path):
    rng = np.random.default_rng(7)
    model = Sequential(
        [
            LSTM(6, input_shape=(None, 3)),
            RepeatVector(4),
            GRU(5, return_sequences=True),
            TimeDistributed(Dense(2, activation="sigmoid")),
            Flatten(),
            Dense(3, activation="hard_sigmoid"),
        ]
    )
    sess = session(model, tmp_path)
    assert_matches(model, sess, floats(rng, 3, 9))
    assert_matches(model, sess, floats(rng, 5, 2))


@pytest.mark.parametrize(
    "padding, strides, dilation",
    [
        ("valid", 1, 1),
        ("same", 2, 1),
        ("causal", 1, 2),
        ("same", 1, 3),
        ("same", 3, 2),
        ("valid", 2, 2),
    ],
)
def test_convolution_pooling_normalization(tmp_path, padding, strides, dilation):
    """Keras 3's time-series classifier's layers around an LSTM: Conv1D, pooling over
    windows, BatchNormalization (its moving statistics) and LayerNormalization."""
    from rnnkit.layers import (
        AveragePooling1D,
        BatchNormalization,
        Conv1D,
        LayerNormalization,
        MaxPooling1D,
    )

    rng = np.random.default_rng(14)
    pool = "same" if padding == "same" else "valid"
    model = Sequential(
        [
            Conv1D(
                6,
                3,
                strides=strides,
                padding=padding,
                dilation_rate=dilation,
                activation="relu",
                input_shape=(None, 3),
            ),
            BatchNormalization(),
            MaxPooling1D(2, strides=1, padding=pool),
            AveragePooling1D(3, strides=2, padding=pool),
            LayerNormalization(),
            LSTM(4, return_sequences=True),
            LayerNormalization(center=False, scale=False),
            GlobalAveragePooling1D(),
        ]
    )
    sess = session(model, tmp_path)
    for batch, steps in [(3, 17), (2, 12), (4, 25)]:
        assert_matches(model, sess, floats(rng, batch, steps))


def test_tied_dense_language_model(tmp_path):
    rng = np.random.default_rng(8)
    emb = Embedding(VOCAB, 6, input_shape=(None,))
    model = Sequential([emb, LSTM(6, return_sequences=True), TiedDense(emb)])
    sess = session(model, tmp_path)
    assert_matches(model, sess, rng.integers(0, VOCAB, size=(3, 7)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: DotAttention(),
        lambda: DotAttention("general", scale=True),
        lambda: BahdanauAttention(5),
    ],
)
def test_attention_encoder_decoder(tmp_path, make):
    """An encoder-decoder: the encoder's states are the decoder's initial states (no
    state inputs for it), attention over the masked encoder outputs, Concatenate and
    Add, and a single-query attention."""
    rng = np.random.default_rng(9)
    src, tgt = Input(shape=(None,), name="source"), Input(shape=(None,), name="target")
    enc_seq, h, c = LSTM(6, return_sequences=True, return_state=True)(
        Embedding(VOCAB, 4, mask_zero=True)(src)
    )
    dec = LSTM(6, return_sequences=True)(Embedding(VOCAB, 4)(tgt), initial_state=[h, c])
    context = make()([dec, enc_seq])
    joined = Concatenate()([dec, context])
    summed = Add()([dec, context, dec])
    single = make()([h, enc_seq])  # one query: (batch, units)
    out = TimeDistributed(Dense(VOCAB, activation="softmax"))(joined)
    model = Model([src, tgt], [out, summed, single])
    sess = session(model, tmp_path)
    names = [i.name for i in sess.get_inputs()]
    assert names[:2] == ["source", "target"]
    assert not any(n.startswith(dec.node.layer.name) for n in names)  # fed by the encoder
    for b, ts, tt in [(6, 7, 5), (2, 3, 9)]:
        ids = padded_ids(rng, b, ts) if b >= 5 else rng.integers(1, VOCAB, size=(b, ts))
        assert_matches(model, sess, [ids, rng.integers(0, VOCAB, size=(b, tt))])


@pytest.mark.parametrize("task", ["dates", "addition", "tagging"])
def test_the_seq2seq_jobs_models(tmp_path, task):
    """Models ``rnnkit seq2seq train`` builds: an attention translator whose
    Bidirectional encoder's states start the decoder, an encoder-RepeatVector-decoder
    and a bidirectional tagger."""
    from rnnkit.experiments.seq2seq import Seq2SeqConfig, build_model, make_data

    rng = np.random.default_rng(15)
    cfg = Seq2SeqConfig(task=task, n_train=32, n_test=8, units=8, embed_dim=4)
    data = make_data(cfg)
    model = build_model(cfg, data)
    xs = data["x_test"]
    if isinstance(model, Model) and len(model.inputs) == 2:  # teacher-forced decoder input
        xs = [xs, rng.integers(0, len(data["tgt"]), size=(len(xs), data["tgt_len"]))]
    assert_matches(model, session(model, tmp_path), xs)


def test_keras_style_construction(tmp_path):
    """Models made as Keras 3 makes them: an Input first in a Sequential, build() with
    the batch axis, a functional Model whose layers list its InputLayer."""
    import rnnkit

    rng = np.random.default_rng(17)
    first = rnnkit.Sequential([rnnkit.Input((None, 3)), LSTM(4), Dense(2)])
    second = rnnkit.Sequential([GRU(4, return_sequences=True), GlobalMaxPooling1D()])
    second.build((None, None, 3))
    inp = rnnkit.layers.Input((None, 3))
    third = rnnkit.Model(inp, Dense(2)(SimpleRNN(4)(inp)))
    for k, model in enumerate([first, second, third]):
        sess = session(model, tmp_path, f"model{k}.onnx")
        assert_matches(model, sess, floats(rng, 2, 5))


def test_float64_model_exports_float32(tmp_path):
    rng = np.random.default_rng(10)
    model = Sequential([LSTM(4, dtype="float64", input_shape=(None, 3)), Dense(2, dtype="float64")])
    sess = session(model, tmp_path)
    x = floats(rng, 3, 6)
    np.testing.assert_allclose(run(sess, x)["output"], model.predict(x), rtol=0, atol=ATOL)


# ---- streaming: the state inputs and outputs ----------------------------------------------
@pytest.mark.parametrize("kind", sorted(RECURRENT))
def test_states_stream_a_sequence_in_chunks(tmp_path, kind):
    rng = np.random.default_rng(11)
    model = Sequential(
        [RECURRENT[kind](5, return_sequences=True, input_shape=(None, 3)), SimpleRNN(4)]
    )
    sess = session(model, tmp_path)
    assert [i.name for i in sess.get_inputs()] == ["input"]  # the states are optional:
    state_in = [i.name for i in sess.get_overridable_initializers()]  # inputs with defaults
    state_out = [o.name for o in sess.get_outputs()[1:]]
    assert [s.replace("initial", "final") for s in state_in] == state_out
    x = floats(rng, 3, 12)
    whole = run(sess, x)
    carried = {}
    for chunk in (x[:, :5], x[:, 5:6], x[:, 6:]):
        got = run(sess, chunk, carried)
        carried = {i: got[o] for i, o in zip(state_in, state_out)}
    np.testing.assert_allclose(got["output"], model.predict(x), rtol=0, atol=ATOL)
    for name in state_out:
        np.testing.assert_allclose(got[name], whole[name], rtol=0, atol=ATOL)


def test_stateful_layers_stream_when_asked(tmp_path):
    """A stateful language model (``rnnkit lm``'s shape): refused by default, exported
    with ``stateful="stream"``; the caller carries the states between runs as the
    layers carry them between batches."""
    rng = np.random.default_rng(13)
    model = Sequential(
        [
            Embedding(VOCAB, 4, input_shape=(None,)),
            LSTM(5, return_sequences=True, stateful=True),
            GRU(4, return_sequences=True, stateful=True),
            Dense(VOCAB, activation="softmax"),
        ]
    )
    with pytest.raises(ValueError, match="stateful='stream'"):
        model.export(tmp_path / "refused.onnx")
    assert list(tmp_path.iterdir()) == []
    path = tmp_path / "lm.onnx"
    export_onnx(model, path, stateful="stream")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    state_in = [i.name for i in sess.get_overridable_initializers()]
    state_out = [s.replace("initial", "final") for s in state_in]
    model.reset_states()
    carried = {}
    for steps in (4, 1, 6):
        ids = rng.integers(0, VOCAB, size=(2, steps))
        want = model.predict(ids)  # continues the previous batch's states
        got = run(sess, ids, carried)
        np.testing.assert_allclose(got["output"], want, rtol=0, atol=ATOL)
        carried = {i: got[o] for i, o in zip(state_in, state_out)}


# ---- what cannot be exported: an error before any file --------------------------------------
class Doubling(Layer):
    def forward(self, x, training=False, mask=None):
        return 2 * x


def _swish():
    return activations.Activation("swish", lambda z: z / (1 + np.exp(-z)), None)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: Sequential([LSTM(3, stateful=True, input_shape=(None, 2))]), "stateful=True"),
        (
            lambda: Sequential([Bidirectional(GRU(3, stateful=True), input_shape=(None, 2))]),
            "stateful=True",
        ),
        (lambda: Sequential([GRU(3, activation=_swish(), input_shape=(None, 2))]), "'swish'"),
        (lambda: Sequential([SimpleRNN(3, input_shape=(None, 2)), Doubling()]), "Doubling"),
        (lambda: Sequential([LSTM(3)]), "not built"),
    ],
)
def test_unexportable_models_raise_before_writing(tmp_path, build, message):
    model = build()
    path = tmp_path / "model.onnx"
    with pytest.raises(ValueError, match=message):
        model.export(path)
    assert list(tmp_path.iterdir()) == []
    path.write_bytes(b"older file")  # an existing file is left as it was
    with pytest.raises(ValueError, match=message):
        export_onnx(model, path)
    assert path.read_bytes() == b"older file"


def test_too_large_for_one_file(tmp_path, monkeypatch):
    from rnnkit.interop import onnx as exporter

    model = Sequential([Embedding(1000, 64, input_shape=(None,)), GRU(8)])
    monkeypatch.setattr(exporter, "MAX_WEIGHT_BYTES", 1000 * 64 * 4)  # the table alone
    with pytest.raises(ValueError, match="GiB"):
        model.export(tmp_path / "big.onnx")
    assert list(tmp_path.iterdir()) == []


def test_error_names_the_layer(tmp_path):
    model = Sequential([LSTM(3, stateful=True, name="streamer", input_shape=(None, 2))])
    with pytest.raises(ValueError, match="layer 'streamer'"):
        model.export(tmp_path / "m.onnx")


def test_other_formats_are_refused(tmp_path):
    model = Sequential([SimpleRNN(2, input_shape=(None, 1))])
    with pytest.raises(ValueError, match="format"):
        model.export(tmp_path / "m", format="tf_saved_model")
    assert list(tmp_path.iterdir()) == []


def test_missing_onnx_names_the_extra(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)  # as if not installed
    model = Sequential([SimpleRNN(2, input_shape=(None, 1))])
    with pytest.raises(ImportError, match=r"pip install rnnkit\[onnx\]"):
        model.export(tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


# ---- the command line ---------------------------------------------------------------------
def test_cli_export(tmp_path, capsys):
    from rnnkit.cli.main import main

    rng = np.random.default_rng(12)
    model = Sequential([Embedding(VOCAB, 4, mask_zero=True, input_shape=(None,)), GRU(3)])
    run_dir = tmp_path / "run"
    model.save(run_dir / "model.rnnkit")
    out = tmp_path / "exported" / "model.onnx"
    assert main(["export", str(run_dir), str(out)]) == 0
    assert "output" in capsys.readouterr().out
    options = ort.SessionOptions()
    options.log_severity_level = 3
    sess = ort.InferenceSession(str(out), options, providers=["CPUExecutionProvider"])
    assert_matches(model, sess, padded_ids(rng, 5, 6))

    assert main(["export", str(tmp_path / "nowhere"), str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err
    assert "model.rnnkit" in err and "Traceback" not in err
    assert not (tmp_path / "x.onnx").exists()

    lm_dir = tmp_path / "lm"
    lm = Sequential([Embedding(VOCAB, 4, input_shape=(None,)), LSTM(3, stateful=True)])
    lm.save(lm_dir / "model.rnnkit")
    assert main(["export", str(lm_dir), str(tmp_path / "lm.onnx")]) == 2
    assert "--stateful stream" in capsys.readouterr().err
    assert not (tmp_path / "lm.onnx").exists()
    assert main(["export", str(lm_dir), str(tmp_path / "lm.onnx"), "--stateful", "stream"]) == 0
    assert "lstm" in capsys.readouterr().out  # its state inputs and outputs are listed

    before = out.read_bytes()  # an existing file is replaced only when asked
    assert main(["export", str(lm_dir), str(out), "--stateful", "stream"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(["export", str(lm_dir), str(out), "--stateful", "stream", "--overwrite"]) == 0
    assert out.read_bytes() != before

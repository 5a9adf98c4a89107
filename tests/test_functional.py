"""The functional API: graphs of layers, several inputs, states passed between
layers, shared layers, attention — gradient-checked, trained, saved and loaded."""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit
from rnnkit.layers import (
    GRU,
    LSTM,
    Add,
    BahdanauAttention,
    Concatenate,
    Dense,
    DotAttention,
    Embedding,
    SimpleRNN,
    TimeDistributed,
)
from rnnkit.models import Input, Model, Sequential, load_model
from rnnkit.utils.gradient_check import check_model

F64 = {"dtype": "float64"}


def assert_small(errors, tol=1e-6):
    bad = {k: v for k, v in errors.items() if not v < tol}
    assert not bad, bad


def test_a_chain_equals_the_same_sequential():
    rnnkit.set_random_seed(0)
    seq = Sequential(
        [
            Embedding(9, 3, mask_zero=True, input_shape=(None,), **F64),
            LSTM(4, **F64),
            Dense(2, activation="softmax", **F64),
        ]
    )
    seq.compile("sgd", "sparse_categorical_crossentropy")
    inp = Input((None,))
    out = Dense(2, activation="softmax", **F64)(
        LSTM(4, **F64)(Embedding(9, 3, mask_zero=True, **F64)(inp))
    )
    fn = Model(inp, out)
    fn.compile("sgd", "sparse_categorical_crossentropy")
    fn.set_weights(seq.get_weights())
    x = np.array([[1, 2, 3, 0], [4, 5, 0, 0]])
    np.testing.assert_allclose(fn.predict(x), seq.predict(x), rtol=1e-12)
    y = np.array([0, 1])
    for model in (seq, fn):
        _, _, _, g, fused = model.compute_loss(x, y, training=False)
        model.backward(g, from_logits=fused)
    for a, b in zip(seq.gradients(), fn.gradients()):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def encoder_decoder(cell=LSTM, attention=None, shared_embedding=False):
    rnnkit.set_random_seed(1)
    enc_in, dec_in = Input((None,), name="source"), Input((None,), name="target_in")
    enc_emb = Embedding(8, 3, mask_zero=True, **F64)
    dec_emb = enc_emb if shared_embedding else Embedding(8, 3, **F64)
    enc_seq, *states = cell(4, return_sequences=True, return_state=True, **F64)(enc_emb(enc_in))
    dec_seq = cell(4, return_sequences=True, **F64)(dec_emb(dec_in), initial_state=states)
    if attention is not None:
        context = attention(**F64)([dec_seq, enc_seq])
        dec_seq = Concatenate(**F64)([dec_seq, context])
    out = TimeDistributed(Dense(8, activation="softmax", **F64))(dec_seq)
    model = Model([enc_in, dec_in], out)
    model.compile("sgd", "sparse_categorical_crossentropy")
    return model


SOURCE = np.array([[3, 1, 4, 1], [5, 2, 0, 0]])
TARGET_IN = np.array([[1, 6, 2], [1, 7, 7]])
TARGET_OUT = np.array([[6, 2, 2], [7, 7, 3]])


@pytest.mark.parametrize("cell", [SimpleRNN, LSTM, GRU])
def test_encoder_states_into_decoder_gradients(cell):
    model = encoder_decoder(cell)
    errors = check_model(model, [SOURCE, TARGET_IN], TARGET_OUT, eps=1e-5)
    assert_small(errors)
    # the encoder learns only through the states it hands over
    # model.layers as Keras 3 lists them: [source input, embedding, encoder, ...]
    assert any(k.startswith(model.layers[2].name) for k in errors)


@pytest.mark.parametrize("attention", [DotAttention, lambda **kw: BahdanauAttention(5, **kw)])
def test_attention_decoder_gradients(attention):
    model = encoder_decoder(attention=attention)
    # The decoder's outputs are small, so the query term barely bends tanh and softmax
    # cancels most of it: the true gradient is ~1e-9 and drowns in round-off. Larger
    # attention weights (and a larger step) make the check meaningful; the layer's own
    # math is checked at eps=1e-6 in tests/test_attention.py.
    for layer in model.layers:
        if "attention" in layer.name:
            layer.set_weights([20.0 * w for w in layer.get_weights()])
    assert_small(check_model(model, [SOURCE, TARGET_IN], TARGET_OUT, eps=1e-4))


def test_shared_embedding_gradients_add_up():
    model = encoder_decoder(shared_embedding=True)
    assert sum(isinstance(l, Embedding) for l in model.layers) == 1
    assert_small(check_model(model, [SOURCE, TARGET_IN], TARGET_OUT, eps=1e-5))


def test_shared_dense_and_add():
    rnnkit.set_random_seed(2)
    a, b = Input((3,)), Input((3,))
    shared = Dense(2, activation="tanh", **F64)
    out = Dense(1, **F64)(Add(**F64)([shared(a), shared(b)]))
    model = Model([a, b], out)
    model.compile("sgd", "mse")
    rng = np.random.default_rng(0)
    xa, xb = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    assert_small(check_model(model, [xa, xb], rng.standard_normal((4, 1))))


def test_fit_learns_to_copy_and_save_load_round_trip(tmp_path):
    rnnkit.set_random_seed(0)
    rng = np.random.default_rng(0)
    src = rng.integers(3, 8, (300, 4))
    tgt_in = np.concatenate([np.ones((300, 1), int), src[:, :-1]], axis=1)  # 1 = start
    enc_in, dec_in = Input((4,)), Input((4,))
    _, h, c = LSTM(32, return_state=True)(Embedding(8, 8)(enc_in))
    dec = LSTM(32, return_sequences=True)(Embedding(8, 8)(dec_in), initial_state=[h, c])
    model = Model([enc_in, dec_in], Dense(8, activation="softmax")(dec))
    model.compile(rnnkit.optimizers.Adam(0.02), "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit([src, tgt_in], src, epochs=25, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.95
    path = tmp_path / "seq2seq.rnnkit"
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict([src, tgt_in]), model.predict([src, tgt_in]))


def test_graph_errors_are_named():
    a, b = Input((3,)), Input((3,))
    out = Dense(2)(a)
    with pytest.raises(ValueError, match="not among the model's inputs"):
        Model(b, out)
    model = Model(a, out)
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"expects \(samples, 3\)"):
        model.predict(np.zeros((2, 4)))
    two = Model([a, b], Add()([Dense(2)(a), Dense(2)(b)]))
    with pytest.raises(ValueError, match="2 input"):
        two.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="initial_state"):
        Dense(2)(a, initial_state=[b])


def two_headed():
    """One encoder, two outputs: a tag per step and a scalar for the whole sequence."""
    rnnkit.set_random_seed(3)
    tokens = Input((None,), name="tokens")
    seq = LSTM(4, return_sequences=True, **F64)(Embedding(9, 3, mask_zero=True, **F64)(tokens))
    tags = TimeDistributed(Dense(3, activation="softmax", **F64), name="tags")(seq)
    total = Dense(1, **F64)(LSTM(3, **F64)(seq))
    model = Model(tokens, [tags, total])
    model.compile(
        rnnkit.optimizers.Adam(0.02),
        ["sparse_categorical_crossentropy", "mse"],
        metrics=["accuracy"],
        loss_weights=[1.0, 0.5],
    )
    return model


X2 = np.array([[3, 1, 4, 1], [5, 2, 6, 0]])
Y2 = [np.array([[0, 1, 2, 1], [2, 1, 0, 0]]), np.array([[0.5], [-1.0]])]


def test_several_outputs_gradients():
    assert_small(check_model(two_headed(), X2, Y2, eps=1e-5))


def test_several_outputs_train_report_and_round_trip(tmp_path):
    model = two_headed()
    x = np.tile(X2, (20, 1))
    y = [np.tile(Y2[0], (20, 1)), np.tile(Y2[1], (20, 1))]
    history = model.fit(x, y, epochs=30, batch_size=8, verbose=0)
    assert "tags_accuracy" in history.history
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    path = tmp_path / "two.rnnkit"
    model.save(path)
    loaded = load_model(path)
    assert [l.name for l in loaded.output_losses] == [
        "sparse_categorical_crossentropy",
        "mean_squared_error",
    ]
    assert loaded.loss_weights == [1.0, 0.5]
    for a, b in zip(loaded.predict(x), model.predict(x)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="2 outputs; got 1 target"):
        model.fit(x, y[0], verbose=0)
    with pytest.raises(ValueError, match=r"y\[0\] must be class ids"):
        model.fit(x, [y[0] + 5, y[1]], verbose=0)

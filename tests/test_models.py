"""Sequential's Keras API: fit/evaluate/predict, callbacks, summary, saving, seeds."""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit
from rnnkit.callbacks import CSVLogger, EarlyStopping, ModelCheckpoint
from rnnkit.datasets.synthetic import delayed_recall
from rnnkit.layers import GRU, LSTM, Activation, Bidirectional, Dense, Dropout, Embedding, SimpleRNN
from rnnkit.models import Sequential, load_model


def small_model(dropout=0.0):
    model = Sequential(
        [
            Embedding(20, 4, mask_zero=True, input_shape=(6,)),
            LSTM(8, dropout=dropout, recurrent_dropout=dropout),
            Dropout(dropout),
            Dense(3, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    return model


def toy_ids(n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 20, (n, 6))
    x[: n // 2, -2:] = 0
    return x, x[:, 0] % 3


def test_summary_parameter_counts_match_keras():
    # Keras: SimpleRNN u*(i+u+1), LSTM 4u(i+u+1), GRU(reset_after) 3u(i+u+2)
    model = Sequential([SimpleRNN(50, input_shape=(49, 1)), Dense(46), Activation("softmax")])
    assert [l.count_params() for l in model.layers] == [2600, 2346, 0]
    model = Sequential(
        [
            Embedding(30000, 128, input_shape=(None,)),
            Bidirectional(LSTM(64, return_sequences=True)),
            GRU(32),
            Dense(46),
        ]
    )
    assert [l.count_params() for l in model.layers] == [3840000, 98816, 15552, 1518]
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Total params: 3,955,886" in text and "bidirectional" in text


def test_fit_returns_history_and_learns():
    x, y = toy_ids()
    model = small_model()
    model.compile(rnnkit.optimizers.Adam(0.02), "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=40, batch_size=16, verbose=0, validation_split=0.25)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 40
    assert history.history["loss"][-1] < history.history["loss"][0] * 0.5
    loss, acc = model.evaluate(x[:45], y[:45])  # the training part
    assert acc > 0.9
    assert model.predict(x).shape == (60, 3)
    np.testing.assert_allclose(model.predict(x).sum(axis=1), 1.0, rtol=1e-5)


def test_same_seed_same_run_including_dropout_and_shuffle():
    x, y = toy_ids()
    runs = []
    for _ in range(2):
        rnnkit.set_random_seed(42)
        model = small_model(dropout=0.3)
        model.fit(x, y, epochs=3, batch_size=8, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    rnnkit.set_random_seed(43)
    other = small_model(dropout=0.3)
    other.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert not np.array_equal(other.get_weights()[0], runs[0][0])


def test_float32_by_default_float64_on_request():
    model = small_model()
    assert all(w.dtype == np.float32 for w in model.get_weights())
    rnnkit.backend.set_floatx("float64")
    try:
        assert all(w.dtype == np.float64 for w in small_model().get_weights())
    finally:
        rnnkit.backend.set_floatx("float32")


def test_save_load_round_trip_is_bit_exact(tmp_path):
    x, y = toy_ids()
    model = small_model()
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "m.rnnkit"
    model.save(path)
    loaded = load_model(path)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    # the optimizer state came along: one more identical step on both
    model.train_on_batch(x[:8], y[:8])
    loaded.train_on_batch(x[:8], y[:8])
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_load_rejects_truncated_and_garbage_files(tmp_path):
    model = small_model()
    path = tmp_path / "m.rnnkit"
    model.save(path)
    data = path.read_bytes()
    (tmp_path / "trunc.rnnkit").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.rnnkit").write_bytes(b"not a model at all")
    for name in ("trunc.rnnkit", "junk.rnnkit"):
        with pytest.raises(ValueError, match="rnnkit model file"):
            load_model(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.rnnkit")
    # a plain npz without config, and one holding a pickled object, are refused
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="__config__"):
        load_model(tmp_path / "plain.npz")
    np.savez(tmp_path / "pickled.npz", __config__=np.array([{"format": "x"}], dtype=object))
    with pytest.raises(ValueError):
        load_model(tmp_path / "pickled.npz")


def test_load_rejects_shape_mismatch(tmp_path):
    import io
    import json

    model = small_model()
    path = tmp_path / "m.rnnkit"
    model.save(path)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    config = json.loads(arrays["__config__"].tobytes())
    config["weights"][0]["shape"] = [21, 4]
    arrays["__config__"] = np.frombuffer(json.dumps(config).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (tmp_path / "bad.rnnkit").write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="config says"):
        load_model(tmp_path / "bad.rnnkit")


def test_early_stopping_restores_best_and_checkpoint_keeps_best(tmp_path):
    x, y = delayed_recall(200, 3, seed=0)
    model = Sequential([SimpleRNN(8), Dense(4, activation="softmax")])
    model.compile(rnnkit.optimizers.Adam(0.05), "sparse_categorical_crossentropy", ["accuracy"])
    stop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    ckpt = ModelCheckpoint(tmp_path / "best.rnnkit", save_best_only=True)
    log = CSVLogger(tmp_path / "log.csv")
    history = model.fit(
        x, y, epochs=60, validation_split=0.5, verbose=0, callbacks=[stop, ckpt, log]
    )
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert len(val) <= 60
    if len(val) < 60:
        assert len(val) - 1 - best == 2  # stopped after `patience` epochs without progress
    assert model.evaluate(x[100:], y[100:])[0] == pytest.approx(val[best], rel=1e-5)
    saved = load_model(tmp_path / "best.rnnkit")
    assert saved.evaluate(x[100:], y[100:])[0] == pytest.approx(val[best], rel=1e-5)
    assert (tmp_path / "log.csv").read_text().count("\n") == len(val) + 1


def test_class_weight_changes_training():
    x, y = toy_ids()
    weights = []
    for cw in (None, {0: 1.0, 1: 5.0, 2: 1.0}):
        rnnkit.set_random_seed(0)
        model = small_model()
        model.fit(x, y, epochs=1, verbose=0, class_weight=cw, shuffle=False)
        weights.append(model.get_weights()[-1])
    assert not np.allclose(weights[0], weights[1])


def test_verbose_one_shows_a_progress_bar(capsys):
    x, y = toy_ids()
    small_model().fit(x, y, epochs=1, verbose=1)
    err = capsys.readouterr().err
    assert "Epoch 1/1" in err and "loss=" in err
    small_model().fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().err == ""


def test_clipping_options():
    opt = rnnkit.optimizers.SGD(lr=1.0, global_clipnorm=1.0)
    grads = [np.full(4, 3.0), np.full(9, 4.0)]
    clipped, norm = opt.clip(grads)
    assert norm == pytest.approx(np.sqrt(36 + 144))
    assert np.sqrt(sum((g**2).sum() for g in clipped)) == pytest.approx(1.0)
    clipped, _ = rnnkit.optimizers.SGD(clipnorm=1.0).clip(grads)  # Keras: per tensor
    assert [np.linalg.norm(g) for g in clipped] == pytest.approx([1.0, 1.0])
    clipped, _ = rnnkit.optimizers.SGD(clipvalue=2.0).clip(grads)
    assert max(g.max() for g in clipped) == 2.0


def test_an_update_without_clipping_does_not_form_the_global_norm(monkeypatch):
    # the norm is a pass over every gradient (3 ms a step for a 3.4 M-weight LSTM):
    # an update pays it only when global_clipnorm needs it
    calls = []
    real = rnnkit.optimizers.global_norm
    monkeypatch.setattr(rnnkit.optimizers, "global_norm", lambda g: calls.append(1) or real(g))
    g = np.full(4, 3.0)
    a, b, c = np.ones(4), np.ones(4), np.ones(4)
    rnnkit.optimizers.Adam(learning_rate=0.1).apply([a], [g])
    rnnkit.optimizers.SGD(lr=1.0, clipnorm=1.0, clipvalue=2.0).apply([b], [g])
    assert calls == []
    rnnkit.optimizers.SGD(lr=1.0, global_clipnorm=1.0).apply([c], [g])
    assert calls == [1]
    np.testing.assert_allclose(a, 1.0 - 0.1, rtol=1e-6)  # Adam's first step: lr·sign(g)
    np.testing.assert_allclose(b, 1.0 - 0.5)  # clipped to 2, then to norm 1: 0.5 each
    np.testing.assert_allclose(c, 1.0 - 0.5)  # norm 6 scaled to 1: 0.5 each


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adagrad", "adam"])
def test_every_optimizer_reduces_the_loss(name):
    x, y = toy_ids()
    model = small_model()
    opt = {"sgd": rnnkit.optimizers.SGD(0.5, momentum=0.9, nesterov=True)}.get(name, name)
    model.compile(opt, "sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=10, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_adam_matches_its_formula():
    p = np.array([1.0, -2.0])
    g = np.array([0.5, 0.25])
    opt = rnnkit.optimizers.Adam(learning_rate=0.1)
    opt.apply([p], [g])
    m, v = 0.1 * g, 0.001 * g * g
    expected = np.array([1.0, -2.0]) - 0.1 * np.sqrt(1 - 0.999) / (1 - 0.9) * m / (
        np.sqrt(v) + 1e-7
    )
    np.testing.assert_allclose(p, expected)


def test_frozen_embedding_is_not_updated_and_makes_no_gradient_array():
    emb = Embedding(50, 8, trainable=False)
    model = Sequential([emb, GRU(6), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.integers(1, 50, size=(16, 7)), rng.integers(0, 3, size=16)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # builds the model
    before = emb.params["embeddings"].copy()
    other = model.layers[1].params["kernel"].copy()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    np.testing.assert_array_equal(emb.params["embeddings"], before)
    assert not np.array_equal(model.layers[1].params["kernel"], other)  # the rest learns
    g = emb.grads["embeddings"]
    assert g.shape == before.shape and not g.any() and g.strides == (0, 0)  # no memory


def test_adam_torch_epsilon_form_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(6)
    grads = [rng.standard_normal(6) * 10.0 ** -k for k in (0, 2, 4, 6, 7, 8)]  # ε matters
    p = p0.copy()
    opt = rnnkit.optimizers.Adam(learning_rate=0.01, epsilon=1e-8, epsilon_form="torch")
    tp = torch.tensor(p0, requires_grad=True)
    topt = torch.optim.Adam([tp], lr=0.01, eps=1e-8)
    for g in grads:
        opt.apply([p], [g.copy()])
        tp.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)
    # gradients near ε: the Keras form weighs ε ~30x more at the first step
    tiny = rng.standard_normal(6) * 1e-9
    a, b = p0.copy(), p0.copy()
    adam = rnnkit.optimizers.Adam
    adam(learning_rate=0.01, epsilon=1e-8, epsilon_form="torch").apply([a], [tiny])
    adam(learning_rate=0.01, epsilon=1e-8).apply([b], [tiny.copy()])
    assert np.all(np.abs(a - p0) > 5 * np.abs(b - p0))
    assert opt.get_config()["epsilon_form"] == "torch"
    with pytest.raises(ValueError, match="epsilon_form"):
        rnnkit.optimizers.Adam(epsilon_form="pytorch")

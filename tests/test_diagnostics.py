"""Gradient-flow diagnostics against independent computations, and `rnnkit gradients`."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

import rnnkit
from rnnkit import diagnostics as D
from rnnkit.cli.main import main
from rnnkit.initializers import Orthogonal
from rnnkit.layers import GRU, LSTM, Dense, SimpleRNN
from rnnkit.models import Sequential, save_model


def _built(layer, steps=10, features=3):
    layer(np.zeros((1, steps, features)))
    return layer


def _tanh_states(x, U, W, b):
    """h_t = tanh(x_t·U + h_{t-1}·W + b), written out independently of rnnkit."""
    h, out = np.zeros(W.shape[0]), []
    for x_t in x:
        h = np.tanh(x_t @ U + h @ W + b)
        out.append(h)
    return np.array(out)


# ---- Jacobian products ------------------------------------------------------------
def test_linear_rnn_jacobian_is_a_matrix_power():
    layer = _built(SimpleRNN(6, activation="linear", recurrent_initializer="glorot_uniform"))
    W = layer.cell.params["recurrent_kernel"].astype(np.float64)
    x = np.random.default_rng(0).normal(size=(10, 3))
    norms = D.jacobian_norms(layer, x)["h"]
    # h_T = h_t·W^(T-t) + (terms without h_t): dh_T/dh_t = (W^(T-t))ᵀ
    expected = [np.linalg.norm(np.linalg.matrix_power(W, 9 - k)) for k in range(10)]
    np.testing.assert_allclose(norms, expected, rtol=1e-10)


def test_tanh_rnn_jacobian_matches_the_explicit_product():
    layer = _built(SimpleRNN(5, recurrent_initializer=Orthogonal(gain=1.5)), steps=12)
    p = {k: v.astype(np.float64) for k, v in layer.cell.params.items()}
    x = np.random.default_rng(1).normal(size=(12, 3))
    h = _tanh_states(x, p["kernel"], p["recurrent_kernel"], p["bias"])
    # row convention: dh_k = dh_{k-1}·W·D_k with D_k = diag(1 - h_k²)
    expected, product = [], np.eye(5)
    for k in range(11, -1, -1):  # state after step k+1; product = W D_{k+2} … W D_T
        expected.append(np.linalg.norm(product))
        product = p["recurrent_kernel"] @ np.diag(1 - h[k] ** 2) @ product
    np.testing.assert_allclose(D.jacobian_norms(layer, x)["h"], expected[::-1], rtol=1e-9)


def _finite_difference_jacobians(layer, x, k, eps=1e-6):
    """dh_T/dh_t and dh_T/dc_t (LSTM) by central differences, from the layer's forward
    run on the tail x[k+1:] with the state after step k+1 as its initial state."""
    head = layer.forward(x[None, : k + 1], initial_state=None)
    states = [s.copy() for s in head[1:]]
    tail = x[None, k + 1 :]

    def h_T(st):
        return layer.forward(tail, initial_state=st)[0][0]

    out = []
    for which in range(len(states)):
        cols = []
        for j in range(layer.units):
            plus = [s.copy() for s in states]
            minus = [s.copy() for s in states]
            plus[which][0, j] += eps
            minus[which][0, j] -= eps
            cols.append((h_T(plus) - h_T(minus)) / (2 * eps))
        out.append(np.array(cols).T)
    return out


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_gated_jacobians_match_finite_differences(cls):
    layer = _built(cls(4, return_state=True, dtype="float64"), steps=9)
    x = np.random.default_rng(2).normal(size=(9, 3))
    norms = D.jacobian_norms(layer, x)
    for k in (2, 5):
        fd = _finite_difference_jacobians(layer, x, k)
        np.testing.assert_allclose(norms["h"][k], np.linalg.norm(fd[0]), rtol=1e-6)
        if cls is LSTM:
            np.testing.assert_allclose(norms["c"][k], np.linalg.norm(fd[1]), rtol=1e-6)
            np.testing.assert_allclose(
                norms["state"][k], np.hypot(np.linalg.norm(fd[0]), np.linalg.norm(fd[1]))
            )
    assert norms["h"][-1] == pytest.approx(2.0)  # dh_T/dh_T = I_4
    assert set(norms) == ({"h", "c", "state"} if cls is LSTM else {"h"})


def test_jacobian_leaves_the_layer_untouched_and_checks_its_input():
    layer = _built(LSTM(3))
    before = {k: v.copy() for k, v in layer.cell.params.items()}
    D.jacobian_norms(layer, np.ones((10, 3)))
    assert layer.cell.params["kernel"].dtype == np.float32
    assert not layer.record_state_grads and "backward_step" not in vars(layer.cell)
    for k, v in before.items():
        np.testing.assert_array_equal(layer.cell.params[k], v)
    with pytest.raises(ValueError, match="expected 3 features"):
        D.jacobian_norms(layer, np.ones((10, 2)))
    with pytest.raises(TypeError, match="argument layer"):
        D.jacobian_norms(Dense(2), np.ones((10, 3)))


def test_decay_factor_of_a_scaled_orthogonal_linear_rnn_is_the_gain():
    layer = _built(
        SimpleRNN(8, activation="linear", recurrent_initializer=Orthogonal(gain=0.5)), steps=30
    )
    norms = D.jacobian_norms(layer, np.random.default_rng(3).normal(size=(30, 3)))["h"]
    assert D.fit_decay(norms).factor == pytest.approx(0.5, rel=1e-5)


# ---- |dL/dh_t| from the model's BPTT ---------------------------------------------
def test_state_gradient_norms_match_the_chain_rule():
    rnnkit.set_random_seed(5)
    model = Sequential(
        [SimpleRNN(5, input_shape=(10, 3), dtype="float64"), Dense(1, dtype="float64")]
    )
    model.compile(loss="mse", optimizer="sgd")
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(3, 10, 3)), rng.normal(size=(3, 1))
    loss, norms = D.state_gradient_norms(model, x, y)
    p = model.layers[0].cell.params
    V, c = model.layers[1].params["kernel"], model.layers[1].params["bias"]
    expected = np.empty((3, 10))
    total = 0.0
    for b in range(3):
        h = _tanh_states(x[b], p["kernel"], p["recurrent_kernel"], p["bias"])
        err = h[-1] @ V + c - y[b]
        total += float(err @ err) / 3
        g = (2.0 / 3.0) * err @ V.T  # dL/dh_T
        for k in range(9, -1, -1):
            expected[b, k] = np.linalg.norm(g)
            g = (g * (1 - h[k] ** 2)) @ p["recurrent_kernel"].T
    assert loss == pytest.approx(total)
    np.testing.assert_allclose(norms["simple_rnn"], expected, rtol=1e-10)
    assert model.layers[0].record_state_grads is False


def test_state_gradient_norms_needs_a_compiled_recurrent_model():
    model = Sequential([SimpleRNN(2, input_shape=(4, 1))])
    with pytest.raises(ValueError, match="not compiled"):
        D.state_gradient_norms(model, np.ones((1, 4, 1)), np.ones((1, 2)))
    dense = Sequential([Dense(2, input_shape=(3,))])
    dense.compile(loss="mse")
    with pytest.raises(ValueError, match="no recurrent layer"):
        D.state_gradient_norms(dense, np.ones((1, 3)), np.ones((1, 2)))


# ---- spectral radius and saturation ---------------------------------------------
def test_spectral_radii_per_gate_block_against_eigvals():
    layer = _built(LSTM(5, recurrent_initializer="glorot_uniform"))
    W = layer.cell.params["recurrent_kernel"]
    radii = D.spectral_radii(layer)
    assert list(radii) == ["W_i", "W_f", "W_c", "W_o"]
    for k, r in enumerate(radii.values()):
        assert r == pytest.approx(np.abs(np.linalg.eigvals(W[:, 5 * k : 5 * k + 5])).max())
    irnn = _built(SimpleRNN(4, activation="relu", recurrent_initializer="identity"))
    assert D.spectral_radii(irnn) == {"W_h": pytest.approx(1.0)}
    assert list(D.spectral_radii(_built(GRU(3)))) == ["W_z", "W_r", "W_h"]


def test_gate_saturation_counts_saturated_units():
    layer = _built(LSTM(4), steps=6)
    layer.cell.params["kernel"][...] = 0
    layer.cell.params["recurrent_kernel"][...] = 0
    bias = np.concatenate([np.full(4, 10.0), np.zeros(4), np.zeros(4), np.full(4, -10.0)])
    layer.cell.params["bias"][...] = bias
    layer(np.ones((2, 6, 3)))
    assert D.gate_saturation(layer) == {"i": 1.0, "f": 0.0, "c": 0.0, "o": 1.0}
    # half of the units of f just beyond the threshold, half just within
    bias[4:8] = [3.0, 3.0, 2.9, -3.0]  # σ(3) = 0.9526 > 0.95; σ(2.9) = 0.948
    layer.cell.params["bias"][...] = bias
    mask = np.array([[True] * 6, [True, True, False, False, False, False]])
    layer(np.ones((2, 6, 3)), mask=mask)
    assert D.gate_saturation(layer)["f"] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="low and high"):
        D.gate_saturation(layer, low=0.9, high=0.1)
    never_run = GRU(2)
    never_run.ensure_built((5, 3))
    with pytest.raises(ValueError, match="no forward pass"):
        D.gate_saturation(never_run)
    # BPTT writes its gradients over the gates: reading them afterwards is refused
    layer.forward(np.ones((2, 6, 3)), training=True)
    layer.backward(np.ones((2, 4)))
    with pytest.raises(ValueError, match="overwritten by backward"):
        D.gate_saturation(layer)


def test_fit_decay_recovers_a_geometric_factor_and_skips_zeros():
    d = np.arange(20)[::-1]
    norms = 3.0 * 0.8**d
    norms[0], norms[5] = 0.0, np.inf  # underflow and overflow are left out
    fit = D.fit_decay(norms)
    assert fit.factor == pytest.approx(0.8) and fit.n_points == 18
    assert np.exp(fit.intercept) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="at least two"):
        D.fit_decay([0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="argument distances"):
        D.fit_decay([1.0, 2.0], distances=[0, 1, 2])


# ---- the callback --------------------------------------------------------------
def _trained(callbacks, seed=7):
    rnnkit.set_random_seed(seed)
    model = Sequential([GRU(4, input_shape=(8, 2)), Dense(1)])
    model.compile(loss="mse", optimizer="adam")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 8, 2)), rng.normal(size=(32, 1))
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=callbacks)
    return model, x, y


def test_callback_records_every_epoch_without_changing_training(tmp_path):
    rng = np.random.default_rng(1)
    cb = D.GradientDiagnostics(rng.normal(size=(4, 8, 2)), rng.normal(size=(4, 1)), tmp_path)
    with_cb, _, _ = _trained([cb])
    without, _, _ = _trained([])
    for a, b in zip(with_cb.get_weights(), without.get_weights()):
        np.testing.assert_array_equal(a, b)
    data = json.loads((tmp_path / "gradient_diagnostics.json").read_text())
    assert [r["epoch"] for r in data["records"]] == [0, 1, 2]
    last = data["records"][-1]["layers"]["gru"]
    assert len(last["state_grad_norm"]) == 8 and len(last["jacobian"]["h"]) == 8
    assert set(last["spectral_radius"]) == {"W_z", "W_r", "W_h"}
    assert set(last["gate_saturation"]) == {"z", "r", "h"}
    assert data["records"][1]["logs"]["loss"] > 0
    assert data["probe"] == {"samples": 4, "steps": 8}
    if importlib.util.find_spec("matplotlib"):  # the history figure beside the JSON
        png = (tmp_path / "gradient_diagnostics.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000
    with pytest.raises(ValueError, match="argument every"):
        D.GradientDiagnostics(None, None, tmp_path, every=0)


# ---- rnnkit gradients ------------------------------------------------------------
def test_cli_fresh_layer_writes_plot_json_and_factors(tmp_path, capsys):
    code = main(
        ["gradients", "--cell", "lstm", "--steps", "15", "--units", "4", "--batch", "3",
         "--out", str(tmp_path)]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "per-step factor" in out and "|dh_T/dc_t|_F" in out
    report = json.loads((tmp_path / "gradients.json").read_text())
    assert report["steps"] == 15 and len(report["state_grad_norm"]) == 15
    assert 0 < report["jacobian_decay"]["h"]["factor"] < 2
    assert (tmp_path / "gradient_decay.png").stat().st_size > 1000


def test_cli_gain_scales_the_recurrent_weights(tmp_path, capsys):
    args = ["gradients", "--activation", "relu", "--init", "identity", "--steps", "12",
            "--units", "3", "--batch", "2"]  # fmt: skip
    assert main(args + ["--gain", "0.5", "--out", str(tmp_path)]) == 0
    assert "W_h 0.500" in capsys.readouterr().out
    report = json.loads((tmp_path / "gradients.json").read_text())
    assert report["spectral_radius"]["W_h"] == pytest.approx(0.5)
    assert report["setting"]["gain"] == 0.5


def test_cli_saved_model_with_data_and_targets(tmp_path, capsys):
    model = Sequential([SimpleRNN(3, input_shape=(7, 2), return_sequences=True), GRU(2)])
    model.compile(loss="mse", optimizer="sgd")
    save_model(model, tmp_path / "m.rnnkit")
    np.save(tmp_path / "x.npy", np.ones((5, 7, 2), np.float32))
    np.save(tmp_path / "y.npy", np.zeros((5, 2), np.float32))
    args = ["gradients", "--model", str(tmp_path / "m.rnnkit"), "--data", str(tmp_path / "x.npy")]
    assert main(args + ["--targets", str(tmp_path / "y.npy"), "--layer", "gru",
                        "--out", str(tmp_path / "a")]) == 0  # fmt: skip
    report = json.loads((tmp_path / "a" / "gradients.json").read_text())
    assert report["layer"] == "gru" and len(report["state_grad_norm"]) == 7
    assert main(args + ["--out", str(tmp_path / "b")]) == 0  # no targets: Jacobian only
    assert "not measured" in capsys.readouterr().out
    report = json.loads((tmp_path / "b" / "gradients.json").read_text())
    assert report["layer"] == "simple_rnn" and report["state_grad_norm"] is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "no/such/model.rnnkit"], "No model file"),
        (["--data", "x.npy"], "need --model"),
        (["--model", "{m}", "--data", "{bad}"], "expects (samples, 7, 2)"),
        (["--model", "{m}", "--layer", "nope"], "--layer"),
        (["--model", "{m}", "--data", "{m}"], "not a readable .npy"),
        (["--model", "{m}", "--gain", "2"], "--gain applies to a fresh layer"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys, args, message):
    model = Sequential([SimpleRNN(3, input_shape=(7, 2))])
    save_model(model, tmp_path / "m.rnnkit")
    np.save(tmp_path / "bad.npy", np.ones((2, 7, 5)))
    args = [a.format(m=tmp_path / "m.rnnkit", bad=tmp_path / "bad.npy") for a in args]
    assert main(["gradients", *args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_rejects_bad_options_with_status_2(capsys):
    for bad in (["--steps", "0"], ["--cell", "transformer"], ["--init", "zeros"], ["--gain", "-1"]):
        with pytest.raises(SystemExit) as info:
            main(["gradients", *bad])
        assert info.value.code == 2
    assert "invalid" in capsys.readouterr().err

"""rnnkit against PyTorch in float64: same weights, same inputs, same loss.

PyTorch's nn.RNN / nn.LSTM / nn.GRU are built first; their weights are copied into
rnnkit layers (transposed, gates re-ordered into Keras's layout), both are run on the
same random input with random non-zero initial states, and a fixed random linear loss

    L = sum(out * R) + sum(h_T * Rh) (+ sum(c_T * Rc))

is backpropagated through both. Outputs, final states, dL/dx, dL/d(initial states)
and every parameter gradient (mapped back to PyTorch's layout) must agree to a
relative error of 1e-9.

Layouts: PyTorch stores weight_ih (G*H, I) and weight_hh (G*H, H) with the gates
stacked along the rows; Keras (and rnnkit) store kernel (I, G*H) and
recurrent_kernel (H, G*H). LSTM gates are i, f, g, o in both. GRU gates are r, z, n in
PyTorch and z, r, h in Keras: the first two blocks swap. PyTorch has two biases,
b_ih and b_hh; for SimpleRNN and LSTM Keras has their sum, for GRU (reset_after) the
two rows of the (2, 3H) bias are b_ih and b_hh, gates re-ordered.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN  # noqa: E402
from rnnkit.models import Sequential  # noqa: E402

# every test here runs with the NumPy cells and with the fused numba kernels
pytestmark = pytest.mark.usefixtures("accelerator")

KINDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
B, T, I, H = 3, 6, 4, 5
TOL = 1e-9


# ---- helpers -------------------------------------------------------------------------
def rel_err(actual, expected) -> float:
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, f"shape {a.shape} != {e.shape}"
    scale = max(np.linalg.norm(a), np.linalg.norm(e), 1e-300)
    return float(np.linalg.norm(a - e) / scale)


def check(actual, expected, what: str, tol: float = TOL) -> None:
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    err = rel_err(actual, expected)
    assert err < tol, f"{what}: relative error {err:.3e} >= {tol:g}"


def n_states(kind: str) -> int:
    return 2 if kind == "lstm" else 1


def n_gates(kind: str) -> int:
    return {"lstm": 4, "gru": 3}.get(kind, 1)


def gate_index(kind: str, units: int) -> np.ndarray:
    """Row indices into PyTorch's stacked gates, in Keras's gate order."""
    blocks = [1, 0, 2] if kind == "gru" else list(range(n_gates(kind)))
    return np.concatenate([np.arange(b * units, (b + 1) * units) for b in blocks])


def torch_rnn(kind, input_size, units, num_layers=1, bidirectional=False):
    common = dict(
        batch_first=True,
        num_layers=num_layers,
        bidirectional=bidirectional,
        dtype=torch.float64,
    )
    if kind == "lstm":
        return torch.nn.LSTM(input_size, units, **common)
    if kind == "gru":
        return torch.nn.GRU(input_size, units, **common)
    return torch.nn.RNN(input_size, units, nonlinearity=kind.split("_")[1], **common)


def rnnkit_rnn(kind, units, **kwargs):
    kwargs.setdefault("dtype", "float64")
    if kind == "lstm":
        return LSTM(units, **kwargs)
    if kind == "gru":
        return GRU(units, **kwargs)
    return SimpleRNN(units, activation=kind.split("_")[1], **kwargs)


def torch_params(module, layer: int, suffix: str = ""):
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return [getattr(module, f"{n}_l{layer}{suffix}") for n in names]


def keras_weights(kind, module, layer, units, suffix=""):
    """PyTorch layer ``layer``'s parameters in Keras's [kernel, recurrent, bias] layout."""
    w_ih, w_hh, b_ih, b_hh = (p.detach().numpy() for p in torch_params(module, layer, suffix))
    idx = gate_index(kind, units)
    kernel, recurrent = w_ih[idx].T.copy(), w_hh[idx].T.copy()
    if kind == "gru":
        bias = np.stack([b_ih[idx], b_hh[idx]])
    else:
        bias = b_ih + b_hh
    return [kernel, recurrent, bias]


def check_param_grads(kind, rk_layer, module, layer, units, suffix="", what=""):
    """rnnkit's kernel/recurrent/bias gradients, mapped to PyTorch's layout, against
    PyTorch's .grad of the same parameters."""
    names = [n for n, _ in rk_layer.weights()]
    assert names == ["kernel", "recurrent_kernel", "bias"], names
    g_kernel, g_rec, g_bias = rk_layer.gradients()
    w_ih, w_hh, b_ih, b_hh = torch_params(module, layer, suffix)
    idx = gate_index(kind, units)

    def to_torch(g_keras):  # inverse of keras = torch[idx].T
        out = np.empty((g_keras.shape[1], g_keras.shape[0]))
        out[idx] = g_keras.T
        return out

    check(to_torch(g_kernel), w_ih.grad, f"{what} dL/dweight_ih")
    check(to_torch(g_rec), w_hh.grad, f"{what} dL/dweight_hh")
    if kind == "gru":
        back = np.empty_like(g_bias)
        back[:, idx] = g_bias
        check(back[0], b_ih.grad, f"{what} dL/dbias_ih")
        check(back[1], b_hh.grad, f"{what} dL/dbias_hh")
    else:
        # one Keras bias stands for both PyTorch biases: its gradient is each one's
        check(g_bias, b_ih.grad, f"{what} dL/dbias vs bias_ih")
        check(g_bias, b_hh.grad, f"{what} dL/dbias vs bias_hh")


def torch_initial(kind, h0, c0):
    return (h0, c0) if kind == "lstm" else h0


def torch_final(kind, states):
    return (states[0], states[1]) if kind == "lstm" else (states, None)


def random_setup(kind, seed, n_dirs_layers, out_shape):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, I))
    h0 = rng.standard_normal((n_dirs_layers, B, H)) * 0.5
    c0 = rng.standard_normal((n_dirs_layers, B, H)) * 0.5
    R = rng.standard_normal(out_shape)
    Rh = rng.standard_normal((n_dirs_layers, B, H))
    Rc = rng.standard_normal((n_dirs_layers, B, H))
    return x, h0, c0, R, Rh, Rc


def leaf(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


# ---- single and stacked layers ---------------------------------------------------------
@pytest.mark.parametrize("return_sequences", [True, False], ids=["seq", "last"])
@pytest.mark.parametrize("num_layers", [1, 2], ids=["single", "stacked"])
@pytest.mark.parametrize("kind", KINDS)
def test_layers_match_torch(kind, num_layers, return_sequences):
    torch.manual_seed(1234)
    module = torch_rnn(kind, I, H, num_layers=num_layers)
    out_shape = (B, T, H) if return_sequences else (B, H)
    x, h0, c0, R, Rh, Rc = random_setup(kind, 7 + num_layers, num_layers, out_shape)

    # PyTorch
    xt, h0t, c0t = leaf(x), leaf(h0), leaf(c0)
    out_t, states_t = module(xt, torch_initial(kind, h0t, c0t))
    hn_t, cn_t = torch_final(kind, states_t)
    y_t = out_t if return_sequences else out_t[:, -1]
    loss_t = (y_t * torch.tensor(R)).sum() + (hn_t * torch.tensor(Rh)).sum()
    if kind == "lstm":
        loss_t = loss_t + (cn_t * torch.tensor(Rc)).sum()
    loss_t.backward()

    # rnnkit, one layer per PyTorch layer, PyTorch's weights copied in
    layers = []
    for l in range(num_layers):
        seq = return_sequences if l == num_layers - 1 else True
        layer = rnnkit_rnn(kind, H, return_sequences=seq, return_state=True)
        layer.ensure_built((T, I if l == 0 else H))
        layer.set_weights(keras_weights(kind, module, l, H))
        layers.append(layer)
    inp, finals = x, []
    for l, layer in enumerate(layers):
        init = [h0[l], c0[l]][: n_states(kind)]
        out, *states = layer(inp, initial_state=init)
        finals.append(states)
        inp = out
    check(out, y_t, "output")
    for l in range(num_layers):
        check(finals[l][0], hn_t[l], f"layer {l} final h")
        if kind == "lstm":
            check(finals[l][1], cn_t[l], f"layer {l} final c")

    d = R
    for l in reversed(range(num_layers)):
        d = layers[l].backward([d, Rh[l], Rc[l]][: 1 + n_states(kind)])
    check(d, xt.grad, "dL/dx")
    for l, layer in enumerate(layers):
        check(layer.initial_state_grads[0], h0t.grad[l], f"layer {l} dL/dh0")
        if kind == "lstm":
            check(layer.initial_state_grads[1], c0t.grad[l], f"layer {l} dL/dc0")
        check_param_grads(kind, layer, module, l, H, what=f"layer {l}")


# ---- float32: the compiled loop and the reference --------------------------------------
@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
def test_float32_layers_match_torch_to_float32_rounding(kind, accelerator):
    """A float32 layer against PyTorch in float64 with the same (float32) weights, through
    the compiled loop (numba run; batch 7: a block of 4 rows and one of 3) and the
    reference (NumPy run). The two libraries differ by float32 rounding only."""
    from rnnkit import backend

    b, t, units = 7, 6, 50
    torch.manual_seed(4321)
    module = torch_rnn(kind, I, units)
    rng = np.random.default_rng(17)
    x = rng.standard_normal((b, t, I)).astype(np.float32)
    r = rng.standard_normal((b, t, units))
    layer = rnnkit_rnn(kind, units, return_sequences=True, dtype="float32")
    layer.ensure_built((t, I))
    layer.set_weights([w.astype(np.float32) for w in keras_weights(kind, module, 0, units)])
    with torch.no_grad():  # PyTorch's weights rounded to the float32 values rnnkit holds
        for p in module.parameters():
            p.copy_(p.float().double())
    xt = leaf(x.astype(np.float64))
    out_t, _ = module(xt)
    (out_t * torch.tensor(r)).sum().backward()
    out = layer(x)
    assert out.dtype == np.float32
    check(out, out_t, "output", tol=2e-6)
    check(layer.backward(r.astype(np.float32)), xt.grad, "dL/dx", tol=2e-5)
    g_kernel, g_rec, _ = layer.gradients()
    w_ih, w_hh, _, _ = torch_params(module, 0)
    idx = gate_index(kind, units)
    check(g_kernel.T, w_ih.grad[idx], "dL/dweight_ih", tol=2e-5)
    check(g_rec.T, w_hh.grad[idx], "dL/dweight_hh", tol=2e-5)
    ran = backend.kernel_info()["ran"]
    name = type(layer.cell).__name__
    expected = "numba-generic" if accelerator == "numba" else "the numpy accelerator"
    assert ran[f"{name}.forward"] == ran[f"{name}.backward"] == expected


# ---- go_backwards ----------------------------------------------------------------------
@pytest.mark.parametrize("return_sequences", [True, False], ids=["seq", "last"])
@pytest.mark.parametrize("kind", KINDS)
def test_go_backwards_matches_torch_on_flipped_input(kind, return_sequences):
    torch.manual_seed(99)
    module = torch_rnn(kind, I, H)
    out_shape = (B, T, H) if return_sequences else (B, H)
    x, h0, c0, R, Rh, Rc = random_setup(kind, 21, 1, out_shape)

    xt, h0t, c0t = leaf(x), leaf(h0), leaf(c0)
    # Keras's go_backwards keeps the outputs in processing order: they equal PyTorch's
    # outputs on the reversed sequence, unflipped
    out_t, states_t = module(torch.flip(xt, dims=[1]), torch_initial(kind, h0t, c0t))
    hn_t, cn_t = torch_final(kind, states_t)
    y_t = out_t if return_sequences else out_t[:, -1]
    loss_t = (y_t * torch.tensor(R)).sum() + (hn_t * torch.tensor(Rh)).sum()
    if kind == "lstm":
        loss_t = loss_t + (cn_t * torch.tensor(Rc)).sum()
    loss_t.backward()

    layer = rnnkit_rnn(
        kind, H, return_sequences=return_sequences, return_state=True, go_backwards=True
    )
    layer.ensure_built((T, I))
    layer.set_weights(keras_weights(kind, module, 0, H))
    out, *states = layer(x, initial_state=[h0[0], c0[0]][: n_states(kind)])
    check(out, y_t, "output")
    check(states[0], hn_t[0], "final h")
    if kind == "lstm":
        check(states[1], cn_t[0], "final c")

    dx = layer.backward([R, Rh[0], Rc[0]][: 1 + n_states(kind)])
    check(dx, xt.grad, "dL/dx (in the caller's time order)")
    check(layer.initial_state_grads[0], h0t.grad[0], "dL/dh0")
    if kind == "lstm":
        check(layer.initial_state_grads[1], c0t.grad[0], "dL/dc0")
    check_param_grads(kind, layer, module, 0, H)


# ---- Bidirectional ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_bidirectional_concat_matches_torch_bidirectional(kind):
    torch.manual_seed(5)
    module = torch_rnn(kind, I, H, bidirectional=True)
    x, h0, c0, R, Rh, Rc = random_setup(kind, 33, 2, (B, T, 2 * H))

    xt, h0t, c0t = leaf(x), leaf(h0), leaf(c0)
    out_t, states_t = module(xt, torch_initial(kind, h0t, c0t))
    hn_t, cn_t = torch_final(kind, states_t)
    loss_t = (out_t * torch.tensor(R)).sum() + (hn_t * torch.tensor(Rh)).sum()
    if kind == "lstm":
        loss_t = loss_t + (cn_t * torch.tensor(Rc)).sum()
    loss_t.backward()

    inner = rnnkit_rnn(kind, H, return_sequences=True, return_state=True)
    bi = Bidirectional(inner, merge_mode="concat")
    bi.ensure_built((T, I))
    bi.set_weights(
        keras_weights(kind, module, 0, H) + keras_weights(kind, module, 0, H, "_reverse")
    )
    ns = n_states(kind)
    init = [h0[0], c0[0]][:ns] + [h0[1], c0[1]][:ns]  # forward's states, then backward's
    out, *states = bi(x, initial_state=init)
    check(out, out_t, "concatenated output")
    check(states[0], hn_t[0], "forward final h")
    check(states[ns], hn_t[1], "backward final h")
    if kind == "lstm":
        check(states[1], cn_t[0], "forward final c")
        check(states[3], cn_t[1], "backward final c")

    dstates = [Rh[0], Rc[0]][:ns] + [Rh[1], Rc[1]][:ns]
    dx = bi.backward([R] + dstates)
    check(dx, xt.grad, "dL/dx")
    for d, sub in enumerate([bi.forward_layer, bi.backward_layer]):
        check(sub.initial_state_grads[0], h0t.grad[d], f"direction {d} dL/dh0")
        if kind == "lstm":
            check(sub.initial_state_grads[1], c0t.grad[d], f"direction {d} dL/dc0")
    check_param_grads(kind, bi.forward_layer, module, 0, H, what="forward")
    check_param_grads(kind, bi.backward_layer, module, 0, H, "_reverse", what="backward")
    # the wrapper's own gradient list is the two directions' lists, in weights() order
    assert len(bi.gradients()) == len(bi.weights()) == 6
    expected = bi.forward_layer.gradients() + bi.backward_layer.gradients()
    for g, ref in zip(bi.gradients(), expected, strict=True):
        np.testing.assert_array_equal(g, ref)


# ---- a whole model: Embedding -> LSTM -> Dense(softmax), cross-entropy ----------------
@pytest.mark.parametrize(
    "mask_zero, packed_below",
    [(False, 0.8), (True, 0.0), (True, 2.0)],
    ids=["dense", "padded", "packed"],
)
def test_sequential_embedding_lstm_softmax_matches_torch(mask_zero, packed_below, monkeypatch):
    """``packed_below``: rnnkit's PACKED_BELOW, so that the masked batch (39 of 48 steps
    kept) runs the padded path (0) or the packed one (2), against pack_padded_sequence."""
    from rnnkit.layers import recurrent

    monkeypatch.setattr(recurrent, "PACKED_BELOW", packed_below)
    V, E, U, K, N, S = 17, 6, 5, 4, 6, 8
    rng = np.random.default_rng(2024)
    if mask_zero:
        lengths = np.array([8, 3, 5, 1, 8, 6])
        x = np.zeros((N, S), dtype=np.int64)
        for i, n in enumerate(lengths):
            x[i, :n] = rng.integers(1, V, size=n)  # post-padded with id 0
    else:
        lengths = np.full(N, S)
        x = rng.integers(0, V, size=(N, S))
    y = rng.integers(0, K, size=N)

    torch.manual_seed(3)
    emb = torch.nn.Embedding(V, E, dtype=torch.float64)
    lstm = torch.nn.LSTM(E, U, batch_first=True, dtype=torch.float64)
    lin = torch.nn.Linear(U, K, dtype=torch.float64)
    seq = emb(torch.tensor(x))
    if mask_zero:
        seq = torch.nn.utils.rnn.pack_padded_sequence(
            seq, torch.tensor(lengths), batch_first=True, enforce_sorted=False
        )
    _, (hn, _) = lstm(seq)
    logits = lin(hn[-1])
    loss_t = F.cross_entropy(logits, torch.tensor(y))
    loss_t.backward()

    model = Sequential(
        [
            Embedding(V, E, input_length=S, mask_zero=mask_zero, dtype="float64"),
            LSTM(U, dtype="float64"),
            Dense(K, activation="softmax", dtype="float64"),
        ]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.set_weights(
        [emb.weight.detach().numpy()]
        + keras_weights("lstm", lstm, 0, U)
        + [lin.weight.detach().numpy().T, lin.bias.detach().numpy()]
    )
    loss, y_pred, _, grad, fused = model.compute_loss(x, y)
    model.backward(grad, from_logits=fused)
    assert (model.layers[1]._cache["packed"] is not None) == (packed_below > 1)

    assert abs(loss - loss_t.item()) <= 1e-12 * abs(loss_t.item()), (loss, loss_t.item())
    check(y_pred, torch.softmax(logits, dim=-1), "predicted probabilities")
    names = [n for n, _ in model.weights()]
    grads = dict(zip(names, model.gradients(), strict=True))
    assert len(grads) == len(names) == 6, names
    emb_name, k_name, r_name, b_name, dk_name, db_name = names
    check(grads[emb_name], emb.weight.grad, "dL/dembeddings")
    idx = gate_index("lstm", U)
    check(grads[k_name], lstm.weight_ih_l0.grad.numpy()[idx].T, "dL/dLSTM kernel")
    check(grads[r_name], lstm.weight_hh_l0.grad.numpy()[idx].T, "dL/dLSTM recurrent_kernel")
    check(grads[b_name], lstm.bias_ih_l0.grad, "dL/dLSTM bias (vs bias_ih)")
    check(grads[b_name], lstm.bias_hh_l0.grad, "dL/dLSTM bias (vs bias_hh)")
    check(grads[dk_name], lin.weight.grad.numpy().T, "dL/dDense kernel")
    check(grads[db_name], lin.bias.grad, "dL/dDense bias")

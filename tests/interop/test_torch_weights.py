"""PyTorch weights loaded into rnnkit models predict what the PyTorch modules do.

Each module kind and option (nn.RNN tanh/relu, nn.LSTM, nn.GRU; num_layers 1 and 2,
bidirectional or not, batch_first either way, with and without biases; nn.Linear,
nn.Embedding) is built in PyTorch with random weights, loaded into the rnnkit model
that mirrors it, and both run on the same input: outputs agree to 1e-5 (float32).
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.interop.torch_weights import load_torch_weights, read_state_dict, torch_rnn_to_keras
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN, TimeDistributed
from rnnkit.models import Input, Model, Sequential

torch = pytest.importorskip("torch", reason="PyTorch is not installed")

B, T, I, H = 3, 5, 4, 6
TOL = 1e-5


def torch_module(kind, num_layers, bidirectional, batch_first, bias):
    common = dict(
        num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias
    )
    if kind == "lstm":
        return torch.nn.LSTM(I, H, **common)
    if kind == "gru":
        return torch.nn.GRU(I, H, **common)
    return torch.nn.RNN(I, H, nonlinearity=kind.split("_")[1], **common)


def rnnkit_layer(kind, bias, **kwargs):
    if kind == "lstm":
        return LSTM(H, use_bias=bias, **kwargs)
    if kind == "gru":
        return GRU(H, use_bias=bias, **kwargs)
    return SimpleRNN(H, activation=kind.split("_")[1], use_bias=bias, **kwargs)


def rnnkit_stack(kind, num_layers, bidirectional, bias):
    layers = []
    for k in range(num_layers):
        shape = {"input_shape": (None, I)} if k == 0 else {}
        if bidirectional:
            layers.append(Bidirectional(rnnkit_layer(kind, bias, return_sequences=True), **shape))
        else:
            layers.append(rnnkit_layer(kind, bias, return_sequences=True, **shape))
    return Sequential(layers)


def randomize(module, seed=0):
    """Weights of a larger spread than PyTorch's default, so that a gate or bias put in
    the wrong place shows in the outputs."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.rand(p.shape, generator=gen) * 1.6 - 0.8)


def assert_close(actual, expected, what=""):
    err = float(np.max(np.abs(np.asarray(actual, np.float64) - np.asarray(expected))))
    assert err < TOL, f"{what}: max abs difference {err:.2e} >= {TOL}"


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["bf", "tf"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
def test_recurrent_modules_predict_the_same(kind, num_layers, bidirectional, batch_first, bias):
    torch.manual_seed(0)
    module = torch_module(kind, num_layers, bidirectional, batch_first, bias)
    randomize(module)
    model = rnnkit_stack(kind, num_layers, bidirectional, bias)
    where = load_torch_weights(model, module.state_dict())
    assert where == {"": [layer.name for layer in model.layers]}
    x = np.random.default_rng(1).standard_normal((B, T, I)).astype(np.float32)
    with torch.no_grad():
        xt = torch.from_numpy(x if batch_first else x.transpose(1, 0, 2).copy())
        out = module(xt)[0].numpy()
    if not batch_first:
        out = out.transpose(1, 0, 2)
    assert_close(model.predict(x, verbose=0), out, f"{kind} x{num_layers}")


class Tagger(torch.nn.Module):
    """Embedding -> bidirectional GRU -> LSTM -> Linear per step."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(11, 5)
        self.encoder = torch.nn.GRU(5, H, bidirectional=True, batch_first=True)
        self.decoder = torch.nn.LSTM(2 * H, H, batch_first=True)
        self.head = torch.nn.Linear(H, 3)

    def forward(self, ids):
        y, _ = self.encoder(self.embed(ids))
        y, _ = self.decoder(y)
        return self.head(y)


def tagger_model(per_step_wrapper=False):
    head = TimeDistributed(Dense(3), name="head") if per_step_wrapper else Dense(3, name="head")
    return Sequential(
        [
            Embedding(11, 5, input_shape=(None,), name="embed"),
            Bidirectional(GRU(H, return_sequences=True), name="encoder"),
            LSTM(H, return_sequences=True, name="decoder"),
            head,
        ]
    )


@pytest.fixture(scope="module")
def tagger():
    torch.manual_seed(3)
    module = Tagger()
    randomize(module, seed=3)
    ids = np.random.default_rng(2).integers(0, 11, size=(B, T))
    with torch.no_grad():
        expected = module(torch.from_numpy(ids)).numpy()
    return module, ids, expected


def test_a_whole_model_by_name_and_by_order(tagger):
    module, ids, expected = tagger
    model = tagger_model()
    where = load_torch_weights(model, module.state_dict())  # prefixes are layer names
    assert where == {
        "embed": ["embed"],
        "encoder": ["encoder"],
        "decoder": ["decoder"],
        "head": ["head"],
    }
    assert_close(model.predict(ids, verbose=0), expected, "by name")

    renamed = {f"net.{k}": v for k, v in module.state_dict().items()}
    model = tagger_model(per_step_wrapper=True)
    where = load_torch_weights(model, renamed)  # no names match: by order
    assert list(where) == ["net.embed", "net.encoder", "net.decoder", "net.head"]
    assert_close(model.predict(ids, verbose=0), expected, "by order, TimeDistributed head")


def test_numpy_arrays_and_an_explicit_mapping(tagger):
    module, ids, expected = tagger
    # the state dict's modules renamed, as NumPy arrays; the mapping says where each goes
    groups = {}
    for key, value in module.state_dict().items():
        prefix, leaf = key.split(".")
        groups.setdefault(prefix, {})[leaf] = value.numpy()
    arrays = {f"x_{p}.{leaf}": v for p, d in groups.items() for leaf, v in d.items()}
    model = tagger_model()
    mapping = {
        "x_head": "head",
        "x_decoder": model.layers[2],
        "x_embed": "embed",
        "x_encoder": ["encoder"],
    }
    load_torch_weights(model, arrays, mapping=mapping)
    assert_close(model.predict(ids, verbose=0), expected, "numpy arrays, mapping")


def test_safetensors_and_pt_files(tagger, tmp_path):
    module, ids, expected = tagger
    safetensors_torch = pytest.importorskip("safetensors.torch")
    st = tmp_path / "tagger.safetensors"
    safetensors_torch.save_file(module.state_dict(), str(st))
    model = tagger_model()
    load_torch_weights(model, st)  # names sorted in the file: matched by layer name
    assert_close(model.predict(ids, verbose=0), expected, ".safetensors")

    pt = tmp_path / "tagger.pt"
    torch.save(module.state_dict(), pt)
    model = tagger_model()
    load_torch_weights(model, str(pt))
    assert_close(model.predict(ids, verbose=0), expected, ".pt")


def test_a_single_layer_and_the_conversion_function():
    torch.manual_seed(5)
    module = torch.nn.GRU(I, H, batch_first=True)
    randomize(module, 5)
    layer = GRU(H, return_sequences=True)
    layer.ensure_built((T, I))
    load_torch_weights(layer, module.state_dict())
    x = np.random.default_rng(4).standard_normal((B, T, I)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x))[0].numpy()
    assert_close(layer(x), expected, "layer")
    sd = {k: v.numpy() for k, v in module.state_dict().items()}
    converted = torch_rnn_to_keras(
        "gru", sd["weight_ih_l0"], sd["weight_hh_l0"], sd["bias_ih_l0"], sd["bias_hh_l0"]
    )
    for mine, theirs in zip(converted, layer.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-7)


# ---- bad input: an error naming the tensor, and the model unchanged ---------------------
def lstm_model():
    return Sequential([LSTM(H, input_shape=(None, I), name="rnn"), Dense(2, name="out")])


def lstm_state():
    torch.manual_seed(7)
    rnn, out = torch.nn.LSTM(I, H), torch.nn.Linear(H, 2)
    sd = {f"rnn.{k}": v for k, v in rnn.state_dict().items()}
    sd.update({f"out.{k}": v for k, v in out.state_dict().items()})
    return sd


def unchanged_after(model, state, match, **kwargs):
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        load_torch_weights(model, state, **kwargs)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_missing_extra_and_misshapen_tensors_leave_the_model_unchanged():
    model = lstm_model()
    good = lstm_state()
    missing = {k: v for k, v in good.items() if k != "out.bias"}  # the last module's
    unchanged_after(model, missing, r"out\.bias")
    missing = {k: v for k, v in good.items() if k != "rnn.weight_hh_l0"}
    unchanged_after(model, missing, r"rnn\.weight_hh_l0.*missing")
    extra = dict(good, **{"rnn.weight_ih_l1": good["rnn.weight_ih_l0"]})
    unchanged_after(model, extra, r"stacked|rnn\.weight_ih_l1")
    extra = dict(good, **{"out.scale": torch.ones(2)})
    unchanged_after(model, extra, r"out\.scale")
    wrong = dict(good, **{"out.weight": torch.ones(2, H + 1)})
    unchanged_after(model, wrong, r"out\.weight.*\(2, 7\)")
    unchanged_after(model, dict(good, **{"head.weight": torch.ones(2, H)}), r"head\.weight")
    unchanged_after(
        model, good, "mapping names layer 'nope'", mapping={"rnn": "nope", "out": "out"}
    )
    unchanged_after(model, good, "not in mapping", mapping={"rnn": "rnn"})
    unchanged_after(
        model,
        {"rnn." + k: v for k, v in torch.nn.GRU(I, H).state_dict().items()}
        | {k: v for k, v in good.items() if k.startswith("out")},
        r"rnn\.weight_ih_l0.*shape",
    )
    nobias = {"rnn." + k: v for k, v in torch.nn.LSTM(I, H, bias=False).state_dict().items()}
    unchanged_after(
        model, nobias | {k: v for k, v in good.items() if k.startswith("out")}, "use_bias"
    )
    bi = {"rnn." + k: v for k, v in torch.nn.LSTM(I, H, bidirectional=True).state_dict().items()}
    unchanged_after(
        model, bi | {k: v for k, v in good.items() if k.startswith("out")}, "Bidirectional"
    )


def test_bad_sources(tmp_path):
    model = lstm_model()
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_torch_weights(model, tmp_path / "missing.pt")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(ValueError, match="bad.safetensors"):
        load_torch_weights(model, bad)
    bad_pt = tmp_path / "bad.pt"
    bad_pt.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.pt"):
        load_torch_weights(model, bad_pt)
    odd = tmp_path / "weights.txt"
    odd.write_text("x")
    with pytest.raises(ValueError, match="unknown weights file type"):
        load_torch_weights(model, odd)
    module_pt = tmp_path / "module.pt"
    torch.save([torch.ones(2)], module_pt)
    with pytest.raises(ValueError, match="not a state_dict"):
        read_state_dict(module_pt)
    with pytest.raises(TypeError, match="state_dict"):
        load_torch_weights(model, 3)
    with pytest.raises(ValueError, match="not built"):
        load_torch_weights(Sequential([LSTM(H)]), lstm_state())
    with pytest.raises(ValueError, match="empty"):
        load_torch_weights(model, {})


def test_functional_model_by_name():
    torch.manual_seed(9)
    enc = torch.nn.LSTM(I, H, batch_first=True)
    head = torch.nn.Linear(H, 2)
    randomize(enc, 9)
    inp = Input((None, I))
    out = Dense(2, name="head")(LSTM(H, name="enc")(inp))
    model = Model(inp, out)
    sd = {f"enc.{k}": v for k, v in enc.state_dict().items()}
    sd |= {f"head.{k}": v for k, v in head.state_dict().items()}
    load_torch_weights(model, sd)
    x = np.random.default_rng(0).standard_normal((B, T, I)).astype(np.float32)
    with torch.no_grad():
        y, _ = enc(torch.from_numpy(x))
        expected = head(y[:, -1]).numpy()
    assert_close(model.predict(x, verbose=0), expected, "functional")

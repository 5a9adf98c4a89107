"""rnnkit lm train / generate on a small corpus, and their error handling."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnkit.cli.main import main
from tests.cli import run_cli

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 60
SMALL = ["--units", "16", "--embed-dim", "8", "--window", "20", "--batch-size", "4", "-q"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "text.txt"
    path.write_text(TEXT)
    return path


def train(corpus, out, *extra):
    """rnnkit lm train on the small corpus with the small model; must succeed."""
    assert main(["lm", "train", "--corpus", str(corpus), "--out", str(out), *extra, *SMALL]) == 0


@pytest.fixture(scope="module")
def run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("lm")
    train(corpus, out, "--epochs", "4", "--lr", "0.02")
    return out


def test_train_writes_a_run_folder_and_learns(run):
    metrics = json.loads((run / "metrics.json").read_text())
    history = json.loads((run / "history.json").read_text())
    assert metrics["val_loss_nats"] < history["val_loss"][0] or metrics["best_epoch"] == 1
    assert metrics["val_bits_per_token"] == pytest.approx(
        metrics["val_loss_nats"] / 0.6931, rel=1e-3
    )
    assert metrics["val_loss_nats"] < 3.0  # uniform over the vocabulary is ln(31) = 3.43
    for name in ("model.rnnkit", "tokenizer.json", "learning_curves.png", "config.json"):
        assert (run / name).exists(), name
    assert list((run / "checkpoints").glob("ckpt-*.rnnkit"))


def test_generate_is_reproducible_and_primed(run):
    a = run_cli("lm", "generate", str(run), "--prompt", "All:", "--length", "40", "--seed", "5")
    b = run_cli("lm", "generate", str(run), "--prompt", "All:", "--length", "40", "--seed", "5")
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout and a.stdout.startswith("All:")
    assert len(a.stdout.rstrip("\n")) == len("All:") + 40
    greedy = run_cli("lm", "generate", str(run), "--prompt", "All:", "--greedy", "--length", "10")
    beam = run_cli("lm", "generate", str(run), "--prompt", "All:", "--beam", "3", "--length", "10")
    assert greedy.returncode == 0 and beam.returncode == 0


def test_unknown_characters_are_dropped_with_notice(run):
    result = run_cli("lm", "generate", str(run), "--prompt", "Zq€All", "--length", "5")
    assert result.returncode == 0 and "dropped characters" in result.stderr
    only_unknown = run_cli("lm", "generate", str(run), "--prompt", "€€", "--length", "5")
    assert only_unknown.returncode == 2 and "no token" in only_unknown.stderr


def test_resume_continues_the_run(corpus, tmp_path):
    out = tmp_path / "r"
    train(corpus, out, "--epochs", "2")
    config = json.loads((out / "config.json").read_text())
    config["epochs"] = 3
    (out / "config.json").write_text(json.dumps(config))
    assert main(["lm", "train", "--corpus", str(corpus), "--resume", str(out), "-q"]) == 0
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 3


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--temperature", "0"], "temperature"),
        (["--temperature", "-2"], "temperature"),
        (["--top-p", "0"], "top_p"),
        (["--top-p", "1.5"], "top_p"),
    ],
)
def test_bad_sampling_options_exit_2(run, extra, message):
    result = run_cli("lm", "generate", str(run), "--length", "5", *extra)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_corpora_exit_2(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    short = tmp_path / "short.txt"
    short.write_text("too short for a window")
    for path, message in [
        (empty, "empty"),
        (short, "too short"),
        (tmp_path / "missing.txt", "not found"),
    ]:
        result = run_cli("lm", "train", "--corpus", str(path), *SMALL)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr


def test_tied_weights_option(corpus, tmp_path):
    out = tmp_path / "tied"
    train(corpus, out, "--epochs", "1", "--tie-weights")
    result = run_cli("lm", "generate", str(out), "--prompt", "All:", "--length", "5")
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "config.json").read_text())["tie_weights"] is True


def test_torch_init_threads_and_time_budget_options(corpus, tmp_path):
    out = tmp_path / "t"
    train(
        corpus, out, "--epochs", "3", "--init", "torch", "--threads", "1", "--time-budget", "1e-6"
    )
    config = json.loads((out / "config.json").read_text())
    assert config["init"] == "torch" and config["threads"] == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == 1  # a budget of a microsecond: one epoch, then stop


def test_torch_init_draws_as_pytorch():
    from rnnkit.experiments import lm

    cfg = lm.LMConfig(corpus="-", layers=1, units=400, embed_dim=64, init="torch")
    model = lm.build_model(cfg, vocab=300)
    emb, rnn, dense = model.layers[0], model.layers[1], model.layers[-1]
    assert abs(float(emb.params["embeddings"].std()) - 1.0) < 0.02  # N(0, 1)
    k = 1 / 400**0.5
    for w in (*rnn.get_weights(), dense.params["kernel"]):
        assert np.abs(w).max() <= k and np.abs(w).max() > 0.95 * k  # U(-k, k)
    keras = lm.build_model(lm.LMConfig(corpus="-", layers=1, units=400), vocab=300)
    bias = keras.layers[1].get_weights()[2]
    assert (bias[400:800] == 1).all()  # Keras: forget-gate bias 1
    assert np.abs(rnn.get_weights()[2][400:800]).max() <= k  # PyTorch: none
    assert np.abs(keras.layers[0].params["embeddings"]).max() <= 0.05

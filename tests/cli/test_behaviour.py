"""A command line that behaves like one: python -m rnnkit, a subcommand's usage with a
suggestion on a misspelt option, options in any order, one line per epoch off a
terminal, -q keeping the results, the time budget said, --data named when data is
missing; installs that say what is missing; pictures with titles, units and legends."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnkit import plotting
from rnnkit.cli.main import build_parser, main

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 40
SMALL = ["--units", "8", "--embed-dim", "4", "--window", "10", "--batch-size", "4"]


def rnnkit(*args, block=(), env=None):
    """``python -m rnnkit ARGS`` with stdout and stderr to pipes (not a terminal);
    ``block``: modules made unimportable, as if their extra were not installed."""
    prelude = "".join(f"sys.modules[{name!r}] = None\n" for name in block)
    code = f"import sys\n{prelude}from rnnkit.cli.main import main\nsys.exit(main(sys.argv[1:]))"
    command = [sys.executable, "-m", "rnnkit", *args]
    if block:
        command = [sys.executable, "-c", code, *args]
    full_env = dict(os.environ, OPENBLAS_NUM_THREADS="1", **(env or {}))
    return subprocess.run(command, capture_output=True, text=True, timeout=240, env=full_env)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def test_python_dash_m_rnnkit():
    result = rnnkit("--version")
    assert result.returncode == 0 and result.stdout.startswith("rnnkit ")
    assert "COMMAND" in rnnkit("--help").stdout


def test_a_misspelt_option_shows_the_subcommands_usage_with_a_suggestion():
    result = rnnkit("reuters", "--modle", "bigru")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: rnnkit reuters")
    assert "did you mean --model?" in result.stderr
    result = rnnkit("lm", "train", "--unts", "8")
    assert "usage: rnnkit lm train" in result.stderr and "did you mean --units?" in result.stderr
    result = rnnkit("reuter")
    assert result.returncode == 2 and "did you mean 'reuters'?" in result.stderr


def test_options_in_any_order():
    from rnnkit.cli.main import _leaf

    parser = build_parser()
    for argv in (
        ["predict", "RUN", "--top", "2", "some text"],
        ["predict", "--top", "2", "RUN", "some text"],
        ["predict", "RUN", "some text", "--top", "2"],
    ):
        leaf, names, rest = _leaf(parser, argv)
        args = leaf.parse_intermixed_args(rest)
        assert (args.run_folder, args.text, args.top) == ("RUN", "some text", 2), argv
    # end to end: the kind check of the folder is reached, so the options parsed
    result = rnnkit("predict", "/no/such/run", "--top", "2", "some text")
    assert result.returncode == 2 and "not found" in result.stderr


def test_progress_off_a_terminal_and_quiet(corpus, tmp_path):
    out = tmp_path / "a"
    args = ["lm", "train", "--corpus", str(corpus), "--epochs", "2", *SMALL]
    result = rnnkit(*args, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr  # no carriage-return progress bars in a log
    epochs = [line for line in result.stderr.splitlines() if line.startswith("Epoch ")]
    assert [line.split(" - ")[0] for line in epochs] == ["Epoch 1/2", "Epoch 2/2"]
    quiet = rnnkit(*args, "--out", str(tmp_path / "b"), "-q")
    assert quiet.returncode == 0 and "Epoch" not in quiet.stderr
    assert "best validation loss" in quiet.stdout and "run folder:" in quiet.stdout


def test_the_time_budget_says_when_it_ended_training(corpus, tmp_path):
    args = ["lm", "train", "--corpus", str(corpus), "--epochs", "3", "--time-budget", "1e-6"]
    result = rnnkit(*args, *SMALL, "--out", str(tmp_path / "t"), "-q")
    assert result.returncode == 0, result.stderr
    assert "time budget of 1e-06 min reached: training stopped after epoch 1 of 3" in (
        result.stdout
    )


def test_missing_data_names_the_data_option(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = rnnkit("reuters", "--data", str(empty), "-q")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "--data" in result.stderr and "path=" not in result.stderr
    result = rnnkit("lm", "train", "--corpus", "reuters-modapte", "--data", str(empty), "-q")
    assert result.returncode == 2 and "--data" in result.stderr and "path=" not in result.stderr


# ---- installs ------------------------------------------------------------------------
def test_make_reuters_installs_only_what_the_main_job_uses():
    text = (ROOT / "Makefile").read_text()
    target = re.search(r"^reuters: (.*)$", text, re.M).group(1).split()
    assert target == ["$(VENV)/.installed-main"]
    rule = text.split("$(VENV)/.installed-main: pyproject.toml", 1)[1].split("\n\n", 1)[0]
    assert "pip install -q -e '.[plot]'" in rule and "[test" not in rule
    assert "'.[test,plot]'" in text  # make test installs the rest


def test_without_matplotlib_a_run_says_so_once(corpus, tmp_path):
    args = ["lm", "train", "--corpus", str(corpus), "--epochs", "1", *SMALL, "-q"]
    result = rnnkit(*args, "--out", str(tmp_path / "m"), block=["matplotlib"])
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("rnnkit[plot]") == 1, result.stderr
    assert not (tmp_path / "m" / "learning_curves.png").exists()


def test_an_explicit_picture_without_matplotlib_is_an_error_before_work(tmp_path):
    from rnnkit import runs

    folder = tmp_path / "dates"
    runs.write_config(folder, "seq2seq", {"task": "dates", "n_train": 10})
    png = tmp_path / "heat.png"
    result = rnnkit(
        "seq2seq", "run", str(folder), "March 3, 1987", "--heatmap", str(png), block=["matplotlib"]
    )
    assert (
        result.returncode == 2 and "--heatmap" in result.stderr and "rnnkit[plot]" in result.stderr
    )
    assert not png.exists()
    addition = tmp_path / "addition"
    runs.write_config(addition, "seq2seq", {"task": "addition", "n_train": 10})
    result = rnnkit("seq2seq", "run", str(addition), "1+2", "--heatmap", str(png))
    assert result.returncode == 2 and "no attention" in result.stderr


def test_linear_baseline_without_scikit_learn_fails_before_training(tmp_path):
    result = rnnkit("reuters", "--linear-baseline", "--data", str(tmp_path), block=["sklearn"])
    assert result.returncode == 2 and "scikit-learn" in result.stderr
    assert "before training" in result.stderr


# ---- pictures ------------------------------------------------------------------------
@pytest.fixture
def figures(monkeypatch):
    """The figures the plotting functions save, kept open for inspection."""
    pytest.importorskip("matplotlib")
    kept = []
    real = plotting._save

    def keep(fig, path):
        kept.append(fig)
        return real(fig, path)

    monkeypatch.setattr(plotting, "_save", keep)
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "close", lambda fig=None: None)
    return kept


@pytest.mark.parametrize("epochs", [1, 7])
def test_learning_curves_are_readable_with_one_epoch_or_many(figures, tmp_path, epochs):
    history = {
        "loss": list(np.linspace(2, 1, epochs)),
        "val_loss": list(np.linspace(2.1, 1.2, epochs)),
        "accuracy": list(np.linspace(0.2, 0.8, epochs)),
        "val_accuracy": list(np.linspace(0.1, 0.7, epochs)),
    }
    labels = {"loss": "cross-entropy (nats per token)", "accuracy": "per-token accuracy (fraction)"}
    path = plotting.learning_curves(history, tmp_path / "c.png", title="curves", labels=labels)
    assert Path(path).stat().st_size > 0
    (fig,) = figures
    assert fig._suptitle.get_text() == "curves"
    for ax, key in zip(fig.axes, ("loss", "accuracy")):
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == labels[key]
        assert ax.get_title()
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training", "validation"]
        for line in ax.get_lines():
            assert line.get_marker() not in (None, "", "None")  # one epoch: a visible point
            assert len(line.get_xdata()) == epochs


def test_the_attention_heat_map_has_a_colour_bar(figures, tmp_path):
    weights = np.full((4, 6), 1 / 6)
    plotting.attention_heatmap(weights, "3.3.87", "1987", tmp_path / "a.png", title="attention")
    (fig,) = figures
    heat, bar = fig.axes
    assert "attention weight" in bar.get_ylabel()
    assert heat.get_title() == "attention" and heat.get_xlabel() and heat.get_ylabel()


def test_seq2seq_curves_say_per_token_accuracy(figures, tmp_path):
    out = tmp_path / "s"
    args = ["seq2seq", "train", "--task", "addition", "--epochs", "1", "--out", str(out)]
    small = ["--n-train", "200", "--n-test", "20", "--units", "8", "--embed-dim", "4", "-q"]
    assert main([*args, *small]) == 0
    curves = [f for f in figures if f._suptitle is not None]
    (fig,) = curves
    assert fig.axes[1].get_ylabel().startswith("per-token accuracy")
    assert "nats per output token" in fig.axes[0].get_ylabel()
    assert (out / "learning_curves.png").stat().st_size > 0

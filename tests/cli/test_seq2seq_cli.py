"""rnnkit seq2seq on small generated tasks: the shapes learn, runs are reusable, bad
input is refused cleanly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnkit.cli.main import main
from tests.cli import run_cli


def train(task, out, *extra):
    assert main(["seq2seq", "train", "--task", task, "--out", str(out), "-q", *extra]) == 0
    return json.loads((out / "metrics.json").read_text())


def test_tagging_many_to_many_aligned(tmp_path):
    metrics = train(
        "tagging",
        tmp_path,
        "--n-train",
        "1500",
        "--n-test",
        "200",
        "--epochs",
        "6",
        "--units",
        "32",
    )
    assert metrics["per_step_accuracy"] > 0.97
    result = run_cli("seq2seq", "run", str(tmp_path), "sells 120 kg")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OOOOOOBIIOOO"[: len("sells 120 kg")]


def test_digits_one_to_many(tmp_path):
    pytest.importorskip("sklearn")
    metrics = train("digits", tmp_path, "--epochs", "8", "--units", "64")
    assert metrics["exact_match"] > 0.85  # spelled names of held-out images
    result = run_cli("seq2seq", "run", str(tmp_path), "0")
    assert result.returncode == 0 and result.stdout.strip() == "zero"
    bad = run_cli("seq2seq", "run", str(tmp_path), "99999")
    assert bad.returncode == 2 and "index" in bad.stderr


@pytest.fixture(scope="module")
def dates_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dates")
    train("dates", out, "--n-train", "600", "--n-test", "50", "--epochs", "1", "--units", "16")
    return out


def test_dates_run_writes_heatmap_and_beam(dates_run, tmp_path):
    png = tmp_path / "heat.png"
    greedy = run_cli("seq2seq", "run", str(dates_run), "3 mar 1987", "--heatmap", str(png))
    assert greedy.returncode == 0, greedy.stderr
    assert png.stat().st_size > 0
    default = run_cli("seq2seq", "run", str(dates_run), "3 mar 1987")
    assert default.returncode == 0 and (dates_run / "attention.png").stat().st_size > 0
    assert "attention heat map" in default.stderr
    beam = run_cli("seq2seq", "run", str(dates_run), "3 mar 1987", "--beam", "3")
    assert beam.returncode == 0 and len(beam.stdout.strip()) <= 11  # 10 characters + end


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "empty"),
        ("x" * 200, "at most"),
    ],
)
def test_bad_inputs_exit_2(dates_run, text, message):
    result = run_cli("seq2seq", "run", str(dates_run), text)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_characters_map_to_the_unknown_mark(dates_run):
    result = run_cli("seq2seq", "run", str(dates_run), "3 mar 1987 ✓")
    assert result.returncode == 0, result.stderr


def test_resume_continues_a_run(tmp_path):
    out = tmp_path / "t"
    train(
        "tagging",
        out,
        "--n-train",
        "300",
        "--n-test",
        "20",
        "--epochs",
        "2",
        "--units",
        "8",
        "--patience",
        "50",
    )
    config = json.loads((out / "config.json").read_text())
    config["epochs"] = 3
    (out / "config.json").write_text(json.dumps(config))
    assert main(["seq2seq", "train", "--resume", str(out), "-q"]) == 0
    assert json.loads((out / "metrics.json").read_text())["epochs_run"] == 3
    missing = run_cli("seq2seq", "train", "-q")
    assert missing.returncode == 2 and "--task" in missing.stderr


def test_a_saved_run_decodes_exactly_as_training_did(dates_run):
    """The run folder's character tables keep every id (a re-sorted table once moved
    the unknown mark and shifted the letters: months came out wrong)."""
    from rnnkit import runs
    from rnnkit.experiments import seq2seq
    from rnnkit.models import load_model

    config = runs.open_run(dates_run, "seq2seq", "test")
    cfg = runs.config_from(seq2seq.Seq2SeqConfig, config, dates_run / "config.json")
    d = seq2seq.make_data(cfg)
    sources = [s for s, _ in d["test"][:50]] + ["Tuesday, March 3, 1987"]
    vocab = runs.read_json(dates_run / "vocab.json")
    for side, length in (("src", d["src_len"]), ("tgt", d["tgt_len"])):
        saved = seq2seq.data.CharTable.from_list(vocab[side], unknown=d[side].unknown)
        texts = sources if side == "src" else [t for _, t in d["test"][:50]]
        np.testing.assert_array_equal(saved.encode(texts, length), d[side].encode(texts, length))
    model = load_model(dates_run / "model.rnnkit")  # and the command decodes the same
    in_memory = seq2seq.decode(model, "dates", d, d["x_test"][:3])
    assert [seq2seq.run_on_text(dates_run, s) for s, _ in d["test"][:3]] == in_memory

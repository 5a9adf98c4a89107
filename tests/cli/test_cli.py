"""End to end: the rnnkit command on the real Reuters data, and its error handling."""

from __future__ import annotations

import json

import pytest

from rnnkit.cli.main import main
from tests.cli import run_cli
from tests.conftest import require_data


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    require_data("reuters21578.tar.gz")
    out = tmp_path_factory.mktemp("run")
    code = main(["reuters", "--epochs", "3", "--seed-rnn-epochs", "2", "--out", str(out), "-q"])
    assert code == 0
    return out


def test_reuters_main_job_beats_the_majority_class(trained_run):
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["n_train"] == 1395 and metrics["n_test"] == 599
    model_row, seed_row = metrics["rows"]
    assert model_row["accuracy"] > metrics["majority_class_rate"] + 0.05
    assert 0 <= seed_row["accuracy"] <= 1 and 0 <= model_row["macro_f1"] <= 1
    for name in (
        "config.json",
        "vocab.json",
        "history.json",
        "model.rnnkit",
        "learning_curves.png",
        "confusion_matrix.png",
    ):
        assert (trained_run / name).stat().st_size > 0, name


def test_predict_prints_top_three_topics(trained_run):
    story = (
        "Shr 45 cts vs 38 cts. Net profit 12.5 mln dlrs vs 10.1 mln. Revenues 150 mln "
        "dlrs vs 131 mln. Qtly dividend 10 cts"
    )
    result = run_cli("predict", str(trained_run), story)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    topics = [line.split()[0] for line in lines]
    probs = [float(line.split()[1]) for line in lines]
    assert topics[0] == "earn" and probs == sorted(probs, reverse=True)
    piped = run_cli("predict", str(trained_run), "-", stdin=story)
    assert piped.stdout == result.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["reuters", "--epochs", "0"], "expected a positive integer"),
        (["reuters", "--model", "transformer"], "invalid choice"),
        (["reuters", "--test-split", "1.5"], "expected a number in (0, 1)"),
        (["predict", "/no/such/run", "text"], "not found"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_predict_empty_text_and_bad_data_path(trained_run, tmp_path):
    result = run_cli("predict", str(trained_run), "   ")
    assert result.returncode == 2 and "empty" in result.stderr and "Traceback" not in result.stderr
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"garbage")
    result = run_cli("reuters", "--data", str(junk), "--epochs", "1", "-q")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_reuters_resume_after_a_crash_gives_the_same_model(tmp_path):
    """--resume continues an interrupted run from its checkpoints exactly."""
    import numpy as np

    from rnnkit.experiments import reuters as job
    from rnnkit.models import load_model
    from rnnkit.models.checkpoint import list_checkpoints

    require_data("reuters21578.tar.gz")
    args = ["reuters", "--epochs", "3", "--no-baseline", "-q", "--seed", "1"]
    reference = tmp_path / "ref"
    assert main([*args, "--out", str(reference)]) == 0
    crashed = tmp_path / "crashed"
    real_fit = job.Sequential.fit

    def fit_then_crash(self, *a, **kw):  # dies after the 2nd epoch's checkpoint
        kw["epochs"] = 2
        real_fit(self, *a, **kw)
        raise KeyboardInterrupt("crash")

    job.Sequential.fit = fit_then_crash
    try:
        assert main([*args, "--out", str(crashed)]) == 130  # interrupted, as Ctrl-C
    finally:
        job.Sequential.fit = real_fit
    assert [p.name for p in list_checkpoints(crashed / "checkpoints")][-1].startswith("ckpt-00002")
    assert main(["reuters", "--resume", str(crashed), "--no-baseline", "-q"]) == 0
    for a, b in zip(
        load_model(reference / "model.rnnkit").get_weights(),
        load_model(crashed / "model.rnnkit").get_weights(),
    ):
        np.testing.assert_array_equal(a, b)
    assert (
        json.loads((crashed / "metrics.json").read_text())["rows"][0]["accuracy"]
        == json.loads((reference / "metrics.json").read_text())["rows"][0]["accuracy"]
    )

"""Data-parallel training on 2 local MPI ranks (mpiexec -n 2) against one process."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py", reason="mpi4py is not installed")
MPIEXEC = shutil.which("mpiexec") or shutil.which(str(Path(sys.executable).parent / "mpiexec"))
pytestmark = [
    pytest.mark.skipif(MPIEXEC is None, reason="no MPI launcher (mpiexec) on this machine"),
    pytest.mark.timeout(240),
]
JOB = Path(__file__).with_name("mpi_job.py")
ENV = {**os.environ, "RNNKIT_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _run(tmp_path, mode, ranks=2):
    out = tmp_path / f"{mode}-{ranks}.json"
    cmd = [sys.executable, str(JOB), str(out), mode]
    if ranks > 1:
        cmd = [MPIEXEC, "-n", str(ranks), *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=200, env=ENV)
    return proc, out


def _result(proc, out):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text())


def test_two_ranks_train_as_one_process(tmp_path):
    one = _result(*_run(tmp_path, "train", ranks=1))
    two = _result(*_run(tmp_path, "train", ranks=2))
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=1e-10)
    np.testing.assert_allclose(two["accuracy"], one["accuracy"], rtol=1e-12)
    for a, b in zip(two["weights"], one["weights"]):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-8, atol=1e-10)


def test_resume_on_two_ranks_matches_one_uninterrupted_process(tmp_path):
    one = _result(*_run(tmp_path, "train", ranks=1))
    resumed = _result(*_run(tmp_path, "resume", ranks=2))
    assert len(list((tmp_path / "ckpt").glob("*.rnnkit"))) >= 1  # rank 0 wrote them
    np.testing.assert_allclose(resumed["loss"], one["loss"], rtol=1e-10)  # history restored
    for a, b in zip(resumed["weights"], one["weights"]):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-8, atol=1e-10)


def test_a_run_of_one_process_resumes_on_two_ranks(tmp_path):
    one = _result(*_run(tmp_path, "train", ranks=1))
    _result(*_run(tmp_path, "first", ranks=1))  # one epoch, checkpointed
    resumed = _result(*_run(tmp_path, "continue", ranks=2))
    np.testing.assert_allclose(resumed["loss"], one["loss"], rtol=1e-10)
    for a, b in zip(resumed["weights"], one["weights"]):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-8, atol=1e-10)


def test_a_failing_rank_stops_all_ranks_and_is_named(tmp_path):
    proc, out = _run(tmp_path, "raise")
    assert proc.returncode != 0
    assert "rank 1 of 2 failed: ValueError: bad input on this shard" in proc.stderr
    assert not out.exists()


def test_a_killed_rank_stops_all_ranks(tmp_path):
    proc, out = _run(tmp_path, "kill")
    assert proc.returncode != 0
    assert not out.exists()
    text = proc.stdout + proc.stderr
    pids = dict(re.findall(r"rank (\d+): pid (\d+)", text))  # rank 0's line at the start
    killed = re.search(r"PID (\d+) RUNNING AT", text)  # the launcher's report
    assert killed and pids.get("1") == killed.group(1), text[-2000:]


def test_ranks_with_different_models_are_refused(tmp_path):
    proc, out = _run(tmp_path, "mismatch")
    assert proc.returncode != 0
    assert "Rank(s) [1] built a different model" in proc.stderr
    assert not out.exists()


def test_lm_train_under_mpiexec_matches_one_process(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("To be, or not to be, that is the question.\n" * 300, encoding="utf-8")
    common = [
        "lm", "train", "--corpus", str(corpus), "--epochs", "2", "--units", "16",
        "--embed-dim", "8", "--layers", "1", "--batch-size", "8", "--window", "20",
        "--dropout", "0", "-q",
    ]  # fmt: skip
    rnnkit = [sys.executable, "-m", "rnnkit"]
    one = subprocess.run(
        [*rnnkit, *common, "--out", str(tmp_path / "one")],
        capture_output=True, text=True, timeout=200, env=ENV,
    )  # fmt: skip
    two = subprocess.run(
        [MPIEXEC, "-n", "2", *rnnkit, *common, "--out", str(tmp_path / "two")],
        capture_output=True, text=True, timeout=200, env=ENV,
    )  # fmt: skip
    assert one.returncode == 0 and two.returncode == 0, two.stdout + two.stderr
    assert two.stdout.count("best validation loss") == 1  # rank 0 alone reports
    a = json.loads((tmp_path / "one" / "history.json").read_text())
    b = json.loads((tmp_path / "two" / "history.json").read_text())
    np.testing.assert_allclose(b["val_loss"], a["val_loss"], rtol=1e-5)
    assert (tmp_path / "two" / "model.rnnkit").is_file()
    assert list((tmp_path / "two" / "checkpoints").glob("*.rnnkit"))


def test_cli_error_on_one_rank_ends_all(tmp_path):
    # a command-line error under mpiexec: every rank stops with its one line, none hangs
    proc = subprocess.run(
        [MPIEXEC, "-n", "2", sys.executable, "-m", "rnnkit", "lm", "train", "--corpus",
         str(tmp_path / "missing.txt"), "--epochs", "1"],
        capture_output=True, text=True, timeout=120, env=ENV,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "rnnkit lm train: error:" in proc.stderr


def test_ranks_with_different_rnnkit_versions_are_refused(tmp_path):
    proc, out = _run(tmp_path, "version")
    assert proc.returncode != 0
    assert "different rnnkit versions" in proc.stderr and "rank 1: 0.0.0" in proc.stderr
    assert not out.exists()

"""Inputs: corpora read as strict UTF-8 (or --encoding), sizes that cannot fit refused
before allocation under a memory limit, and every CLI error as exit 2 and one line."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import pytest

from rnnkit import runs
from rnnkit.cli import main as cli_main

pytestmark = pytest.mark.timeout(120)

TEXT = "Before we proceed any further, hear me speak. Café crème, naïve.\n" * 30


def limited(*args, limit=3 << 30, timeout=90):
    """``python -m rnnkit ARGS`` under an address-space limit (``ulimit -v``) and a
    time limit, so an allocation the input did not justify or a hang fails."""

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "rnnkit", *args],
        capture_output=True,
        text=True,
        preexec_fn=cap,
        timeout=timeout,
        env=env,
    )


def one_line_error(result, *needles):
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


# ---- encodings --------------------------------------------------------------------
def test_latin1_corpus_names_the_file_and_the_first_bad_byte(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes(TEXT.encode("latin-1"))
    offset = TEXT.encode("latin-1").index("é".encode("latin-1"))
    line = one_line_error(limited("lm", "train", "--corpus", str(path), "-q"), str(path))
    assert f"byte 0xe9 at offset {offset}" in line and "--encoding" in line


def test_utf16_corpora_are_refused(tmp_path):
    with_bom = tmp_path / "bom.txt"
    with_bom.write_bytes(TEXT.encode("utf-16"))
    one_line_error(limited("lm", "train", "--corpus", str(with_bom)), "offset 0")
    # without a BOM, ASCII text in UTF-16 is valid UTF-8 with a NUL after every letter
    no_bom = tmp_path / "le.txt"
    no_bom.write_bytes("plain ascii text\n".encode("utf-16-le") * 50)
    one_line_error(limited("lm", "train", "--corpus", str(no_bom)), "NUL character at offset 1")


def test_encoding_option_reads_the_file_as_given(tmp_path):
    from rnnkit.experiments.lm import read_corpus

    path = tmp_path / "latin.txt"
    path.write_bytes(TEXT.encode("latin-1"))
    assert read_corpus(path, "latin-1") == TEXT
    with pytest.raises(ValueError, match="not valid utf-8: byte 0xe9"):
        read_corpus(path)
    with pytest.raises(ValueError, match="unknown encoding 'klingon'"):
        read_corpus(path, "klingon")
    result = limited("lm", "train", "--corpus", str(path), "--encoding", "klingon")
    one_line_error(result, "unknown encoding")


def test_predict_file_is_read_strictly(tmp_path):
    folder = tmp_path / "run"
    runs.write_config(folder, "reuters", {"model": "bigru", "setting": "seeds"})
    story = tmp_path / "story.txt"
    story.write_bytes("Oil prices rose in Zürich.".encode("latin-1"))
    line = one_line_error(limited("predict", str(folder), "--file", str(story)), "story.txt")
    assert f"byte 0xfc at offset {'Oil prices rose in Z'.__len__()}" in line


# ---- sizes that cannot fit --------------------------------------------------------
#: Each: the command line, and what its one-line error must say.
SIZES = [
    (["lm", "train", "--units", "1000000000", "--batch-size", "4", "--window", "10"], "--units"),
    (
        ["lm", "train", "--embed-dim", "1000000000", "--batch-size", "4", "--window", "9"],
        "--embed-dim",
    ),
    (["lm", "train", "--units", "20000", "--batch-size", "2", "--window", "5"], "needs about"),
    (["lm", "train", "--batch-size", "4", "--window", "1000000000"], "window"),
    (["seq2seq", "train", "--task", "addition", "--units", "1000000000"], "needs about"),
    (["seq2seq", "train", "--task", "dates", "--embed-dim", "1000000000"], "--embed-dim"),
    # a million distinct sums of two 3-digit numbers exist: asking for more used to
    # loop forever
    (
        ["seq2seq", "train", "--task", "addition", "--n-train", "999999", "--n-test", "2"],
        "only 1,000,000 distinct sources",
    ),
    (["seq2seq", "train", "--task", "tagging", "--n-train", "10000000000"], "more than the"),
    (["gradients", "--steps", "100000000"], "--steps: at most 100,000"),
    (["gradients", "--units", "1000000000"], "--units: at most"),
    (["gradients", "--steps", "100000", "--batch", "100000"], "needs about"),
    (["reuters", "--embed-dim", "1000000000", "--data", "/nonexistent"], "--embed-dim"),
]


def test_absurd_sizes_fail_fast_in_one_line(corpus):
    """All under one address-space limit (3 GiB) and one time limit, in one process:
    each command must refuse before allocating, with exit 2 and one line."""
    cases = [
        ([*args, "--corpus", str(corpus), "-q"] if args[:2] == ["lm", "train"] else args)
        for args, _ in SIZES
    ]
    code = (
        "import contextlib, io, json, resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "from rnnkit.cli.main import main\n"
        "out = []\n"
        "for args in json.loads(sys.argv[1]):\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err):\n"
        "        rc = main(args)\n"
        "    out.append([rc, err.getvalue()])\n"
        "print(json.dumps(out))\n"
    )
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=110,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for (args, needle), (rc, err) in zip(SIZES, json.loads(result.stdout)):
        lines = err.strip().splitlines()
        assert rc == 2 and len(lines) == 1, (args, rc, err[-1000:])
        assert "Traceback" not in err and "MemoryError" not in err, err
        assert needle in lines[0], (args, lines[0])


def test_lm_generate_beam_and_length_are_bounded(tmp_path):
    folder = tmp_path / "lm"
    runs.write_config(folder, "lm", {"corpus": "x.txt", "level": "char"})
    one_line_error(limited("lm", "generate", str(folder), "--beam", "1000000"), "beam", "1024")
    one_line_error(
        limited("lm", "generate", str(folder), "--length", "10000000000"), "length", "1000000"
    )


def test_library_generators_refuse_before_allocating():
    """The same bounds hold for library calls, under the same limit."""
    code = (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "from rnnkit.datasets import tasks, synthetic, seq2seq\n"
        "calls = [\n"
        "  lambda: tasks.adding_problem(10**9, 100),\n"
        "  lambda: tasks.copy_memory(10**8, 1000),\n"
        "  lambda: tasks.mackey_glass(10**9),\n"
        "  lambda: synthetic.delayed_recall(10**8, 100),\n"
        "  lambda: seq2seq.addition(99, 2, digits=1),\n"
        "  lambda: tasks.copy_memory_split(100, 10, 5, n_symbols=2, length=3),\n"
        "]\n"
        "for call in calls:\n"
        "    try:\n"
        "        call()\n"
        "    except ValueError as exc:\n"
        "        print('ValueError', str(exc)[:60])\n"
        "    else:\n"
        "        print('no error')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=90
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 6 and all(line.startswith("ValueError") for line in lines), lines


def test_a_generator_with_fewer_sources_than_claimed_stops():
    """Drawing gives up (an error) instead of looping when sources run out."""
    import numpy as np

    from rnnkit.datasets.seq2seq import _disjoint

    def five_sources(rng):
        n = int(rng.integers(5))
        return str(n), str(n)

    with pytest.raises(ValueError, match="Drew only 5 distinct examples"):
        _disjoint(five_sources, 4, 2, np.random.default_rng(0))
    train, test = _disjoint(five_sources, 3, 2, np.random.default_rng(0))
    assert len({s for s, _ in train + test}) == 5


# ---- every error reaches the user as one line --------------------------------------
@pytest.mark.parametrize(
    "error,needle",
    [
        (MemoryError(), "out of memory"),
        (KeyError("units"), "missing: 'units'"),
        (PermissionError(13, "Permission denied", "/root/x"), "Permission denied '/root/x'"),
        (RecursionError("maximum recursion depth exceeded"), "RecursionError"),
        (ValueError("first line\nsecond line"), "first line second line"),
    ],
)
def test_any_error_is_exit_2_and_one_line(monkeypatch, capsys, error, needle):
    def boom(args):
        raise error

    parser = cli_main.build_parser
    monkeypatch.setattr(
        cli_main,
        "build_parser",
        lambda: _with_func(parser(), boom),
    )
    monkeypatch.delenv("RNNKIT_DEBUG", raising=False)
    assert cli_main.main(["gradients", "--steps", "3"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and needle in err, err
    monkeypatch.setenv("RNNKIT_DEBUG", "1")
    assert cli_main.main(["gradients", "--steps", "3"]) == 2
    assert "Traceback" in capsys.readouterr().err


def _with_func(parser, func):
    import argparse

    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub.choices["gradients"].set_defaults(func=func)
    return parser

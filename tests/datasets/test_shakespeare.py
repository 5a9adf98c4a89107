"""Tiny Shakespeare: the real corpus (from RNNKIT_DATA_DIR) and the file handling.

Tests that use the ``corpus_file`` fixture need ``tinyshakespeare/input.txt`` in
``RNNKIT_DATA_DIR``; they are skipped without it unless ``RNNKIT_REQUIRE_DATA=1``,
which turns the skip into a failure. The network is never used.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from rnnkit.datasets import DownloadError, _files, shakespeare

SIZE = 1_115_394
SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


@pytest.fixture(scope="module")
def corpus_file() -> Path:
    """The real input.txt from RNNKIT_DATA_DIR, or skip (fail if data is required)."""
    value = os.environ.get("RNNKIT_DATA_DIR", "")
    problem = None
    if not value:
        problem = "RNNKIT_DATA_DIR is not set"
    elif not (Path(value) / "tinyshakespeare" / "input.txt").is_file():
        problem = f"RNNKIT_DATA_DIR={value!r} holds no tinyshakespeare/input.txt"
    if problem is not None:
        if os.environ.get("RNNKIT_REQUIRE_DATA") == "1":
            pytest.fail(f"tiny Shakespeare is required (RNNKIT_REQUIRE_DATA=1) but {problem}")
        pytest.skip(f"tiny Shakespeare not available: {problem}")
    return Path(value) / "tinyshakespeare" / "input.txt"


@pytest.fixture
def isolated(monkeypatch, tmp_path) -> Path:
    """No RNNKIT_DATA_DIR, and an empty cache in a temporary directory."""
    monkeypatch.delenv(_files.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv(_files.CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


# ---------------------------------------------------------------------- real data


def test_load_text(corpus_file):
    text = shakespeare.load_text(corpus_file.parent.parent)
    assert len(text) == SIZE
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == SHA256
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")
    assert len(set(text)) == 65


def test_path_forms_agree(corpus_file, monkeypatch):
    text = shakespeare.load_text(corpus_file)
    assert shakespeare.load_text(corpus_file.parent) == text
    monkeypatch.setenv("RNNKIT_DATA_DIR", str(corpus_file.parent.parent))
    assert shakespeare.load_text() == text


def test_load_splits_like_nanogpt(corpus_file):
    train, val = shakespeare.load_splits(corpus_file)
    assert (len(train), len(val)) == (1_003_854, 111_540)  # nanoGPT's shakespeare_char
    assert train + val == shakespeare.load_text(corpus_file)
    train, val = shakespeare.load_splits(corpus_file, val_fraction=0.25)
    assert len(train) == int(SIZE * 0.75) and len(train) + len(val) == SIZE
    train, val = shakespeare.load_splits(corpus_file, val_fraction=0)
    assert val == "" and len(train) == SIZE


def test_text_is_cached(corpus_file):
    shakespeare.load_text(corpus_file)
    before = shakespeare._read_cached.cache_info()
    shakespeare.load_text(corpus_file)
    assert shakespeare._read_cached.cache_info().hits == before.hits + 1


# ---------------------------------------------------------------- file handling


@pytest.mark.parametrize(
    ("value", "error"),
    [(1.0, ValueError), (-0.1, ValueError), (float("inf"), ValueError), ("0.1", TypeError),
     (None, TypeError), (True, TypeError)],
)  # fmt: skip
def test_val_fraction_validation(value, error):
    with pytest.raises(error, match=r"val_fraction must be a float in \[0, 1\)"):
        shakespeare.load_splits("/nonexistent/never/read", val_fraction=value)


def test_local_file_of_wrong_size(tmp_path):
    bad = tmp_path / "input.txt"
    bad.write_text("To be, or not to be\n")
    with pytest.raises(ValueError, match="truncated") as info:
        shakespeare.load_text(bad)
    assert str(bad) in str(info.value) and "1,115,394" in str(info.value)


def test_local_file_of_right_size_is_accepted(tmp_path):
    text = ("ab\n" * (SIZE // 3 + 1))[:SIZE]
    nested = tmp_path / "tinyshakespeare"
    nested.mkdir()
    (nested / "input.txt").write_text(text)
    assert shakespeare.load_text(tmp_path) == text
    train, val = shakespeare.load_splits(tmp_path / "tinyshakespeare" / "input.txt")
    assert train + val == text


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        shakespeare.load_text(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError, match="input.txt"):
        shakespeare.load_text(tmp_path)


def test_offline(isolated, monkeypatch):
    def offline(request, timeout=None):
        raise urllib.error.URLError("[Errno 101] Network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DownloadError) as info:
        shakespeare.load_text()
    message = str(info.value)
    assert _files.SHAKESPEARE.url in message and "Network is unreachable" in message
    assert "path=" in message and "RNNKIT_DATA_DIR" in message and "\n" not in message
    assert not isolated.exists() or not any(isolated.rglob("*.*"))


def _serve(monkeypatch, payload: bytes) -> None:
    def fake_urlopen(request, timeout=None):
        assert request.full_url == _files.SHAKESPEARE.url and timeout
        return io.BytesIO(payload)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)


def test_download_checks_sha256(isolated, monkeypatch):
    _serve(monkeypatch, b"not the corpus")
    with pytest.raises(ValueError, match="sha256"):
        shakespeare.load_text()
    assert [p for p in isolated.rglob("*") if p.is_file()] == []


def test_download_into_cache(isolated, monkeypatch):
    payload = b"ROMEO:\nBut soft!\n"
    fake = dataclasses.replace(
        _files.SHAKESPEARE, sha256=hashlib.sha256(payload).hexdigest(), size=len(payload)
    )
    monkeypatch.setattr(_files, "SHAKESPEARE", fake)
    _serve(monkeypatch, payload)
    assert shakespeare.load_text() == payload.decode()
    target = isolated / "tinyshakespeare" / "input.txt"
    assert target.read_bytes() == payload
    assert [p for p in isolated.rglob("*") if p.is_file()] == [target]
    # The cached copy is used from now on.
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("downloaded"))
    assert shakespeare.load_splits(val_fraction=0.5) == ("ROMEO:\nB", "ut soft!\n")

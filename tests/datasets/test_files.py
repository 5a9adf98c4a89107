"""Where data comes from: local paths, RNNKIT_DATA_DIR, the cache and (faked) downloads.

Everything here runs on small synthetic archives built in a temporary directory;
the network is never used (urlopen is replaced in every test).
"""

from __future__ import annotations

import io
import os
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from rnnkit.datasets import DownloadError, _files, reuters

N_FILES = 22
N_STORIES = 21578


def _story(newid: int) -> str:
    topic = ("earn", "acq", "grain")[newid % 3]
    split = "TRAIN" if newid % 2 else "TEST"
    return (
        f'<REUTERS TOPICS="YES" LEWISSPLIT="{split}" CGISPLIT="TRAINING-SET" '
        f'OLDID="{newid}" NEWID="{newid}">\n'
        f"<TOPICS><D>{topic}</D></TOPICS>\n"
        f"<TEXT>&#2;\n<TITLE>STORY {newid}</TITLE>\n"
        f"<BODY>Company {topic} rose {newid % 7} pct &lt;ABC&gt;\n Reuter\n&#3;</BODY></TEXT>\n"
        f"</REUTERS>\n"
    )


def synthetic_sgm_files() -> dict[str, bytes]:
    """22 reut2-NNN.sgm files holding 21,578 tiny stories, like the real layout."""
    files = {}
    newid = 1
    for i in range(N_FILES):
        count = 1000 if i < N_FILES - 1 else N_STORIES - 1000 * (N_FILES - 1)
        text = '<!DOCTYPE lewis SYSTEM "lewis.dtd">\n' + "".join(
            _story(newid + k) for k in range(count)
        )
        newid += count
        files[f"reut2-{i:03d}.sgm"] = text.encode("latin-1")
    return files


def write_archive(path: Path, files: dict[str, bytes], extra: dict[str, bytes] | None = None):
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for name, data in {**files, **(extra or {})}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="module")
def sgm_files() -> dict[str, bytes]:
    return synthetic_sgm_files()


@pytest.fixture(scope="module")
def archive(tmp_path_factory, sgm_files) -> Path:
    return write_archive(tmp_path_factory.mktemp("arch") / "reuters21578.tar.gz", sgm_files)


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    """Fail loudly on any real network access, and isolate the env and the cache."""

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to use the network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.delenv(_files.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv(_files.CACHE_DIR_ENV, str(tmp_path / "cache"))


class FakeResponse(io.BytesIO):
    """What urlopen returns: a readable, closable object with headers."""

    def __init__(self, data: bytes, fail_after: int | None = None, length: int | None = None):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data) if length is None else length)}
        self._fail_after = fail_after

    def read(self, size: int = -1) -> bytes:
        if self._fail_after is not None and self.tell() >= self._fail_after:
            raise TimeoutError("the read operation timed out")
        return super().read(size)


def serve(
    monkeypatch, data: bytes, fail_after: int | None = None, length: int | None = None
) -> list[str]:
    urls: list[str] = []

    def fake_urlopen(request, timeout=None):
        assert timeout is not None and timeout > 0
        urls.append(request.full_url if hasattr(request, "full_url") else request)
        return FakeResponse(data, fail_after, length)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    return urls


def files_in(directory: Path) -> list[str]:
    if not directory.exists():
        return []
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- places


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _files.cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("RNNKIT_CACHE_DIR")
    assert _files.cache_dir() == tmp_path / "xdg" / "rnnkit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _files.cache_dir() == tmp_path / "home" / ".cache" / "rnnkit"


def test_archive_given_as_file_path(archive):
    assert _files.find_reuters(archive) == archive
    files = _files.read_reuters(archive)
    assert list(files) == list(_files.REUTERS_FILES)
    (x_train, y_train), (x_test, y_test) = reuters.load_data(path=archive)
    assert len(x_train) + len(x_test) == N_STORIES
    assert set(np.concatenate([y_train, y_test]).tolist()) == {0, 1, 2}


def test_directory_holding_the_archive(archive):
    assert _files.find_reuters(archive.parent) == archive
    assert _files.find_reuters(str(archive.parent)) == archive


def test_extracted_directory(tmp_path, sgm_files, archive):
    for name, data in sgm_files.items():
        (tmp_path / name).write_bytes(data)
    assert _files.find_reuters(tmp_path) == tmp_path
    assert _files.read_reuters(tmp_path) == sgm_files
    (a, b), (c, d) = reuters.load_data(path=tmp_path, num_words=20)
    (a2, b2), (c2, d2) = reuters.load_data(path=archive, num_words=20)
    assert a.tolist() == a2.tolist() and c.tolist() == c2.tolist()
    assert np.array_equal(b, b2) and np.array_equal(d, d2)


def test_extracted_subfolder_of_data_dir(tmp_path, sgm_files, monkeypatch):
    sub = tmp_path / "reuters21578"
    sub.mkdir()
    for name, data in sgm_files.items():
        (sub / name).write_bytes(data)
    monkeypatch.setenv("RNNKIT_DATA_DIR", str(tmp_path))
    assert _files.find_reuters() == sub


def test_env_dir_then_cache(tmp_path, archive, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA_DIR", str(archive.parent))
    assert _files.find_reuters() == archive
    # A data dir without the files falls through to the cache.
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("RNNKIT_DATA_DIR", str(empty))
    cached = _files.cache_dir() / "reuters21578.tar.gz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(archive.read_bytes())
    assert _files.find_reuters() == cached
    assert _files.find_reuters(fetch=False) == cached


def test_nothing_found_without_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="RNNKIT_DATA_DIR"):
        _files.find_reuters(fetch=False)
    with pytest.raises(FileNotFoundError, match="RNNKIT_DATA_DIR"):
        _files.find_shakespeare(fetch=False)


def test_missing_directory_is_a_clear_error(tmp_path):
    missing = tmp_path / "no-such-dir"
    with pytest.raises(FileNotFoundError, match="does not exist") as info:
        reuters.load_data(path=missing)
    assert str(missing) in str(info.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        reuters.get_word_index(path=missing)


def test_directory_without_reuters_files(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(FileNotFoundError, match="reut2-NNN.sgm") as info:
        _files.find_reuters(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_path_of_wrong_type():
    with pytest.raises(TypeError, match="path"):
        _files.find_reuters(42)  # type: ignore[arg-type]


# ------------------------------------------------------------------------ archives


def test_truncated_archive(tmp_path, archive):
    data = archive.read_bytes()
    broken = tmp_path / "reuters21578.tar.gz"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt") as info:
        _files.read_reuters(broken)
    assert str(broken) in str(info.value)
    with pytest.raises(ValueError, match="corrupt"):
        reuters.load_data(path=broken)


def test_oversized_member_is_refused(tmp_path, sgm_files, monkeypatch):
    """A member far larger than any Reuters file is refused before it is read."""
    path = tmp_path / "reuters21578.tar.gz"
    write_archive(path, sgm_files)
    smallest = min(len(v) for v in sgm_files.values())
    monkeypatch.setattr(_files, "_MAX_MEMBER_BYTES", smallest - 1)
    with pytest.raises(ValueError, match="implausibly large"):
        _files.read_reuters(path)


def test_total_of_members_is_capped(tmp_path, sgm_files, monkeypatch):
    """Members each small enough, too many bytes together: refused before the member
    that would pass the total is read."""
    path = write_archive(tmp_path / "reuters21578.tar.gz", sgm_files)
    total = sum(len(v) for v in sgm_files.values())
    monkeypatch.setattr(_files, "_MAX_TOTAL_BYTES", total - 1)
    with pytest.raises(ValueError, match="in total") as info:
        _files.read_reuters(path)
    assert str(path) in str(info.value)
    folder = tmp_path / "extracted"
    folder.mkdir()
    for name, data in sgm_files.items():
        (folder / name).write_bytes(data)
    with pytest.raises(ValueError, match="add up to"):
        _files.read_reuters(folder)


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz", "w"])
def test_everything_decompressed_is_capped(tmp_path, sgm_files, monkeypatch, mode):
    """A member nobody reads still costs decompression: the stream as a whole is capped,
    whatever the compression."""
    path = tmp_path / "reuters21578.tar"
    with tarfile.open(path, mode) as tar:
        info = tarfile.TarInfo("padding.bin")
        info.size = 3 << 20
        tar.addfile(info, io.BytesIO(bytes(info.size)))
        info = tarfile.TarInfo("reut2-000.sgm")
        info.size = len(sgm_files["reut2-000.sgm"])
        tar.addfile(info, io.BytesIO(sgm_files["reut2-000.sgm"]))
    with pytest.raises(ValueError, match="incomplete"):  # within the real cap
        _files.read_reuters(path)
    monkeypatch.setattr(_files, "_MAX_STREAM_BYTES", 2 << 20)
    with pytest.raises(ValueError, match="decompression bomb") as info:
        _files.read_reuters(path)
    assert str(path) in str(info.value)


BOMB_LOADER = """
import resource, sys
from rnnkit.datasets import _files

with open("/proc/self/status") as f:
    vm = int(next(l for l in f if l.startswith("VmSize")).split()[1]) * 1024
limit = vm + (120 << 20)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    _files.read_reuters(sys.argv[1])
    print("read")
except ValueError as exc:
    print("ValueError:", exc)
except MemoryError:
    print("MemoryError")
"""


@pytest.mark.timeout(60)
def test_archive_bomb_is_refused_without_peaking_in_memory(tmp_path):
    """22 members of 7 MiB of zeros, each under the member cap, 154 MiB together, in an
    archive of a few hundred KiB: refused with the address space allowed to grow by
    120 MiB (reading the members one by one until the end would take more)."""
    import subprocess
    import sys

    path = tmp_path / "reuters21578.tar.gz"
    zeros = bytes(7 << 20)
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for name in _files.REUTERS_FILES:
            info = tarfile.TarInfo(name)
            info.size = len(zeros)
            tar.addfile(info, io.BytesIO(zeros))
    assert path.stat().st_size < 2 << 20
    proc = subprocess.run(
        [sys.executable, "-c", BOMB_LOADER, str(path)],
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("ValueError:") and "in total" in proc.stdout, proc.stdout


def test_garbage_file(tmp_path):
    garbage = tmp_path / "reuters21578.tar.gz"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(ValueError, match="corrupt") as info:
        _files.read_reuters(garbage)
    assert str(garbage) in str(info.value)


def test_empty_file(tmp_path):
    empty = tmp_path / "reuters21578.tar.gz"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=str(empty).replace("\\", "\\\\")):
        _files.read_reuters(empty)


@pytest.mark.parametrize(
    "member", ["../evil.sgm", "data/../../evil.sgm", "/etc/evil.sgm", "..\\evil.sgm"]
)
def test_unsafe_member_names_are_rejected(tmp_path, sgm_files, member):
    bad = write_archive(tmp_path / "evil.tar.gz", sgm_files, extra={member: b"pwned"})
    with pytest.raises(ValueError, match="unsafe archive member") as info:
        _files.read_reuters(bad)
    assert repr(member) in str(info.value)
    assert not (tmp_path.parent / "evil.sgm").exists()


def test_incomplete_archive(tmp_path, sgm_files):
    partial = dict(sgm_files)
    del partial["reut2-007.sgm"]
    bad = write_archive(tmp_path / "partial.tar.gz", partial)
    with pytest.raises(ValueError, match="incomplete") as info:
        _files.read_reuters(bad)
    assert "reut2-007.sgm" in str(info.value) and str(bad) in str(info.value)


def test_wrong_story_count_in_directory(tmp_path, sgm_files):
    for name, data in sgm_files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "reut2-021.sgm").write_bytes(b"<REUTERS NEWID='1'></REUTERS>")
    with pytest.raises(ValueError, match="21,578 stories"):
        _files.read_reuters(tmp_path)


def test_archive_with_enclosing_folder(tmp_path, sgm_files):
    nested = {f"reuters21578/{name}": data for name, data in sgm_files.items()}
    path = write_archive(tmp_path / "nested.tar.gz", nested)
    assert _files.read_reuters(path) == sgm_files


def test_parsed_result_is_cached(archive):
    reuters.get_word_index(path=archive)
    before = reuters._keras_corpus_cached.cache_info()
    reuters.load_data(path=archive)
    reuters.get_word_index(path=archive)
    after = reuters._keras_corpus_cached.cache_info()
    assert after.hits == before.hits + 2
    assert after.misses == before.misses


# ----------------------------------------------------------------------- downloads


def test_offline_download_fails_cleanly(monkeypatch):
    def offline(request, timeout=None):
        raise urllib.error.URLError(OSError(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DownloadError) as info:
        reuters.load_data()
    message = str(info.value)
    assert _files.REUTERS.url in message
    assert "path=" in message and "RNNKIT_DATA_DIR" in message
    assert "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert files_in(_files.cache_dir()) == []


def test_http_error_is_a_download_error(monkeypatch):
    def not_found(request, timeout=None):
        raise urllib.error.HTTPError(_files.REUTERS.url, 404, "Not Found", {}, None)

    monkeypatch.setattr(urllib.request, "urlopen", not_found)
    with pytest.raises(DownloadError, match="404"):
        _files.find_reuters()
    assert files_in(_files.cache_dir()) == []


def test_broken_transfer_leaves_no_partial_file(monkeypatch, archive):
    serve(monkeypatch, archive.read_bytes(), fail_after=1)
    with pytest.raises(DownloadError, match="timed out"):
        _files.find_reuters()
    assert files_in(_files.cache_dir()) == []


def test_short_transfer_is_detected(monkeypatch, archive):
    data = archive.read_bytes()
    urls = serve(monkeypatch, data[:-10], length=len(data))
    with pytest.raises(DownloadError, match="transfer ended"):
        _files.find_reuters()
    assert urls and files_in(_files.cache_dir()) == []


def test_corrupt_download_is_rejected(monkeypatch):
    serve(monkeypatch, b"<html>Service unavailable</html>")
    with pytest.raises(ValueError, match="corrupt"):
        _files.find_reuters()
    assert files_in(_files.cache_dir()) == []


def test_successful_download_is_atomic(monkeypatch, archive):
    data = archive.read_bytes()
    urls = serve(monkeypatch, data)
    replaced: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def spy(src, dst):
        src, dst = Path(src), Path(dst)
        assert src.parent == dst.parent and src.exists() and not dst.exists()
        assert src.read_bytes() == data  # complete before it is moved into place
        replaced.append((src, dst))
        real_replace(src, dst)

    monkeypatch.setattr(_files.os, "replace", spy)
    found = _files.find_reuters()
    target = _files.cache_dir() / "reuters21578.tar.gz"
    assert urls == [_files.REUTERS.url]
    assert found == target and target.read_bytes() == data
    assert len(replaced) == 1 and replaced[0][1] == target
    assert files_in(_files.cache_dir()) == ["reuters21578.tar.gz"]
    # Now cached: no second download.
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("downloaded"))
    (x_train, _), (x_test, _) = reuters.load_data()
    assert len(x_train) + len(x_test) == N_STORIES


def test_download_helper_verify_hook(tmp_path, monkeypatch):
    serve(monkeypatch, b"hello")
    dest = tmp_path / "sub" / "file.bin"

    def reject(path: Path) -> None:
        assert path.read_bytes() == b"hello" and path.parent == dest.parent
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        _files.download("https://example.invalid/file.bin", dest, verify=reject)
    assert files_in(tmp_path) == []
    _files.download("https://example.invalid/file.bin", dest)
    assert dest.read_bytes() == b"hello" and files_in(tmp_path) == ["sub/file.bin"]


def test_sha256_file(tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"abc")
    assert (
        _files.sha256_file(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )

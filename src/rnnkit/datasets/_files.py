"""Where the data sets come from: local copies, a per-user cache, or a download.

Every loader in :mod:`rnnkit.datasets` finds its raw files the same way, in this
order:

1. an explicit ``path`` argument (a file, or a directory holding the files);
2. the directory named by the environment variable ``RNNKIT_DATA_DIR``;
3. a per-user cache: ``$RNNKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/rnnkit``, else
   ``~/.cache/rnnkit``;
4. a download from the data set's public home into that cache.

Downloads go to a temporary file in the cache directory, are flushed to disk,
checked, and only then renamed into place with :func:`os.replace`, so the cache
never holds a half-written file. Archives are read into memory with
:mod:`tarfile`; nothing is ever extracted to disk. An archive is untrusted: each
member read, all of them together, and everything decompressed on the way (members
skipped included) are capped, each checked before the bytes are read.

Only the Python standard library is used here.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import http.client
import io
import logging
import os
import re
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CACHE_DIR_ENV",
    "DATA_DIR_ENV",
    "DOWNLOAD_TIMEOUT",
    "REUTERS",
    "REUTERS_FILES",
    "REUTERS_STORIES",
    "SHAKESPEARE",
    "DownloadError",
    "RemoteFile",
    "cache_dir",
    "check_size",
    "download",
    "find_reuters",
    "find_shakespeare",
    "read_reuters",
    "read_reuters_archive",
    "sha256_file",
    "source_key",
]

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "RNNKIT_DATA_DIR"
CACHE_DIR_ENV = "RNNKIT_CACHE_DIR"
#: Seconds a download may wait on the network before giving up.
DOWNLOAD_TIMEOUT = 60.0

_CHUNK = 1 << 20
#: Largest archive member read into memory (the biggest .sgm file is ~1.4 MB).
_MAX_MEMBER_BYTES = 8 << 20
#: Largest total of the members read (the 22 .sgm files hold ~27 MB).
_MAX_TOTAL_BYTES = 64 << 20
#: Most bytes decompressed from an archive, skipped members included (the whole of
#: reuters21578.tar.gz decompresses to ~28 MB).
_MAX_STREAM_BYTES = 256 << 20

#: The 22 SGML files of Reuters-21578, Distribution 1.0, in reading order.
REUTERS_FILES: tuple[str, ...] = tuple(f"reut2-{i:03d}.sgm" for i in range(22))
#: Number of stories (``<REUTERS `` openings) in the whole collection.
REUTERS_STORIES = 21578

# Errors that mean "the network did not deliver" rather than a bug.
_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, OSError)
# Errors the compression and tar layers raise on damaged input.
_ARCHIVE_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError,
    EOFError,
    zlib.error,
    OSError,
)
try:  # lzma is optional in some Python builds
    import lzma

    _ARCHIVE_ERRORS = (*_ARCHIVE_ERRORS, lzma.LZMAError)
except ImportError:  # pragma: no cover - depends on the interpreter build
    pass


class DownloadError(OSError):
    """A data set could not be fetched from its public home (offline, HTTP error, ...).

    An ``OSError``; its message says how to give the loader a local copy instead
    (``path=`` or ``RNNKIT_DATA_DIR``).

    Example:
        >>> from rnnkit.datasets import DownloadError, shakespeare
        >>> try:
        ...     text = shakespeare.load_text()
        ... except DownloadError as error:
        ...     print(error)  # doctest: +SKIP
    """


@dataclass(frozen=True)
class RemoteFile:
    """A data file with a public home and a place in the data and cache directories.

    Attributes:
        name: Human-readable name of the data set.
        relpath: Path of the file relative to ``RNNKIT_DATA_DIR`` and the cache.
        url: Public address it is downloaded from.
        sha256: Expected hash of a download, or ``None`` when another check is used.
        size: Expected size in bytes of a local copy, or ``None`` for no size check.
    """

    name: str
    relpath: str
    url: str
    sha256: str | None = None
    size: int | None = None


REUTERS = RemoteFile(
    name="Reuters-21578, Distribution 1.0",
    relpath="reuters21578.tar.gz",
    url="https://kdd.ics.uci.edu/databases/reuters21578/reuters21578.tar.gz",
)

SHAKESPEARE = RemoteFile(
    name="tiny Shakespeare",
    relpath="tinyshakespeare/input.txt",
    url=(
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
    ),
    sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    size=1_115_394,
)


# --------------------------------------------------------------------------- places


def _env_dir(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """Return the per-user cache directory (it is not created here).

    Returns:
        ``$RNNKIT_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/rnnkit`` if
        ``XDG_CACHE_HOME`` is set, else ``~/.cache/rnnkit``.

    Example:
        >>> import os
        >>> from rnnkit.datasets import cache_dir
        >>> os.environ["RNNKIT_CACHE_DIR"] = "/tmp/rnnkit-cache"  # doctest: +SKIP
        >>> str(cache_dir())  # doctest: +SKIP
        '/tmp/rnnkit-cache'
    """
    explicit = _env_dir(CACHE_DIR_ENV)
    if explicit is not None:
        return explicit
    xdg = _env_dir("XDG_CACHE_HOME")
    if xdg is not None:
        return xdg / "rnnkit"
    return Path.home() / ".cache" / "rnnkit"


def _offline_hint(remote: RemoteFile) -> str:
    data_dir = _env_dir(DATA_DIR_ENV)
    where = f" (now {str(data_dir)!r}, which lacks it)" if data_dir is not None else ""
    return (
        f"pass path= to a local copy or set {DATA_DIR_ENV} to a folder holding "
        f"{remote.relpath}{where}"
    )


def _explicit_path(path: str | os.PathLike[str]) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str, os.PathLike or None, got {type(path).__name__}")
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"path={str(p)!r} does not exist")
    return p


def _has_reuters_sgm(directory: Path) -> bool:
    return any((directory / name).is_file() for name in REUTERS_FILES)


def _reuters_in(directory: Path) -> Path | None:
    """The archive or the folder of extracted .sgm files inside ``directory``, if any."""
    archive = directory / REUTERS.relpath
    if archive.is_file():
        return archive
    for candidate in (directory, directory / "reuters21578"):
        if candidate.is_dir() and _has_reuters_sgm(candidate):
            return candidate
    return None


def find_reuters(path: str | os.PathLike[str] | None = None, *, fetch: bool = True) -> Path:
    """Locate Reuters-21578, downloading it into the cache if needed.

    Args:
        path: The archive itself, or a directory holding ``reuters21578.tar.gz`` or
            the extracted ``reut2-NNN.sgm`` files. ``None`` searches
            ``RNNKIT_DATA_DIR``, then the cache, then downloads.
        fetch: Whether to download when no local copy is found.

    Returns:
        The archive file or the directory of ``.sgm`` files to read.

    Raises:
        FileNotFoundError: ``path`` does not exist or holds no Reuters files, or
            nothing was found and ``fetch`` is false.
        DownloadError: The download failed (for instance when offline).
        ValueError: A downloaded archive failed its integrity check.
    """
    if path is not None:
        p = _explicit_path(path)
        if p.is_file():
            return p
        found = _reuters_in(p)
        if found is None:
            raise FileNotFoundError(
                f"path={str(p)!r} holds neither {REUTERS.relpath} nor the extracted "
                f"reut2-NNN.sgm files of Reuters-21578"
            )
        return found
    data_dir = _env_dir(DATA_DIR_ENV)
    if data_dir is not None and data_dir.is_dir():
        found = _reuters_in(data_dir)
        if found is not None:
            return found
    cached = cache_dir() / REUTERS.relpath
    if cached.is_file():
        return cached
    if not fetch:
        raise FileNotFoundError(f"{REUTERS.name} not found; {_offline_hint(REUTERS)}")
    return download(
        REUTERS.url, cached, verify=_verify_reuters_download, hint=_offline_hint(REUTERS)
    )


def find_shakespeare(path: str | os.PathLike[str] | None = None, *, fetch: bool = True) -> Path:
    """Locate tiny Shakespeare's ``input.txt``, downloading it into the cache if needed.

    Args:
        path: The text file itself, or a directory holding ``input.txt`` or
            ``tinyshakespeare/input.txt``. ``None`` searches ``RNNKIT_DATA_DIR``,
            then the cache, then downloads.
        fetch: Whether to download when no local copy is found.

    Returns:
        The path of the text file.

    Raises:
        FileNotFoundError: ``path`` does not exist or holds no ``input.txt``, or
            nothing was found and ``fetch`` is false.
        DownloadError: The download failed (for instance when offline).
        ValueError: A downloaded file failed its sha256 check.
    """
    if path is not None:
        p = _explicit_path(path)
        if p.is_file():
            return p
        for candidate in (p / "input.txt", p / SHAKESPEARE.relpath):
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(
            f"path={str(p)!r} holds neither input.txt nor {SHAKESPEARE.relpath}"
        )
    data_dir = _env_dir(DATA_DIR_ENV)
    if data_dir is not None and (data_dir / SHAKESPEARE.relpath).is_file():
        return data_dir / SHAKESPEARE.relpath
    cached = cache_dir() / SHAKESPEARE.relpath
    if cached.is_file():
        return cached
    if not fetch:
        raise FileNotFoundError(f"{SHAKESPEARE.name} not found; {_offline_hint(SHAKESPEARE)}")

    def verify(tmp: Path) -> None:
        _verify_sha256(tmp, SHAKESPEARE)

    return download(SHAKESPEARE.url, cached, verify=verify, hint=_offline_hint(SHAKESPEARE))


# ------------------------------------------------------------------------ download


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        text = f"HTTP error {exc.code}: {exc.reason}"
    elif isinstance(exc, urllib.error.URLError):
        text = f"{type(exc).__name__}: {exc.reason}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    verify: Callable[[Path], None] | None = None,
    timeout: float = DOWNLOAD_TIMEOUT,
    hint: str | None = None,
) -> Path:
    """Download ``url`` to ``dest`` atomically.

    The bytes go to a temporary file in ``dest``'s directory, which is flushed and
    fsync'd, passed to ``verify``, and only then renamed onto ``dest`` with
    :func:`os.replace`. On any failure the temporary file is removed and ``dest`` is
    left as it was.

    Args:
        url: Address to fetch.
        dest: Final path of the file; its parent directories are created.
        verify: Called with the temporary file's path before it is moved into
            place; it raises (normally ``ValueError``) to reject the file.
        timeout: Socket timeout in seconds.
        hint: Advice appended to the error message when the download fails.

    Returns:
        ``dest`` as a :class:`~pathlib.Path`.

    Raises:
        DownloadError: The server could not be reached, answered with an error, or
            the transfer broke off.
        ValueError: ``verify`` rejected the downloaded file.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    suffix = f"; {hint}" if hint else ""

    def failed(exc: BaseException) -> DownloadError:
        return DownloadError(f"could not download {url} ({_one_line(exc)}){suffix}")

    logger.info("downloading %s to %s", url, dest)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "rnnkit"})
            try:
                response = urllib.request.urlopen(request, timeout=timeout)
            except _NETWORK_ERRORS as exc:
                raise failed(exc) from None
            with response:
                received = 0
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except _NETWORK_ERRORS as exc:
                        raise failed(exc) from None
                    if not chunk:
                        break
                    out.write(chunk)
                    received += len(chunk)
                headers = getattr(response, "headers", None)
                expected = headers.get("Content-Length") if headers is not None else None
                if expected is not None and expected.isdigit() and int(expected) != received:
                    raise DownloadError(
                        f"could not download {url} (transfer ended after {received} of "
                        f"{expected} bytes){suffix}"
                    )
            out.flush()
            os.fsync(out.fileno())
        if verify is not None:
            verify(tmp)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(dest.parent)
    return dest


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable where the platform allows it (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ----------------------------------------------------------------------- integrity


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of a file.

    Args:
        path: File to hash.

    Returns:
        The lower-case hexadecimal digest.

    Raises:
        OSError: The file cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify_sha256(path: Path, remote: RemoteFile) -> None:
    if remote.sha256 is None:
        return
    actual = sha256_file(path)
    if actual != remote.sha256:
        raise ValueError(
            f"download of {remote.url} is corrupt: sha256 {actual}, expected {remote.sha256}"
        )


def check_size(path: Path, remote: RemoteFile) -> None:
    """Sanity-check the size of a local copy of ``remote``.

    Args:
        path: The local file.
        remote: Its description, with the expected size.

    Raises:
        ValueError: The size differs from the expected one (a truncated copy, an
            error page saved in its place, or another file altogether).
    """
    if remote.size is None:
        return
    size = path.stat().st_size
    if size != remote.size:
        raise ValueError(
            f"{path} is {size:,} bytes, but {remote.name} is {remote.size:,} bytes; "
            f"the file is truncated or not the expected corpus"
        )


def _verify_reuters_download(path: Path) -> None:
    read_reuters_archive(path)


def _check_reuters_files(files: Mapping[str, bytes], origin: Path) -> None:
    stories = sum(data.count(b"<REUTERS ") for data in files.values())
    if len(files) != len(REUTERS_FILES) or stories != REUTERS_STORIES:
        missing = [name for name in REUTERS_FILES if name not in files]
        detail = f"; missing {', '.join(missing)}" if missing else ""
        raise ValueError(
            f"{origin} is corrupt or incomplete: expected {len(REUTERS_FILES)} "
            f"reut2-NNN.sgm files holding {REUTERS_STORIES:,} stories, found "
            f"{len(files)} files holding {stories:,} stories{detail}"
        )


_DRIVE = re.compile(r"^[A-Za-z]:")


def _check_member_name(archive: Path, name: str) -> None:
    parts = re.split(r"[\\/]+", name)
    if name.startswith(("/", "\\")) or _DRIVE.match(name) or ".." in parts:
        raise ValueError(
            f"{archive}: refusing unsafe archive member {name!r} (absolute path or '..' component)"
        )


class _Bounded:
    """A decompressed stream that refuses to go past ``limit`` bytes, reading or
    seeking (tarfile skips a member by seeking, which decompresses it)."""

    def __init__(self, stream, limit: int, origin: Path):
        self.stream, self.limit, self.origin = stream, limit, origin

    def _refuse(self):
        raise ValueError(
            f"{self.origin} decompresses to more than {self.limit:,} bytes; Reuters-21578 "
            f"is about 28 MB (a damaged archive, or a decompression bomb)"
        )

    def read(self, size: int | None = -1) -> bytes:
        left = self.limit - self.stream.tell()
        if size is None or size < 0 or size > left + 1:
            size = left + 1
        data = self.stream.read(size)
        if len(data) > left:
            self._refuse()
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset, whence = self.stream.tell() + offset, io.SEEK_SET
        if whence != io.SEEK_SET:
            raise io.UnsupportedOperation("seek from the end of a compressed stream")
        if offset > self.limit:
            self._refuse()
        return self.stream.seek(offset)

    def tell(self) -> int:
        return self.stream.tell()


def _decompressed(raw):
    """The archive's tar stream: gzip, bzip2 and xz are undone here rather than by
    tarfile, so that what they produce can be counted."""
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(raw)
    if magic.startswith(b"\xfd7zXZ\x00"):
        try:
            import lzma as xz
        except ImportError:  # pragma: no cover - depends on the interpreter build
            raise ValueError("the archive is xz-compressed; this Python has no lzma") from None
        return xz.LZMAFile(raw)
    return raw


def read_reuters_archive(archive: str | os.PathLike[str]) -> dict[str, bytes]:
    """Read the 22 ``reut2-NNN.sgm`` files of a Reuters-21578 archive into memory.

    Members may sit at the archive's top level or in one folder. Every member name
    is checked, whether it is read or not.

    Args:
        archive: A ``.tar``, ``.tar.gz``, ``.tar.bz2`` or ``.tar.xz`` file.

    Returns:
        The file contents keyed by base name, in reading order.

    Raises:
        FileNotFoundError: The archive does not exist.
        ValueError: The archive is corrupt, truncated or incomplete (the message
            names the file), holds a member whose name is absolute or has a
            ``..`` component (the message names the member), or is larger than
            Reuters-21578 can be: a member over 8 MiB, members to read over 64 MiB
            together, or over 256 MiB decompressed in all (refused before those bytes
            are read).
    """
    archive = Path(archive)
    wanted = set(REUTERS_FILES)
    files: dict[str, bytes] = {}
    total = 0
    with open(archive, "rb") as raw:
        try:
            stream = _Bounded(_decompressed(raw), _MAX_STREAM_BYTES, archive)
            with tarfile.open(fileobj=stream, mode="r:") as tar:
                for member in tar:
                    _check_member_name(archive, member.name)
                    base = member.name.replace("\\", "/").rsplit("/", 1)[-1]
                    if base not in wanted or not member.isfile():
                        continue
                    if base in files:
                        raise ValueError(f"{archive}: duplicate archive member {member.name!r}")
                    if member.size > _MAX_MEMBER_BYTES:
                        raise ValueError(
                            f"{archive}: member {member.name!r} is implausibly large "
                            f"({member.size:,} bytes)"
                        )
                    total += member.size
                    if total > _MAX_TOTAL_BYTES:
                        raise ValueError(
                            f"{archive}: its reut2-NNN.sgm members add up to more than "
                            f"{_MAX_TOTAL_BYTES:,} bytes in total; Reuters-21578's hold "
                            f"about 27 MB"
                        )
                    handle = tar.extractfile(member)
                    if handle is None:  # pragma: no cover - isfile() members always have data
                        continue
                    data = handle.read()
                    if len(data) != member.size:
                        raise EOFError(f"member {member.name!r} is truncated")
                    files[base] = data
                # Read to the end so that a compressed stream's checksum and length
                # trailer are verified too.
                while tar.fileobj is not None and tar.fileobj.read(_CHUNK):
                    pass
        except _ARCHIVE_ERRORS as exc:
            raise ValueError(
                f"{archive} is corrupt or truncated and cannot be read as a tar archive "
                f"({_one_line(exc)})"
            ) from None
    ordered = {name: files[name] for name in REUTERS_FILES if name in files}
    _check_reuters_files(ordered, archive)
    return ordered


def read_reuters(source: str | os.PathLike[str]) -> dict[str, bytes]:
    """Read Reuters-21578 from an archive or a directory of extracted files.

    Args:
        source: What :func:`find_reuters` returned: the archive file or a directory
            holding ``reut2-000.sgm`` ... ``reut2-021.sgm``.

    Returns:
        The 22 files' bytes keyed by base name, in reading order.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: The data is corrupt or incomplete (22 files and 21,578 stories
            are required), or the archive holds an unsafe member name.
    """
    source = Path(source)
    if source.is_dir():
        present = [name for name in REUTERS_FILES if (source / name).is_file()]
        sizes = {name: (source / name).stat().st_size for name in present}
        for name, size in sizes.items():
            if size > _MAX_MEMBER_BYTES:
                raise ValueError(f"{source / name} is implausibly large ({size:,} bytes)")
        if sum(sizes.values()) > _MAX_TOTAL_BYTES:
            raise ValueError(
                f"{source}: its reut2-NNN.sgm files add up to {sum(sizes.values()):,} "
                f"bytes, more than {_MAX_TOTAL_BYTES:,}; Reuters-21578's hold about 27 MB"
            )
        files = {name: _read_capped(source / name) for name in present}
        _check_reuters_files(files, source)
        return files
    return read_reuters_archive(source)


def _read_capped(path: Path) -> bytes:
    with open(path, "rb") as f:
        data = f.read(_MAX_MEMBER_BYTES + 1)
    if len(data) > _MAX_MEMBER_BYTES:  # it grew after its size was checked
        raise ValueError(f"{path} is implausibly large (over {_MAX_MEMBER_BYTES:,} bytes)")
    return data


def source_key(source: str | os.PathLike[str]) -> tuple[object, ...]:
    """A hashable key that changes when a data file or directory's files change.

    Used to key the in-process caches: the resolved path plus the size and
    modification time of the file(s) read.

    Args:
        source: A data file or a directory of Reuters ``.sgm`` files.

    Returns:
        ``(resolved path, stamps...)``.

    Raises:
        FileNotFoundError: ``source`` does not exist.
    """
    p = Path(source).resolve()
    if p.is_dir():
        stamps = []
        for name in REUTERS_FILES:
            try:
                st = (p / name).stat()
            except FileNotFoundError:
                continue
            stamps.append((name, st.st_size, st.st_mtime_ns))
        return (str(p), tuple(stamps))
    st = p.stat()
    return (str(p), st.st_size, st.st_mtime_ns)

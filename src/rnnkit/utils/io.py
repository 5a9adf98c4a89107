"""Writing files so that a crash never leaves one half-written, and reading untrusted
JSON with bounds on its size and nesting."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", **open_kwargs):
    """Open a temporary file beside ``path``; on success fsync it and rename it over
    ``path`` (atomic on POSIX and Windows); on failure remove it.

    A reader never sees a half-written ``path``: it holds the old contents (or does
    not exist) until the ``with`` block ends without an exception. The parent folder
    is created if missing.

    Args:
        path: the file to write.
        mode: the ``open`` mode, default ``"wb"`` (``"w"`` for text).
        **open_kwargs: passed to ``open`` (``encoding=``, ...).

    Example:
        >>> import os, tempfile
        >>> from rnnkit.utils.io import atomic_write
        >>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
        >>> with atomic_write(path, "w") as f:
        ...     _ = f.write("hello")
        >>> open(path).read(), os.listdir(os.path.dirname(path))
        ('hello', ['notes.txt'])
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="-" + os.path.basename(path), dir=directory)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual file mode
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


#: Deepest nesting of lists and objects accepted in a JSON document rnnkit reads.
MAX_JSON_DEPTH = 64


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(
    data: bytes | str, origin: str, max_depth: int = MAX_JSON_DEPTH, allow_nonfinite=False
):
    """Parse an untrusted JSON document strictly: UTF-8, nesting at most ``max_depth``
    deep, and no NaN or Infinity unless ``allow_nonfinite``.

    Args:
        data: the document, as bytes (decoded as strict UTF-8) or text.
        origin: what to name in errors, e.g. ``"'run/tokenizer.json'"`` or
            ``"'m.rnnkit': its config"``.
        max_depth: the deepest nesting of lists and objects accepted.
        allow_nonfinite: accept Python's ``NaN``, ``Infinity`` and ``-Infinity``
            (``json.dumps`` writes them; a checkpoint's "best so far" starts at inf).

    Returns:
        The parsed value.

    Raises:
        ValueError: not UTF-8, not JSON, or nested too deeply; the message starts
            with ``origin``.

    Example:
        >>> parse_json(b'{"a": [1, 2]}', "'x.json'")
        {'a': [1, 2]}
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{origin} is not UTF-8 text (byte {exc.start} is 0x{exc.object[exc.start]:02x})."
            ) from None
    else:
        text = data
    try:
        value = json.loads(text, parse_constant=None if allow_nonfinite else _reject_constant)
    except RecursionError:
        raise ValueError(
            f"{origin} is nested too deeply to be read (at most {max_depth} levels)."
        ) from None
    except ValueError as exc:  # JSONDecodeError, an integer of too many digits, NaN
        raise ValueError(f"{origin} is not valid JSON ({exc}).") from None
    if json_depth(value) > max_depth:
        raise ValueError(f"{origin} is nested more than {max_depth} levels deep.")
    return value


def json_depth(value) -> int:
    """How deeply lists and dicts nest in ``value`` (a scalar is 0), without recursion.

    Args:
        value: parsed JSON (dicts, lists, scalars).

    Returns:
        The depth, an int.

    Example:
        >>> json_depth({"a": [1, [2]]})
        3
    """
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def read_json_file(path, what: str = "file", max_bytes: int = 64 << 20):
    """Read and parse a JSON file no larger than ``max_bytes`` (see :func:`parse_json`).

    Args:
        path: the file.
        what: what the file is, for errors (``"tokenizer"``).
        max_bytes: the largest file accepted; checked before reading.

    Returns:
        The parsed value.

    Raises:
        FileNotFoundError: no such file.
        ValueError: too large, not UTF-8, not JSON or nested too deeply; the message
            names the file.

    Example:
        >>> read_json_file("run/tokenizer.json", "tokenizer")  # doctest: +SKIP
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No {what} file at {path!r}.")
    size = os.path.getsize(path)
    if size > max_bytes:
        raise ValueError(
            f"{path!r} is {size:,} bytes; a {what} file is at most {max_bytes:,} bytes."
        )
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew while being read
        raise ValueError(f"{path!r} is larger than {max_bytes:,} bytes.")
    return parse_json(data, f"{path!r}")

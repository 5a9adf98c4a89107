"""Run folders: every command that trains writes one, with the resolved config, the
metrics as JSON, plots and the saved model. All writes are atomic.

A run folder's ``config.json`` names its ``kind`` (``"reuters"``, ``"lm"``,
``"seq2seq"``; a ``rnnkit gradients`` folder holds ``gradients.json`` instead).
Every command that reads a folder checks the kind first with :func:`open_run`, so a
slip (``rnnkit reuters --resume`` on a language-model run) is refused before anything
in the folder is touched. Folders written before the field existed are recognised by
their config's keys.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import resource
import shutil
import sys
import time
import typing
from pathlib import Path

import numpy as np

from . import __version__
from .utils.io import atomic_write


def new_run_dir(root="runs", prefix="run") -> Path:
    """A new run folder ``root/prefix-YYYYmmdd-HHMMSS``, created (with its parents); a
    ``-1``, ``-2``, … suffix is added while the name is taken.

    Args:
        root: the folder that holds the runs. Default ``"runs"``.
        prefix: the start of the folder's name. Default ``"run"``.

    Returns:
        The created folder's ``Path``.

    Raises:
        OSError: the folder cannot be created (``root`` is a file, no permission).

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> first, second = new_run_dir(root, "lm"), new_run_dir(root, "lm")
        >>> first.is_dir(), first.name.startswith("lm-"), first != second
        (True, True, True)
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{prefix}-{stamp}"
    path, n = base, 1
    while path.exists():
        path = Path(f"{base}-{n}")
        n += 1
    path.mkdir(parents=True)
    return path


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return os.fspath(value)
    return value


def write_json(path, data) -> None:
    """Write ``data`` to ``path`` as indented UTF-8 JSON, atomically (a crash leaves the
    old file or the new one). NumPy scalars and arrays become numbers and lists, tuples
    lists, ``Path`` objects strings and dict keys strings.

    Args:
        path: the file to write.
        data: the object to write (a dict for the run-folder files).

    Raises:
        TypeError: a value JSON cannot hold, after the conversions above; the old file,
            if any, is left as it was.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "metrics.json")
        >>> write_json(path, {"loss": np.float32(0.5), "shape": (2, 3)})
        >>> read_json(path)
        {'loss': 0.5, 'shape': [2, 3]}
    """
    with atomic_write(path, "w", encoding="utf-8") as f:
        json.dump(_jsonable(data), f, indent=2, sort_keys=False)
        f.write("\n")


def write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically: a crash leaves the old file or
    the new one, never a truncated one.

    Args:
        path: the file to write.
        text: its whole contents.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "sample.txt")
        >>> write_text(path, "héllo")
        >>> read_text(path)
        'héllo'
    """
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(text)


def read_json(path) -> dict:
    """The JSON object in ``path``.

    Args:
        path: the file.

    Returns:
        The object, as a dict.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a folder, not UTF-8 JSON (or nested too deeply), or not an object
            (a list, a number, ...).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "list.json")
        >>> write_text(path, "[1, 2]")
        >>> try:
        ...     read_json(path)
        ... except ValueError as error:
        ...     print(error)
        /.../list.json holds a JSON list, expected an object.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found: is this an rnnkit run folder?") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a folder, expected a JSON file.") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 JSON (bad byte at offset {exc.start}).") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ValueError(f"{path} is not valid JSON ({why}).") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a JSON {type(data).__name__}, expected an object.")
    return data


def read_text(path, encoding: str = "utf-8", what: str = "file") -> str:
    """The text of ``path``, decoded strictly: a byte that is not ``encoding`` is an
    error naming the file and the byte's offset, never a replacement character; a NUL
    character (UTF-16 read as UTF-8, or a binary file) is refused too.

    Args:
        path: the file.
        encoding: its encoding (any Python codec name). Default ``"utf-8"``.
        what: what the file is, for the messages (``"corpus"``, ``"--file"``). Default
            ``"file"``.

    Returns:
        The decoded text.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a folder, an unknown encoding, an undecodable byte or a NUL.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "corpus.txt")
        >>> with open(path, "wb") as f:
        ...     _ = f.write("café".encode("latin-1"))
        >>> read_text(path, encoding="latin-1")
        'café'
        >>> try:
        ...     read_text(path, what="corpus")
        ... except ValueError as error:
        ...     print(error)
        corpus '/.../corpus.txt' is not valid utf-8: byte 0xe9 at offset 3 (...)
    """
    import codecs

    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise ValueError(f"encoding: unknown encoding {encoding!r}") from None
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} {str(path)!r} not found")
    if not path.is_file():
        raise ValueError(f"{what} {str(path)!r} is not a file")
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{what} {str(path)!r} is not valid {encoding}: byte 0x{data[exc.start]:02x} at "
            f"offset {exc.start} (give the file's encoding with --encoding, e.g. latin-1)"
        ) from None
    nul = text.find("\0")
    if nul >= 0:
        raise ValueError(
            f"{what} {str(path)!r} holds a NUL character at offset {nul}: not {encoding} text "
            f"(UTF-16? give --encoding utf-16)"
        )
    return text


def read_fields(path, fields: dict) -> dict:
    """A run-folder JSON file that must hold ``fields``, each checked before any is used.

    Args:
        path: the JSON file (an object).
        fields: ``{name: type or tuple of types}``; a bool passes only where ``bool``
            is one of the types (not for ``int``).

    Returns:
        The whole object, as a dict (its other keys included).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a JSON object (see :func:`read_json`), or a missing field or one
            of the wrong type, naming the file and field.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "metrics.json")
        >>> write_json(path, {"epochs_run": True})
        >>> try:
        ...     read_fields(path, {"epochs_run": int})
        ... except ValueError as error:
        ...     print(error)
        /.../metrics.json: field 'epochs_run' has the wrong type (bool)
    """
    data = read_json(path)
    for name, kinds in fields.items():
        if name not in data:
            raise ValueError(f"{path}: field {name!r} is missing")
        value = data[name]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _tuple(kinds)):
            raise ValueError(f"{path}: field {name!r} has the wrong type ({type(value).__name__})")
    return data


def _tuple(kinds) -> tuple:
    return kinds if isinstance(kinds, tuple) else (kinds,)


# ---- what kind of run a folder holds ---------------------------------------------
#: kind -> (what such a folder is, the command that writes it)
KINDS = {
    "reuters": ("a Reuters topic-classifier run", "rnnkit reuters"),
    "lm": ("a language-model run", "rnnkit lm train"),
    "seq2seq": ("a sequence-to-sequence run", "rnnkit seq2seq train"),
    "gradients": ("a gradient-flow report", "rnnkit gradients"),
}


class RunFolderError(ValueError):
    """A folder that is not the kind of run folder a command reads, or an output
    folder a command will not write into. Nothing in the folder was changed.

    A ValueError, so that a caller catching those catches it too.

    Args:
        *args: the message, as for any exception.

    Example:
        >>> issubclass(RunFolderError, ValueError)
        True
    """


def write_config(run_dir, kind: str, config: dict) -> None:
    """Write ``run_dir/config.json``: ``{"kind": kind, **config}``, atomically.

    Args:
        run_dir: the run folder (it must exist).
        kind: the kind of run, a key of :data:`KINDS`.
        config: the resolved options of the run, JSON-able (see :func:`write_json`).

    Raises:
        ValueError: ``kind`` is not a key of :data:`KINDS`; nothing is written then.

    Example:
        >>> import tempfile
        >>> run_dir = tempfile.mkdtemp()
        >>> write_config(run_dir, "lm", {"corpus": "shakespeare", "level": "char"})
        >>> folder_kind(run_dir)
        ('lm', {'corpus': 'shakespeare', 'level': 'char'})
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}.")
    write_json(Path(run_dir) / "config.json", {"kind": kind, **config})


def _guess_kind(config: dict) -> str | None:
    """The kind of a folder written before config.json had a ``kind`` field."""
    if "corpus" in config and "level" in config:
        return "lm"
    if "task" in config and "n_train" in config:
        return "seq2seq"
    if "setting" in config and "model" in config:
        return "reuters"
    return None


def folder_kind(run_dir) -> tuple[str, dict]:
    """``(kind, config)`` of a run folder, reading nothing but its JSON.

    A folder without ``config.json`` that holds a ``gradients.json`` is a
    ``"gradients"`` folder (with an empty config); a config without a ``kind`` field
    (written by an older rnnkit) is recognised by its keys.

    Args:
        run_dir: the folder.

    Returns:
        ``(kind, config)``: a key of :data:`KINDS`, and the config without ``kind``.

    Raises:
        FileNotFoundError: ``run_dir`` does not exist.
        RunFolderError: not a folder, or not one rnnkit wrote.
        ValueError: a config.json that is not a JSON object, or whose ``kind`` is
            not a key of :data:`KINDS`.

    Example:
        >>> import tempfile
        >>> run_dir = tempfile.mkdtemp()
        >>> write_json(f"{run_dir}/config.json", {"task": "reverse", "n_train": 100})
        >>> folder_kind(run_dir)
        ('seq2seq', {'task': 'reverse', 'n_train': 100})
    """
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise FileNotFoundError(f"run folder {str(run_dir)!r} not found")
    if not run_dir.is_dir():
        raise RunFolderError(f"{str(run_dir)!r} is a file, not a run folder")
    config_path = run_dir / "config.json"
    if not config_path.exists():
        if (run_dir / "gradients.json").is_file():
            return "gradients", {}
        raise RunFolderError(
            f"{str(run_dir)!r} holds no config.json: not a run folder written by rnnkit"
        )
    config = read_json(config_path)
    kind = config.get("kind")
    if kind is None:
        kind = _guess_kind(config)
        if kind is None:
            raise RunFolderError(
                f"{config_path} has no 'kind' field and is not the config of any rnnkit run"
            )
    elif not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(
            f"{config_path}: field 'kind' must be one of {sorted(KINDS)}, got {kind!r}"
        )
    return kind, {k: v for k, v in config.items() if k != "kind"}


def open_run(run_dir, expected: str | tuple[str, ...], command: str) -> dict:
    """Check that ``run_dir`` is a run folder of the ``expected`` kind (or one of
    them) before a command reads anything else from it or writes to it; returns its
    config (without the ``kind`` field).

    Args:
        run_dir: the folder.
        expected: the kind(s) ``command`` reads (keys of :data:`KINDS`), a str or a
            tuple of them.
        command: the command, for the message (``"rnnkit predict"``).

    Returns:
        The folder's config.json as a dict, without ``kind``.

    Raises:
        RunFolderError: the folder is another kind of run, or none; it is left as it was.
        FileNotFoundError: no such folder.
        ValueError: its config.json is not a JSON object or names an unknown kind.

    Example:
        >>> import tempfile
        >>> run_dir = tempfile.mkdtemp()
        >>> write_config(run_dir, "lm", {"corpus": "shakespeare", "level": "char"})
        >>> open_run(run_dir, "lm", "rnnkit lm generate")
        {'corpus': 'shakespeare', 'level': 'char'}
        >>> try:
        ...     open_run(run_dir, "reuters", "rnnkit reuters --resume")
        ... except RunFolderError as error:
        ...     print(error)
        '/...' is a language-model run folder (written by 'rnnkit lm train'); ...
    """
    wanted = (expected,) if isinstance(expected, str) else tuple(expected)
    kind, config = folder_kind(run_dir)
    if kind not in wanted:
        what, writer = KINDS[kind]
        needed = " or ".join(f"{KINDS[k][0]} folder (from '{KINDS[k][1]}')" for k in wanted)
        raise RunFolderError(
            f"{str(run_dir)!r} is {what} folder (written by '{writer}'); {command} needs "
            f"{needed}; nothing in it was changed"
        )
    return config


def check_trained(history: dict, run_dir) -> None:
    """After ``fit(resume=True)``: refuse a run that had already run all its epochs
    (nothing was trained, so there is nothing new to write).

    Args:
        history: the ``History.history`` dict that ``fit`` returned; an empty or
            missing ``"loss"`` list means no epoch ran.
        run_dir: the run folder, for the message.

    Raises:
        RunFolderError: ``history`` holds no epoch.

    Example:
        >>> check_trained({"loss": [0.7]}, "runs/lm")  # an epoch ran: nothing raised
        >>> try:
        ...     check_trained({"loss": []}, "runs/lm")
        ... except RunFolderError as error:
        ...     print(error)
        the run in 'runs/lm' has already run all its epochs; nothing to resume (...)
    """
    if not history.get("loss"):
        raise RunFolderError(
            f"the run in {str(run_dir)!r} has already run all its epochs; nothing to resume "
            f"(its results are in metrics.json)"
        )


def check_resumable(run_dir, epochs: int) -> None:
    """Refuse to resume a run that has finished: its ``metrics.json`` (written last)
    says it ran all ``epochs``, or that early stopping or a time budget ended it.
    (A run whose config now asks for more epochs than it ran may continue, and so may
    a folder without ``metrics.json``.)

    Args:
        run_dir: the run folder.
        epochs: the number of epochs the run is to reach.

    Raises:
        RunFolderError: the run in ``run_dir`` is complete.
        ValueError: its ``metrics.json`` is not a JSON object.

    Example:
        >>> import tempfile
        >>> run_dir = tempfile.mkdtemp()
        >>> write_json(f"{run_dir}/metrics.json", {"epochs_run": 3, "ended_by": "epochs"})
        >>> check_resumable(run_dir, 5)  # 3 of 5 epochs ran: may continue
        >>> try:
        ...     check_resumable(run_dir, 3)
        ... except RunFolderError as error:
        ...     print(error)
        '/...' holds a finished run (3 epochs, ended by its last epoch); nothing to resume (...)
    """
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        return
    metrics = read_json(path)
    rows = metrics.get("rows")
    if isinstance(rows, list) and rows and isinstance(rows[0], dict):
        metrics = {**rows[0], **metrics}
    ran, ended = metrics.get("epochs_run"), metrics.get("ended_by")
    if ended in ("early_stopping", "time_budget") or (
        isinstance(ran, int) and isinstance(epochs, int) and ran >= epochs
    ):
        why = {"early_stopping": "early stopping", "time_budget": "the time budget"}.get(
            ended, "its last epoch"
        )
        raise RunFolderError(
            f"{str(run_dir)!r} holds a finished run ({ran} epoch{'' if ran == 1 else 's'}, "
            f"ended by {why}); nothing "
            f"to resume (start a new run with --out, or --overwrite this one)"
        )


def _field_types(cls) -> dict:
    return typing.get_type_hints(cls)


def _matches(value, hint) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint is dict or origin is dict:
        return isinstance(value, dict)
    return True


def config_from(cls, config: dict, path) -> typing.Any:
    """A config dataclass ``cls`` from a run folder's config dict: unknown keys
    (written by a newer rnnkit, or bookkeeping) are ignored, missing ones take their
    defaults, and a value of the wrong type is refused naming the file and the field.

    Args:
        cls: the dataclass; its fields' annotations (bool, int, float, str, dict, None
            and unions of them) are checked, others are taken as they come.
        config: the dict read from the folder.
        path: the file, for the message.

    Returns:
        ``cls(**values)`` of the known keys.

    Raises:
        ValueError: a field of the wrong type.

    Example:
        >>> import dataclasses
        >>> @dataclasses.dataclass
        ... class Options:
        ...     units: int = 64
        ...     lr: float = 0.01
        >>> config_from(Options, {"units": 8, "kind": "lm"}, "config.json")
        Options(units=8, lr=0.01)
        >>> try:
        ...     config_from(Options, {"units": "8"}, "config.json")
        ... except ValueError as error:
        ...     print(error)
        config.json: field 'units' must be <class 'int'>, got '8'
    """
    hints = _field_types(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in config:
            continue
        value = config[f.name]
        if not _matches(value, hints[f.name]):
            raise ValueError(f"{path}: field {f.name!r} must be {hints[f.name]}, got {value!r}")
        values[f.name] = value
    return cls(**values)


def check_resume_options(given: dict, stored, path) -> None:
    """Refuse options given with ``--resume`` that differ from the stored run.

    Args:
        given: ``{"--option": (field, value)}`` for every option the user typed.
        stored: the run's config (a dataclass, or any object with those attributes).
        path: the run folder, for the message.

    Raises:
        RunFolderError: the first conflicting option, with both values.

    Example:
        >>> import types
        >>> stored = types.SimpleNamespace(units=64)
        >>> check_resume_options({"--units": ("units", 64)}, stored, "runs/lm")  # the same
        >>> try:
        ...     check_resume_options({"--units": ("units", 128)}, stored, "runs/lm")
        ... except RunFolderError as error:
        ...     print(error)
        --units 128 conflicts with the run in 'runs/lm', which has units = 64; ...
    """
    for option, (name, value) in given.items():
        saved = getattr(stored, name)
        if value != saved:
            raise RunFolderError(
                f"{option} {value!r} conflicts with the run in {str(path)!r}, which has "
                f"{name} = {saved!r}; give --resume alone to continue it as it began"
            )


#: What a command writes into its run folder; ``--overwrite`` removes these first so
#: that a new run never mixes with, resumes or prunes the old one.
RUN_FILES = (
    "config.json",
    "metrics.json",
    "history.json",
    "model.rnnkit",
    "vocab.json",
    "tokenizer.json",
    "gradients.json",
)


def check_out_dir(out, overwrite: bool = False, option: str = "--out") -> Path:
    """Check, changing nothing, that a new run may write to ``out``: a folder that
    already holds files is refused unless ``overwrite`` (two runs into one folder would
    overwrite or interleave each other). A folder that does not exist yet passes.

    Args:
        out: the output folder.
        overwrite: accept a folder that already holds files. Default False.
        option: the command-line option that named ``out``, for the message. Default
            ``"--out"``.

    Returns:
        ``out`` as a ``Path``.

    Raises:
        RunFolderError: ``out`` is a file, or a non-empty folder without ``overwrite``.

    Example:
        >>> import tempfile
        >>> out = tempfile.mkdtemp()
        >>> write_text(f"{out}/notes.txt", "mine")
        >>> try:
        ...     check_out_dir(out)
        ... except RunFolderError as error:
        ...     print(error)
        --out '/...' is not empty (notes.txt); pass --overwrite to replace the run in it, ...
        >>> check_out_dir(out, overwrite=True).is_dir()
        True
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"{option} {str(out)!r} is a file, expected a folder")
    if out.is_dir() and not overwrite:
        entries = sorted(p.name for p in out.iterdir())
        if entries:
            shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
            raise RunFolderError(
                f"{option} {str(out)!r} is not empty ({shown}); pass --overwrite to replace "
                f"the run in it, or choose another folder"
            )
    return out


def prepare_out_dir(out, overwrite: bool = False, option: str = "--out") -> Path:
    """The folder a new run writes to, created if needed (see :func:`check_out_dir`).
    With ``overwrite``, the old run's files (:data:`RUN_FILES`, its PNGs and its
    ``checkpoints`` folder) are removed first, so that the new run never resumes or
    prunes the old one's checkpoints; files rnnkit did not write are left alone.

    Args:
        out: the output folder.
        overwrite: accept a non-empty folder, removing the old run's files. Default
            False.
        option: the command-line option that named ``out``, for the message. Default
            ``"--out"``.

    Returns:
        ``out`` as a ``Path``, an existing folder.

    Raises:
        RunFolderError: as :func:`check_out_dir`.

    Example:
        >>> import os, tempfile
        >>> out = tempfile.mkdtemp()
        >>> write_json(f"{out}/metrics.json", {"loss": 1.0})
        >>> write_text(f"{out}/notes.txt", "mine")
        >>> run_dir = prepare_out_dir(out, overwrite=True)
        >>> sorted(os.listdir(run_dir))
        ['notes.txt']
    """
    out = check_out_dir(out, overwrite, option)
    if out.is_dir() and overwrite:
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
        for png in out.glob("*.png"):
            png.unlink()
        if (out / "checkpoints").is_dir():
            shutil.rmtree(out / "checkpoints")
    out.mkdir(parents=True, exist_ok=True)
    return out


# ---- sizes that cannot fit -------------------------------------------------------
def _human(nbytes: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} EiB"  # pragma: no cover


def available_memory() -> int:
    """Bytes this process may still allocate: the machine's physical memory, or less
    under an address-space or data limit (``ulimit -v``, ``resource.setrlimit``), less
    what the process already uses.

    Returns:
        The number of bytes, an int.

    Example:
        >>> available_memory() > 0
        True
    """
    try:
        limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        limit = 1 << 62
    used = 0
    try:
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        pass
    for which in ("RLIMIT_AS", "RLIMIT_DATA"):
        soft = resource.getrlimit(getattr(resource, which))[0]
        if soft != resource.RLIM_INFINITY:
            limit = min(limit, max(soft - used, 0))
    return int(limit)


def ensure_fits(nbytes: float, what: str, hint: str) -> None:
    """Refuse work whose memory cannot fit, before allocating any of it.

    Args:
        nbytes: an estimate of the bytes the work needs.
        what: what needs them (``"an LSTM of 10^9 units"``).
        hint: what to make smaller (``"--units"``).

    Raises:
        ValueError: ``nbytes`` is more than :func:`available_memory`.

    Example:
        >>> ensure_fits(1024, "a small model", "--units")  # fits: nothing raised
        >>> try:
        ...     ensure_fits(2.0**70, "an LSTM of 10^12 units", "--units")
        ... except ValueError as error:
        ...     print(error)
        an LSTM of 10^12 units needs about 1048576.0 PiB, more than the ...; use a smaller --units
    """
    free = available_memory()
    if nbytes > free:
        raise ValueError(
            f"{what} needs about {_human(nbytes)}, more than the {_human(free)} this "
            f"process can allocate; use a smaller {hint}"
        )


def progress_verbosity(quiet: bool) -> int:
    """The ``verbose`` a command passes to ``fit``: 0 with ``-q``; 1 (a progress bar)
    when stderr is a terminal; 2 (one line per epoch) when stderr is a file or a pipe
    (a log file would otherwise fill with carriage-return updates).

    Args:
        quiet: the command's ``-q``.

    Returns:
        0, 1 or 2.

    Example:
        >>> progress_verbosity(True)
        0
    """
    if quiet:
        return 0
    stream = sys.stderr
    return 1 if stream is not None and hasattr(stream, "isatty") and stream.isatty() else 2


def environment() -> dict:
    """Versions and machine facts recorded beside every run's metrics.

    Returns:
        A dict of ``rnnkit``, ``numpy`` and ``python`` versions, ``machine`` (the
        architecture, as ``platform.machine()``) and ``cpu_count``.

    Example:
        >>> sorted(environment())
        ['cpu_count', 'machine', 'numpy', 'python', 'rnnkit']
    """
    return {
        "rnnkit": __version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }

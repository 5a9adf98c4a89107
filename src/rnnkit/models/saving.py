"""The model file format: one ``.npz`` archive, read without pickle and without trust.

Members:
  * ``__config__``: a uint8 array holding UTF-8 JSON —
    ``{"format": "rnnkit.model", "format_version": 1, "rnnkit_version": ...,
    "model": {class_name, config}, "compile": {...} | null,
    "weights": [{"name", "shape", "dtype"}, ...], "optimizer_state": [...] | null,
    "extra": {...}, "extra_arrays": [...]}``;
  * ``w/<index>``: one array per weight, in ``model.get_weights()`` order;
  * ``opt/<key>``: optimizer slots, when saved;
  * ``x/<key>``: extra arrays (checkpoints).

A file is untrusted until checked, and checked before it costs anything: the archive
is opened without decompressing a member; the config is read first (size-capped,
nesting bounded, every field type-checked); only the members the config names are
read, each after its ``.npy`` header (dtype, shape, order) has been checked against
the config and its declared size against a bound derived from the file's size; the
layers are built under a budget of the weights the config lists (so ``units=10**12``
is refused before any allocation); arrays are read with no pickle anywhere. Every
refusal is a ValueError naming the file and the part. Files are written to a
temporary file, fsync'd and renamed (never half-written).
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from struct import error as struct_error

import numpy as np

from .. import __version__, losses, optimizers
from ..utils.io import atomic_write, parse_json

FORMAT = "rnnkit.model"
FORMAT_VERSION = 1
_ALLOWED_DTYPES = {"float16", "float32", "float64", "int64", "int32"}
#: dtype kinds accepted for optimizer slots and extra arrays: bool, ints, floats
_NUMERIC_KINDS = "biuf"

_MAGIC = b"PK"
#: the config's JSON is at most this large (a long History in a checkpoint is ~1 MB)
_MAX_CONFIG_BYTES = 16 << 20
#: a .npy header np.save writes is ~128 bytes; 4 KiB leaves room for 32-axis shapes
_MAX_NPY_HEADER = 4096
_MAX_NDIM = 32
#: the total decompressed size read from one file is at most
#: max(_MIN_READ_BOUND, _MAX_COMPRESSION_RATIO x the file's size): rnnkit writes members
#: uncompressed, and real weights deflate by far less than 64:1, while a zip bomb needs
#: ~1000:1 to hurt
_MIN_READ_BOUND = 64 << 20
_MAX_COMPRESSION_RATIO = 64
_READ_CHUNK = 1 << 20
#: layers in one model: building a layer costs memory whether or not it has weights
_MAX_LAYERS = 10_000
#: entries in a model file's zip directory (weights, optimizer slots, extra arrays)
_MAX_MEMBERS = 250_000
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError)


def _config_array(config: dict) -> np.ndarray:
    import json

    return np.frombuffer(json.dumps(config).encode("utf-8"), dtype=np.uint8)


def _write_npz(path, arrays: dict[str, np.ndarray]) -> None:
    # straight into the temporary file: no second copy of the archive in memory
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)


def save_model(
    model,
    filepath,
    include_optimizer: bool = True,
    extra: dict | None = None,
    extra_arrays: dict[str, np.ndarray] | None = None,
) -> None:
    """Write ``model`` (architecture, weights, compile settings, optimizer state).

    Args:
        model: a Sequential or functional Model.
        filepath: where to write; written atomically (a temporary file renamed).
        include_optimizer: also save the optimizer's slots (Adam's moments…).
        extra: JSON-able values that ride along (checkpoints); they come back as
            ``model.saved_extra`` from :func:`load_model`.
        extra_arrays: numeric arrays that ride along; back as
            ``model.saved_extra_arrays``.

    Raises:
        ValueError: an extra array that is not numeric.

    Example:
        >>> save_model(model, "m.rnnkit")  # doctest: +SKIP
    """
    if os.fspath(filepath).lower().endswith((".keras", ".h5", ".hdf5")):
        from ..interop.keras_files import save_keras_model  # Keras's format, not ours

        return save_keras_model(model, filepath)
    weights = model.weights()
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "rnnkit_version": __version__,
        "model": {"class_name": type(model).__name__, "config": model.get_config()},
        "compile": None,
        "weights": [{"name": n, "shape": list(w.shape), "dtype": w.dtype.name} for n, w in weights],
        "optimizer_state": None,
        "extra": extra or {},
    }
    arrays = {f"w/{i}": w for i, (_, w) in enumerate(weights)}
    if model.loss is not None:
        config["compile"] = {
            "loss": losses.serialize(model.loss),
            "optimizer": optimizers.serialize(model.optimizer),
            "metrics": [m for m in getattr(model, "_metric_specs", []) if isinstance(m, str)],
        }
        if hasattr(model, "output_losses"):  # functional: one loss per output, weights
            config["compile"]["losses"] = [losses.serialize(l) for l in model.output_losses]
            config["compile"]["loss_weights"] = list(model.loss_weights)
        if include_optimizer and model.optimizer.slots:
            state = model.optimizer.state()
            config["optimizer_state"] = sorted(state)
            arrays.update({f"opt/{k}": np.asarray(v) for k, v in state.items()})
    for key, value in (extra_arrays or {}).items():
        value = np.asarray(value)
        if value.dtype.kind not in _NUMERIC_KINDS:
            raise ValueError(
                f"extra array {key!r} has dtype {value.dtype}; only numeric arrays are saved."
            )
        arrays[f"x/{key}"] = value
    config["extra_arrays"] = sorted(extra_arrays or {})
    arrays["__config__"] = _config_array(config)
    _write_npz(filepath, arrays)


# ---------------------------------------------------------------- the archive, bounded


class _Header:
    __slots__ = ("dtype", "shape", "fortran", "offset", "nbytes")

    def __init__(self, dtype, shape, fortran, offset):
        self.dtype, self.shape, self.fortran, self.offset = dtype, shape, fortran, offset
        self.nbytes = math.prod(shape) * dtype.itemsize


def _check_entry_count(path: str) -> None:
    """Refuse a zip directory of absurdly many entries before zipfile lists them (each
    costs a few hundred bytes of memory, a directory record only 46)."""
    try:
        with open(path, "rb") as f:
            end = zipfile._EndRecData(f)  # the end-of-directory record, as zipfile reads it
    except (OSError, ValueError, struct_error):
        return  # zipfile reports what is wrong
    if end and end[zipfile._ECD_ENTRIES_TOTAL] > _MAX_MEMBERS:
        raise ValueError(
            f"{path!r}: its zip directory lists {end[zipfile._ECD_ENTRIES_TOTAL]:,} entries; "
            f"an rnnkit model file has at most {_MAX_MEMBERS:,}."
        )


class _Archive:
    """A model file's zip directory, read without decompressing anything; members
    are read one at a time, each within the bounds checked from its header."""

    def __init__(self, path: str):
        self.path = path
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No model file at {path!r}.")
        self.size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(4)
        if not head.startswith(_MAGIC):
            what = "an empty file" if not head else "not a zip archive"
            raise ValueError(f"{path!r} is not an rnnkit model file ({what}).")
        _check_entry_count(path)
        try:
            self.zip = zipfile.ZipFile(path)
        except _ZIP_ERRORS as exc:
            raise ValueError(
                f"{path!r} is not a readable rnnkit model file (a corrupt or truncated "
                f"zip archive: {exc})."
            ) from None
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in self.zip.infolist():
            if info.filename in self.members:
                self.close()
                raise ValueError(f"{path!r}: the archive holds {info.filename!r} twice.")
            self.members[info.filename] = info
        self.bound = max(_MIN_READ_BOUND, _MAX_COMPRESSION_RATIO * self.size)
        self.headers: dict[str, _Header] = {}

    def close(self) -> None:
        self.zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def info(self, key: str, what: str) -> zipfile.ZipInfo:
        info = self.members.get(key + ".npy")
        if info is None:
            raise ValueError(f"{self.path!r}: {what} ({key}) is missing.")
        if info.flag_bits & 0x1:
            raise ValueError(f"{self.path!r}: {what} ({key}) is encrypted.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(
                f"{self.path!r}: {what} ({key}) uses zip compression method "
                f"{info.compress_type}; rnnkit reads stored or deflated members."
            )
        if info.compress_size > self.size or (
            info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size
        ):
            raise ValueError(
                f"{self.path!r}: {what} ({key}) declares {info.file_size:,} bytes "
                f"({info.compress_size:,} stored) in a {self.size:,}-byte file."
            )
        if info.file_size > _MAX_COMPRESSION_RATIO * info.compress_size + _READ_CHUNK:
            raise ValueError(
                f"{self.path!r}: {what} ({key}) would decompress {info.compress_size:,} "
                f"bytes to {info.file_size:,}, more than {_MAX_COMPRESSION_RATIO}:1 "
                f"(a zip bomb, not a model file)."
            )
        return info

    def check_total(self, keys: list[str]) -> None:
        """Refuse, before reading any, members whose declared sizes add up to more
        than the file can justify."""
        total = sum(self.members[k + ".npy"].file_size for k in keys)
        if total > self.bound:
            raise ValueError(
                f"{self.path!r}: its members would decompress to {total:,} bytes, more "
                f"than {self.bound:,} for a {self.size:,}-byte file (a zip bomb, not a "
                f"model file)."
            )

    def header(self, key: str, what: str) -> _Header:
        """The member's .npy header, checked: a numeric dtype, a bounded shape, and a
        declared size that is exactly header plus data. Decompresses the header only."""
        if key in self.headers:
            return self.headers[key]
        info = self.info(key, what)
        try:
            with self.zip.open(info) as f:
                header = self._parse_header(f, key, what)  # its ValueErrors name the file
        except _ZIP_ERRORS as exc:
            raise ValueError(f"{self.path!r}: {what} ({key}) cannot be read ({exc}).") from None
        if header.offset + header.nbytes != info.file_size:
            raise ValueError(
                f"{self.path!r}: {what} ({key}) has a header for {header.dtype.name}"
                f"{list(header.shape)} ({header.nbytes:,} bytes) but holds "
                f"{info.file_size - header.offset:,} bytes of data."
            )
        self.headers[key] = header
        return header

    def _parse_header(self, f, key, what) -> _Header:
        fmt = np.lib.format
        try:
            version = fmt.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = fmt.read_array_header_1_0(f, _MAX_NPY_HEADER)
            elif version == (2, 0):
                shape, fortran, dtype = fmt.read_array_header_2_0(f, _MAX_NPY_HEADER)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError) as exc:
            message = " ".join(str(exc).split())[:200]
            raise ValueError(
                f"{self.path!r}: {what} ({key}) is not a valid .npy array ({message})."
            ) from None
        if dtype.kind not in _NUMERIC_KINDS or dtype.hasobject or dtype.shape:
            raise ValueError(
                f"{self.path!r}: {what} ({key}) has dtype {dtype}; rnnkit reads numeric "
                f"arrays only (no objects, strings or records)."
            )
        if len(shape) > _MAX_NDIM or not all(isinstance(d, int) and 0 <= d < 2**62 for d in shape):
            raise ValueError(f"{self.path!r}: {what} ({key}) declares the shape {shape}.")
        return _Header(dtype, tuple(shape), bool(fortran), f.tell())

    def read(self, key: str, what: str) -> np.ndarray:
        """The member's array, allocated from its checked header and filled in chunks;
        the zip layer checks the CRC at the end."""
        header = self.headers[key]
        info = self.members[key + ".npy"]
        count = math.prod(header.shape)
        out = np.empty(count, dtype=header.dtype)
        view = memoryview(out.view(np.uint8)) if count else memoryview(b"")
        try:
            with self.zip.open(info) as f:
                f.read(header.offset)
                done = 0
                while done < header.nbytes:
                    got = f.readinto(view[done : done + _READ_CHUNK])
                    if not got:
                        raise EOFError(f"the data ends after {done:,} of {header.nbytes:,} bytes")
                    done += got
                f.read(1)  # reach the end, where the zip layer checks the CRC
        except _ZIP_ERRORS as exc:
            raise ValueError(
                f"{self.path!r}: {what} ({key}) is corrupt or truncated ({exc})."
            ) from None
        shape = header.shape
        array = out.reshape(shape[::-1]).T if header.fortran else out.reshape(shape)
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        return array if array.flags.c_contiguous else np.array(array, order="C")

    def read_config(self) -> dict:
        try:
            info = self.info("__config__", "the config")
        except ValueError:
            raise ValueError(
                f"{self.path!r} is not an rnnkit model file: it has no valid __config__ entry."
            ) from None
        if info.file_size > _MAX_CONFIG_BYTES:
            raise ValueError(
                f"{self.path!r}: its config is {info.file_size:,} bytes; at most "
                f"{_MAX_CONFIG_BYTES:,} are read."
            )
        header = self.header("__config__", "the config")
        if header.dtype != np.uint8 or len(header.shape) != 1:
            raise ValueError(
                f"{self.path!r} is not an rnnkit model file: it has no valid __config__ "
                f"entry (a {header.dtype}{list(header.shape)} array, not uint8 bytes)."
            )
        raw = self.read("__config__", "the config")
        # NaN and inf are allowed: a checkpoint's extras hold "best so far = inf"; the
        # fields that must be finite are checked where they are read
        return parse_json(raw.tobytes(), f"{self.path!r}: its config", allow_nonfinite=True)


# --------------------------------------------------------------- checking the config


def _fail(path, field, expected, got) -> ValueError:
    shown = repr(got)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ValueError(f"{path!r}: config field {field} must be {expected}, got {shown}.")


def _dict(path, value, field) -> dict:
    if not isinstance(value, dict):
        raise _fail(path, field, "an object", value)
    return value


def _list(path, value, field, max_len: int = 1 << 20) -> list:
    if not isinstance(value, list):
        raise _fail(path, field, "a list", value)
    if len(value) > max_len:
        raise _fail(path, field, f"a list of at most {max_len:,} items", f"{len(value):,} items")
    return value


def _int(path, value, field, minimum=0, maximum=2**62) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise _fail(path, field, f"an integer in [{minimum}, {maximum}]", value)
    return value


def _str(path, value, field, optional=False):
    if optional and value is None:
        return None
    if not isinstance(value, str) or len(value) > 1024:
        raise _fail(path, field, "a string" + (" or null" if optional else ""), value)
    return value


def _bool(path, value, field) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, field, "true or false", value)
    return value


def _names(path, value, field) -> list[str]:
    if value is None:
        return []
    names = [_str(path, v, f"{field}[{i}]") for i, v in enumerate(_list(path, value, field))]
    if len(set(names)) != len(names):
        raise _fail(path, field, "a list of distinct names", value)
    return names


def _sample_shape(path, value, field) -> tuple:
    dims = _list(path, value, field, max_len=_MAX_NDIM)
    return tuple(
        None if d is None else _int(path, d, f"{field}[{i}]", 1) for i, d in enumerate(dims)
    )


def _check_header(path, config) -> None:
    if not isinstance(config, dict):
        raise ValueError(
            f"{path!r} is not an rnnkit model file: its config is a "
            f"{type(config).__name__}, not an object."
        )
    if config.get("format") != FORMAT:
        shown = repr(config.get("format"))[:80]
        raise ValueError(f"{path!r} is not an rnnkit model file (format {shown}).")
    version = config.get("format_version")
    if (
        isinstance(version, bool)
        or not isinstance(version, int)
        or not 1 <= version <= FORMAT_VERSION
    ):
        raise ValueError(
            f"{path!r} has format_version {repr(version)[:40]}; this rnnkit ({__version__}) reads "
            f"versions 1 to {FORMAT_VERSION}."
        )


def _weight_specs(path, config) -> list[tuple[str, tuple[int, ...], str]]:
    if "weights" not in config:
        raise ValueError(f"{path!r}: config has no weight list.")
    specs = []
    for i, spec in enumerate(_list(path, config["weights"], "weights")):
        field = f"weights[{i}]"
        spec = _dict(path, spec, field)
        name = _str(path, spec.get("name"), f"{field}.name")
        dims = _list(path, spec.get("shape"), f"{field}.shape", max_len=_MAX_NDIM)
        shape = tuple(_int(path, d, f"{field}.shape[{j}]") for j, d in enumerate(dims))
        dtype = spec.get("dtype")
        if not isinstance(dtype, str) or dtype not in _ALLOWED_DTYPES:
            raise _fail(path, f"{field}.dtype", f"one of {sorted(_ALLOWED_DTYPES)}", dtype)
        specs.append((name, shape, dtype))
    names = [s[0] for s in specs]
    if len(set(names)) != len(names):
        raise _fail(path, "weights", "weights of distinct names", names)
    return specs


def _layer_specs(path, value, field) -> list:
    from ..layers import _CLASSES

    layers = _list(path, value, field, max_len=_MAX_LAYERS)
    for i, spec in enumerate(layers):
        spec = _dict(path, spec, f"{field}[{i}]")
        name = spec.get("class_name")
        if not isinstance(name, str) or name not in _CLASSES:
            raise _fail(path, f"{field}[{i}].class_name", "a known layer class", name)
        _dict(path, spec.get("config", {}), f"{field}[{i}].config")
    return layers


def _check_model_spec(path, spec) -> None:
    """The model's structure, before anything is built from it: the classes, the
    fields each needs, and for a functional graph that every node reads an input or
    an earlier node."""
    spec = _dict(path, spec, "model")
    kind = spec.get("class_name")
    if kind not in ("Sequential", "Model"):
        raise _fail(path, "model.class_name", "'Sequential' or 'Model'", kind)
    config = _dict(path, spec.get("config"), "model.config")
    _str(path, config.get("name"), "model.config.name", optional=True)
    layers = _layer_specs(path, config.get("layers"), "model.config.layers")
    if kind == "Sequential":
        if config.get("input_shape") is not None:
            _sample_shape(path, config["input_shape"], "model.config.input_shape")
        return
    inputs = _list(path, config.get("inputs"), "model.config.inputs")
    if not inputs:
        raise _fail(path, "model.config.inputs", "a non-empty list", inputs)
    for i, item in enumerate(inputs):
        item = _dict(path, item, f"model.config.inputs[{i}]")
        _sample_shape(path, item.get("shape"), f"model.config.inputs[{i}].shape")
        _str(path, item.get("name"), f"model.config.inputs[{i}].name", optional=True)
    if not _bool(path, config.get("multi_input"), "model.config.multi_input") and len(inputs) != 1:
        raise _fail(path, "model.config.inputs", "one input (multi_input is false)", inputs)
    multi_output = _bool(path, config.get("multi_output"), "model.config.multi_output")
    nodes = _list(path, config.get("nodes"), "model.config.nodes", max_len=4 * _MAX_LAYERS)

    def ref(value, field, before: int) -> None:
        value = _list(path, value, field, max_len=3)
        if value[:1] == ["input"] and len(value) == 2:
            _int(path, value[1], f"{field}[1]", 0, len(inputs) - 1)
        elif value[:1] == ["node"] and len(value) == 3:
            if before == 0:
                raise _fail(path, field, "an input (no node comes before this one)", value)
            _int(path, value[1], f"{field}[1] (a node before this one)", 0, before - 1)
            _int(path, value[2], f"{field}[2]", 0, 1024)
        else:
            raise _fail(path, field, "['input', i] or ['node', k, j]", value)

    for k, node in enumerate(nodes):
        field = f"model.config.nodes[{k}]"
        node = _dict(path, node, field)
        _int(path, node.get("layer"), f"{field}.layer", 0, len(layers) - 1)
        refs = _list(path, node.get("inputs"), f"{field}.inputs")
        if not refs:
            raise _fail(path, f"{field}.inputs", "a non-empty list", refs)
        if not _bool(path, node.get("list_input"), f"{field}.list_input") and len(refs) != 1:
            raise _fail(path, f"{field}.inputs", "one input (list_input is false)", refs)
        for j, r in enumerate(refs):
            ref(r, f"{field}.inputs[{j}]", k)
        for j, r in enumerate(_list(path, node.get("initial_state", []), f"{field}.initial_state")):
            ref(r, f"{field}.initial_state[{j}]", k)
    outputs = _list(path, config.get("outputs"), "model.config.outputs")
    if not outputs or (not multi_output and len(outputs) != 1):
        raise _fail(path, "model.config.outputs", "one output, or a list if multi_output", outputs)
    for j, r in enumerate(outputs):
        ref(r, f"model.config.outputs[{j}]", len(nodes))


def _serialized(path, spec, field, name_ok: bool = True) -> None:
    """A loss or optimizer as serialize() writes it: a name, or
    ``{"class_name": str, "config": {...}}``."""
    if name_ok and isinstance(spec, str):
        return
    spec = _dict(path, spec, field)
    _str(path, spec.get("class_name"), f"{field}.class_name")
    _dict(path, spec.get("config", {}), f"{field}.config")


def _check_compile(path, comp) -> None:
    if comp is None:
        return
    comp = _dict(path, comp, "compile")
    _serialized(path, comp.get("optimizer"), "compile.optimizer", name_ok=False)
    _serialized(path, comp.get("loss"), "compile.loss")
    _names(path, comp.get("metrics"), "compile.metrics")
    if comp.get("losses") is not None:
        for i, spec in enumerate(_list(path, comp["losses"], "compile.losses")):
            _serialized(path, spec, f"compile.losses[{i}]")
    if comp.get("loss_weights") is not None:
        for i, w in enumerate(_list(path, comp["loss_weights"], "compile.loss_weights")):
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w):
                raise _fail(path, f"compile.loss_weights[{i}]", "a finite number", w)


class _Loaded:
    """A file read as far as its config and headers: nothing big allocated yet."""

    def __init__(self, archive: _Archive, *, whole_model: bool):
        path = archive.path
        self.archive, self.path = archive, path
        self.config = config = archive.read_config()
        _check_header(path, config)
        self.specs = _weight_specs(path, config)
        if whole_model:
            if config.get("model") is None:
                raise ValueError(
                    f"{path!r} holds weights only (save_weights); load it with "
                    f"model.load_weights into a model of the same architecture."
                )
            _check_model_spec(path, config["model"])
            _check_compile(path, config.get("compile"))
        self.opt_keys = _names(path, config.get("optimizer_state"), "optimizer_state")
        if self.opt_keys and config.get("compile") is None:
            raise _fail(path, "optimizer_state", "null for a model saved uncompiled", self.opt_keys)
        self.extra_keys = _names(path, config.get("extra_arrays"), "extra_arrays")
        self.extra = _dict(path, config.get("extra", {}), "extra")
        self.weight_keys = [f"w/{i}" for i in range(len(self.specs))]
        listed = (
            ["__config__"]
            + self.weight_keys
            + [f"opt/{k}" for k in self.opt_keys]
            + [f"x/{k}" for k in self.extra_keys]
        )
        unexpected = sorted(set(archive.members) - {k + ".npy" for k in listed})
        if unexpected:
            shown = ", ".join(repr(n) for n in unexpected[:5])
            raise ValueError(
                f"{path!r}: unexpected entries {shown}"
                f"{' …' if len(unexpected) > 5 else ''} that the config does not list."
            )
        for i, key in enumerate(self.weight_keys):  # present and plausibly sized: no I/O
            archive.info(key, f"weight {self.specs[i][0]!r}")
        for key in listed[len(self.weight_keys) + 1 :]:
            archive.info(key, "optimizer slot" if key.startswith("opt/") else "extra array")
        archive.check_total(listed)
        for i, key in enumerate(self.weight_keys):
            name, shape, dtype = self.specs[i]
            header = archive.header(key, f"weight {name!r}")
            if header.shape != shape or header.dtype.name != dtype:
                raise ValueError(
                    f"{path!r}: weight {name!r} is {header.dtype.name}{list(header.shape)}, "
                    f"the config says {dtype}{list(shape)}."
                )
        for key in self.opt_keys:
            archive.header(f"opt/{key}", f"optimizer slot {key!r}")
        for key in self.extra_keys:
            archive.header(f"x/{key}", f"extra array {key!r}")

    @property
    def weight_values(self) -> int:
        return sum(math.prod(shape) for _, shape, _ in self.specs)

    def weights(self) -> list[np.ndarray]:
        return [
            self.archive.read(key, f"weight {spec[0]!r}")
            for key, spec in zip(self.weight_keys, self.specs)
        ]


# ---------------------------------------------------------------------------- loading


def _build(loaded: _Loaded):
    from ..layers.base import WeightBudgetError, weight_budget
    from .functional import Model
    from .sequential import Sequential

    path = loaded.path
    spec = loaded.config["model"]
    cls = {"Sequential": Sequential, "Model": Model}[spec["class_name"]]
    try:
        # every weight a layer's build creates counts against what the file lists:
        # a config that asks for more is refused before the allocation
        with weight_budget(loaded.weight_values, repr(path)):
            return cls.from_config(spec["config"])
    except WeightBudgetError as exc:
        raise ValueError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - a layer's constructor meeting any value
        message = " ".join(str(exc).split())[:300]
        raise ValueError(
            f"{path!r}: invalid model config ({type(exc).__name__}: {message})."
        ) from None


def _compile(loaded: _Loaded, model) -> None:
    path, comp = loaded.path, loaded.config["compile"]
    try:
        optimizer = optimizers.deserialize(comp["optimizer"])
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"{path!r}: config field compile.optimizer is invalid ({exc}).") from None
    try:
        loss = losses.deserialize(comp["loss"])
        kwargs = {}
        if comp.get("losses"):
            loss = [losses.deserialize(s) for s in comp["losses"]]
            kwargs["loss_weights"] = comp.get("loss_weights")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"{path!r}: config field compile.loss is invalid ({exc}).") from None
    try:
        model.compile(optimizer=optimizer, loss=loss, metrics=comp.get("metrics") or None, **kwargs)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{path!r}: config field compile is invalid ({exc}).") from None


def _restore_optimizer(loaded: _Loaded, model) -> None:
    """Check the saved slots against the ones this optimizer makes for this model
    (names, shapes, finite values) before loading any."""
    path, archive = loaded.path, loaded.archive
    params = [w for _, w in model.trainable_weights()]
    optimizer = model.optimizer
    optimizer._create_slots(params)
    expected = {k: np.asarray(v) for k, v in optimizer.state().items()}
    saved = set(loaded.opt_keys)
    missing = sorted(set(expected) - saved)
    unknown = sorted(saved - set(expected))
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}")
        if unknown:
            parts.append(f"not slots of {type(optimizer).__name__} {unknown[:5]}")
        raise ValueError(f"{path!r}: the optimizer state does not fit: {'; '.join(parts)}.")
    for key, want in expected.items():
        header = archive.headers[f"opt/{key}"]
        if header.shape != want.shape or (header.dtype.kind == "f") != (want.dtype.kind == "f"):
            raise ValueError(
                f"{path!r}: optimizer slot {key!r} is {header.dtype.name}{list(header.shape)}, "
                f"this model's is {want.dtype.name}{list(want.shape)}."
            )
    state = {}
    for key in expected:
        value = archive.read(f"opt/{key}", f"optimizer slot {key!r}")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ValueError(f"{path!r}: optimizer slot {key!r} holds NaN or inf.")
        state[key] = value
    iterations = state.get("iterations")
    if iterations is not None and (iterations.dtype.kind not in "iu" or int(iterations) < 0):
        raise ValueError(
            f"{path!r}: optimizer slot 'iterations' must be a count >= 0, got {iterations!r}."
        )
    optimizer.load_state(state, params)


def load_model(filepath, compile: bool = True):
    """Read a model written by :func:`save_model`; predictions are bit-identical.

    The file is checked before it costs memory: see the module docstring.

    Args:
        filepath: the model file.
        compile: also restore the loss, metrics, optimizer and its slots.

    Returns:
        The model, with ``saved_extra`` and ``saved_extra_arrays`` attributes.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an rnnkit model, corrupt, truncated, inconsistent, or asking
            for more than it holds; the message names the file and the part.

    Example:
        >>> model = load_model("m.rnnkit")  # doctest: +SKIP
    """
    if os.fspath(filepath).lower().endswith((".keras", ".h5", ".hdf5")):
        from ..interop.keras_files import load_keras_model  # a Keras 3 or legacy file

        return load_keras_model(filepath, compile=compile)
    path = os.fspath(filepath)
    with _Archive(path) as archive:
        loaded = _Loaded(archive, whole_model=True)
        model = _build(loaded)
        current = [(n, w.shape, w.dtype.name) for n, w in model.weights()]
        if [n for n, _, _ in current] != [n for n, _, _ in loaded.specs]:
            raise ValueError(
                f"{path!r}: weight names {[n for n, _, _ in loaded.specs]} do not match the "
                f"model's {[n for n, _, _ in current]}."
            )
        for (name, shape, dtype), (_, saved_shape, saved_dtype) in zip(current, loaded.specs):
            if shape != saved_shape or dtype != saved_dtype:
                raise ValueError(
                    f"{path!r}: weight {name!r} is {saved_dtype}{list(saved_shape)} in the "
                    f"file; the model's config makes it {dtype}{list(shape)}."
                )
        try:
            model.set_weights(loaded.weights())
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path!r}: {exc}") from None
        if compile and loaded.config.get("compile"):
            _compile(loaded, model)
            if loaded.opt_keys:
                _restore_optimizer(loaded, model)
        model.saved_extra = loaded.extra
        model.saved_extra_arrays = {
            k: archive.read(f"x/{k}", f"extra array {k!r}") for k in loaded.extra_keys
        }
    return model


def save_weights(model, filepath) -> None:
    """Weights only, in the same checked format (no architecture), written
    atomically. A path ending in ``.h5`` or ``.hdf5`` is written as a Keras
    ``.weights.h5`` file instead (see :mod:`rnnkit.interop.keras_files`).

    Args:
        model: a built model.
        filepath: the file to write.

    Example:
        >>> import os, tempfile
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential
        >>> from rnnkit.models.saving import save_weights
        >>> model = Sequential([layers.Input((5, 3)), layers.LSTM(4)])
        >>> path = os.path.join(tempfile.mkdtemp(), "w.rnnkit")
        >>> save_weights(model, path)
        >>> os.path.exists(path)
        True
    """
    if os.fspath(filepath).lower().endswith((".h5", ".hdf5")):
        from ..interop.keras_files import save_keras_weights  # Keras's .weights.h5

        return save_keras_weights(model, filepath)
    weights = model.weights()
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "rnnkit_version": __version__,
        "model": None,
        "weights": [{"name": n, "shape": list(w.shape), "dtype": w.dtype.name} for n, w in weights],
    }
    arrays = {f"w/{i}": w for i, (_, w) in enumerate(weights)}
    arrays["__config__"] = _config_array(config)
    _write_npz(filepath, arrays)


def load_weights(model, filepath) -> None:
    """Load weights saved by :func:`save_weights` or :func:`save_model` into ``model``,
    in get_weights() order. All or nothing: every array is checked (count, shapes,
    dtypes, finite values) before any is assigned, so a refused load leaves the
    model as it was. A path ending in ``.h5`` or ``.hdf5`` is read as a Keras
    ``.weights.h5`` file (see :mod:`rnnkit.interop.keras_files`).

    Args:
        model: a built model with the saved model's weights (count and shapes).
        filepath: the file to read.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an rnnkit file, or weights that do not fit ``model``; the
            message names the file and the weight.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> from rnnkit import layers
        >>> from rnnkit.models import Sequential
        >>> from rnnkit.models.saving import load_weights, save_weights
        >>> model = Sequential([layers.Input((5, 3)), layers.LSTM(4)])
        >>> path = os.path.join(tempfile.mkdtemp(), "w.rnnkit")
        >>> save_weights(model, path)
        >>> other = Sequential([layers.Input((5, 3)), layers.LSTM(4)])
        >>> load_weights(other, path)
        >>> all(np.array_equal(a, b) for a, b in zip(other.get_weights(), model.get_weights()))
        True
    """
    if os.fspath(filepath).lower().endswith((".h5", ".hdf5")):
        from ..interop.keras_files import load_keras_weights  # Keras's .weights.h5

        return load_keras_weights(model, filepath)
    path = os.fspath(filepath)
    with _Archive(path) as archive:
        loaded = _Loaded(archive, whole_model=False)
        current = model.weights()
        if len(current) != len(loaded.specs):
            raise ValueError(
                f"{path!r} holds {len(loaded.specs)} weights; model {model.name!r} has "
                f"{len(current)}."
            )
        for (name, target), (saved_name, shape, _) in zip(current, loaded.specs):
            if target.shape != shape:
                raise ValueError(
                    f"{path!r}: weight {saved_name!r} has shape {list(shape)}; model "
                    f"{model.name!r} needs {list(target.shape)} for {name!r}."
                )
        weights = loaded.weights()
    try:
        model.set_weights(weights)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path!r}: {exc}") from None

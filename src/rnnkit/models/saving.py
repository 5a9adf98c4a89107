"""The model file format: one ``.npz`` archive, loaded with ``allow_pickle=False``.

Members:
  * ``__config__``: a uint8 array holding UTF-8 JSON —
    ``{"format": "rnnkit.model", "format_version": 1, "rnnkit_version": ...,
    "model": {class_name, config}, "compile": {...} | null,
    "weights": [{"name", "shape", "dtype"}, ...], "optimizer_state": [...] | null}``;
  * ``w/<index>``: one array per weight, in ``model.get_weights()`` order;
  * ``opt/<key>``: optimizer slots, when saved.

Loading checks everything against the config (names, shapes, dtypes, format
version) and refuses anything else with a ValueError; there is no pickle anywhere.
Files are written to a temporary file, fsync'd and renamed (never half-written).
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np

from .. import __version__, losses, optimizers
from ..utils.io import atomic_write

FORMAT = "rnnkit.model"
FORMAT_VERSION = 1
_ALLOWED_DTYPES = {"float16", "float32", "float64", "int64", "int32"}


def _config_array(config: dict) -> np.ndarray:
    return np.frombuffer(json.dumps(config).encode("utf-8"), dtype=np.uint8)


def _write_npz(path, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with atomic_write(path, "wb") as f:
        f.write(buf.getvalue())


def save_model(
    model,
    filepath,
    include_optimizer: bool = True,
    extra: dict | None = None,
    extra_arrays: dict[str, np.ndarray] | None = None,
) -> None:
    """Write ``model`` (architecture, weights, compile settings, optimizer state).

    ``extra`` (JSON-able) and ``extra_arrays`` ride along for checkpoints; they come
    back as ``model.saved_extra`` and ``model.saved_extra_arrays`` from load_model."""
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
        if value.dtype == object:
            raise ValueError(
                f"extra array {key!r} has dtype object; only numeric arrays are saved."
            )
        arrays[f"x/{key}"] = value
    config["extra_arrays"] = sorted(extra_arrays or {})
    arrays["__config__"] = _config_array(config)
    _write_npz(filepath, arrays)


def _read(filepath) -> tuple[dict, dict[str, np.ndarray]]:
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ValueError(
            f"{path!r} is not a readable rnnkit model file (corrupt or truncated): {exc}"
        ) from None
    raw = arrays.pop("__config__", None)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError(f"{path!r} is not an rnnkit model file: it has no valid __config__ entry.")
    try:
        config = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path!r}: its config is not valid JSON ({exc}).") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not an rnnkit model file (format {config.get('format')!r}).")
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ValueError(
            f"{path!r} has format_version {version!r}; this rnnkit ({__version__}) reads "
            f"versions 1 to {FORMAT_VERSION}."
        )
    return config, arrays


def _checked_weights(path, config, arrays) -> list[np.ndarray]:
    specs = config.get("weights")
    if not isinstance(specs, list):
        raise ValueError(f"{path!r}: config has no weight list.")
    out = []
    for i, spec in enumerate(specs):
        key = f"w/{i}"
        if key not in arrays:
            raise ValueError(f"{path!r}: weight {spec.get('name')!r} ({key}) is missing.")
        arr = arrays[key]
        if list(arr.shape) != list(spec.get("shape", [])) or arr.dtype.name != spec.get("dtype"):
            raise ValueError(
                f"{path!r}: weight {spec.get('name')!r} is {arr.dtype.name}{list(arr.shape)}, "
                f"the config says {spec.get('dtype')}{spec.get('shape')}."
            )
        if arr.dtype.name not in _ALLOWED_DTYPES:
            raise ValueError(f"{path!r}: weight {spec.get('name')!r} has dtype {arr.dtype}.")
        out.append(arr)
    extra = [
        k for k in arrays if k.startswith("w/") and k not in {f"w/{i}" for i in range(len(specs))}
    ]
    if extra:
        raise ValueError(f"{path!r}: unexpected weight entries {extra}.")
    return out


def load_model(filepath, compile: bool = True):
    """Read a model written by :func:`save_model`; predictions are bit-identical.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an rnnkit model, corrupt, truncated, or inconsistent.
    """
    from .sequential import Sequential

    path = os.fspath(filepath)
    config, arrays = _read(path)
    from .functional import Model

    spec = config.get("model") or {}
    classes = {"Sequential": Sequential, "Model": Model}
    if spec.get("class_name") not in classes:
        raise ValueError(f"{path!r}: unknown model class {spec.get('class_name')!r}.")
    try:
        model = classes[spec["class_name"]].from_config(spec["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path!r}: invalid model config ({exc}).") from None
    weights = _checked_weights(path, config, arrays)
    names = [n for n, _ in model.weights()]
    saved_names = [w["name"] for w in config["weights"]]
    if names != saved_names:
        raise ValueError(f"{path!r}: weight names {saved_names} do not match the model's {names}.")
    try:
        model.set_weights(weights)
    except ValueError as exc:
        raise ValueError(f"{path!r}: {exc}") from None
    comp = config.get("compile")
    if compile and comp:
        kwargs = {}
        loss = losses.deserialize(comp["loss"])
        if comp.get("losses"):
            loss = [losses.deserialize(spec) for spec in comp["losses"]]
            kwargs["loss_weights"] = comp.get("loss_weights")
        model.compile(
            optimizer=optimizers.deserialize(comp["optimizer"]),
            loss=loss,
            metrics=comp.get("metrics") or None,
            **kwargs,
        )
        keys = config.get("optimizer_state")
        if keys:
            state = {k: arrays[f"opt/{k}"] for k in keys if f"opt/{k}" in arrays}
            if len(state) != len(keys):
                raise ValueError(f"{path!r}: optimizer state is incomplete.")
            model.optimizer.load_state(state, [w for _, w in model.trainable_weights()])
    model.saved_extra = config.get("extra", {})
    keys = config.get("extra_arrays") or []
    missing = [k for k in keys if f"x/{k}" not in arrays]
    if missing:
        raise ValueError(f"{path!r}: extra arrays {missing} are missing.")
    model.saved_extra_arrays = {k: arrays[f"x/{k}"] for k in keys}
    return model


def save_weights(model, filepath) -> None:
    """Weights only, in the same checked format (no architecture)."""
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
    path = os.fspath(filepath)
    config, arrays = _read(path)
    weights = _checked_weights(path, config, arrays)
    try:
        model.set_weights(weights)
    except ValueError as exc:
        raise ValueError(f"{path!r}: {exc}") from None

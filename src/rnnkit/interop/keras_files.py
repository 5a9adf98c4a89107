"""Keras files: Keras 3's ``.keras`` archive read and written, the legacy HDF5 ``.h5``
format read.

* ``.keras`` (Keras 3): a zip archive of ``config.json`` (the architecture),
  ``metadata.json`` and ``model.weights.h5``, whose groups follow the model's object
  tree: ``layers/<layer>/vars/<i>``, a recurrent layer's weights under ``cell/``, a
  Bidirectional's under ``forward_layer/`` and ``backward_layer/``, a
  TimeDistributed's under ``layer/``. ``<layer>`` is the snake-cased class name
  (``lstm``, ``lstm_1``, … in the order of the model's layers), not the layer's name.
* ``.h5`` (legacy Keras, read only): the architecture as JSON in the ``model_config``
  attribute, the weights under ``model_weights/<layer name>/`` in the order of each
  group's ``weight_names``.
* ``.weights.h5`` (Keras 3's ``save_weights``): ``model.weights.h5`` alone, read and
  written by :func:`load_keras_weights` and :func:`save_keras_weights`.

Both need h5py (``pip install rnnkit[keras]``); no Keras is needed. Everything read is
checked: an option, layer or activation rnnkit lacks, or one whose semantics differ
from Keras's (Keras's GlobalMaxPooling1D ignores masks, rnnkit's does not), is a
ValueError naming it and the file, never a silently different model. Zip members are
size-capped, every HDF5 dataset's shape is checked against the model before it is read
(and its stored bytes against its size), and a truncated or corrupt file is a
ValueError naming it. Writing goes through :func:`rnnkit.utils.io.atomic_write`, after
everything has been checked.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import time
import zipfile

import numpy as np

from .. import __version__, activations
from ..layers import (
    Activation,
    Add,
    Bidirectional,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    Layer,
    Masking,
    RepeatVector,
    SpatialDropout1D,
    TimeDistributed,
)
from ..layers.recurrent import GRU, LSTM, RNN, SimpleRNN
from ..utils.io import atomic_write

# Layers read and written when this rnnkit has them, with the Keras options passed on
# (each class validates its own values; the activation is checked like the others)
_OPTIONAL = {
    "Conv1D": (
        "filters",
        "kernel_size",
        "strides",
        "padding",
        "dilation_rate",
        "groups",
        "use_bias",
        "data_format",
    ),
    "MaxPooling1D": ("pool_size", "strides", "padding", "data_format"),
    "AveragePooling1D": ("pool_size", "strides", "padding", "data_format"),
    "BatchNormalization": ("axis", "momentum", "epsilon", "center", "scale", "synchronized"),
    "LayerNormalization": ("axis", "epsilon", "center", "scale", "rms_scaling"),
    "ReLU": ("max_value", "negative_slope", "threshold"),
}


def _optional_class(name: str):
    from .. import layers

    return getattr(layers, name, None) if name in _OPTIONAL else None


__all__ = [
    "KERAS_SUFFIXES",
    "load_keras_model",
    "load_keras_weights",
    "save_keras_model",
    "save_keras_weights",
]

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
#: the largest config.json / metadata.json read from a .keras archive
MAX_CONFIG_BYTES = 64 << 20
#: the largest model.weights.h5 read from a .keras archive (it is read into memory)
MAX_WEIGHTS_BYTES = 8 << 30
#: the most entries a .keras archive's directory may list (Keras writes three, and assets)
MAX_MEMBERS = 10_000
#: the most a member may expand when decompressed (beyond its first MiB)
MAX_RATIO = 100
# the Keras version whose format rnnkit writes (a reader may compare against it)
_KERAS_FORMAT_VERSION = "3.5.0"


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError(
            "Reading and writing Keras files needs h5py: pip install rnnkit[keras]."
        ) from None
    return h5py


# ---- activations: rnnkit's must be Keras 3's, checked on numbers --------------------
def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


_KERAS_ACTIVATIONS = {
    "linear": lambda z: z,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "relu": lambda z: np.maximum(z, 0.0),
    "softmax": _softmax,
    "log_softmax": lambda z: np.log(_softmax(z)),
    "hard_sigmoid": lambda z: np.clip(z + 3.0, 0.0, 6.0) / 6.0,  # Keras 3: relu6(x+3)/6
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
    "selu": lambda z: (
        1.0507009873554805 * np.where(z > 0, z, 1.6732632423543772 * np.expm1(np.minimum(z, 0.0)))
    ),
    "softplus": lambda z: np.logaddexp(0.0, z),
    "softsign": lambda z: z / (1.0 + np.abs(z)),
    "exponential": np.exp,
    "swish": lambda z: z * _sigmoid(z),
    "silu": lambda z: z * _sigmoid(z),
    "relu6": lambda z: np.clip(z, 0.0, 6.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.2 * z),
}
_checked_activations: dict[str, str | None] = {}


def _activation(name, where: str, what: str = "activation") -> str:
    """``name`` if rnnkit's activation of that name computes Keras 3's, else a
    ValueError naming it."""
    if isinstance(name, dict):  # {"class_name": "function", "config": "tanh", ...}
        name = name.get("config") if isinstance(name.get("config"), str) else None
    if name is None:
        name = "linear"
    if not isinstance(name, str):
        raise ValueError(f"{where}: {what} {name!r} is not one rnnkit knows.")
    if name not in _checked_activations:
        reference = _KERAS_ACTIVATIONS.get(name)
        problem = None
        if reference is None:
            problem = "is not an activation rnnkit can match to Keras's"
        else:
            try:
                mine = activations.get(name)
            except ValueError:
                problem = "is not implemented in rnnkit"
            else:
                z = np.linspace(-7.0, 7.0, 57).reshape(3, 19)
                got = np.asarray(mine(z.copy()), np.float64)
                if got.shape != z.shape or not np.allclose(got, reference(z), atol=1e-6):
                    problem = "is computed differently in rnnkit than in Keras 3"
        _checked_activations[name] = problem
    problem = _checked_activations[name]
    if problem:
        raise ValueError(f"{where}: {what} {name!r} {problem}.")
    return name


# ---- Keras configs -> rnnkit layers ---------------------------------------------------
# Options that do not change what a loaded model computes (initializers act before the
# weights are loaded; seeds only draw dropout masks or initial weights)
_NEUTRAL = {
    "name",
    "trainable",
    "dtype",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "embeddings_initializer",
    "beta_initializer",
    "gamma_initializer",
    "moving_mean_initializer",
    "moving_variance_initializer",
    "seed",
    "renorm_momentum",  # read only with renorm, which is refused
    "unroll",
    "implementation",
    "build_config",
    "input_shape",
    "batch_input_shape",
    "batch_shape",
    "use_cudnn",
}
# Options rnnkit lacks: accepted only at the value that means "off"
_OFF = {
    "renorm": False,
    "renorm_clipping": None,
    "quantization_config": None,
    "lora_rank": None,
    "lora_alpha": None,
    "time_major": False,
    "data_format": "channels_last",
    "keepdims": False,
    "sparse": False,
    "ragged": False,
    "optional": False,
}
_RNN_PASS = (
    "units",
    "use_bias",
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "dropout",
    "recurrent_dropout",
    "zero_output_for_mask",
)


def _dtype(config, where: str) -> str:
    spec = config.get("dtype", "float32")
    if isinstance(spec, dict):
        spec = (spec.get("config") or {}).get("name", "float32")
    if spec is None:
        spec = "float32"
    if spec not in ("float16", "float32", "float64"):
        raise ValueError(
            f"{where}: dtype policy {spec!r} is not supported (rnnkit computes in float16, "
            f"float32 or float64)."
        )
    return spec


def _kwargs(cls_name: str, config: dict, passed: tuple, where: str) -> dict:
    kwargs = {}
    for key, value in config.items():
        if key in passed:
            kwargs[key] = value
        elif key.endswith(("_regularizer", "_constraint")):
            if value is not None:  # rnnkit's layers read Keras's serialized form
                kwargs[key] = value
        elif key in _NEUTRAL:
            continue
        elif key in _OFF:
            if value != _OFF[key]:
                raise ValueError(
                    f"{where}: option {key}={value!r} is not supported by rnnkit's {cls_name}."
                )
        else:
            raise ValueError(f"{where}: option {key!r} of {cls_name} is not supported by rnnkit.")
    return kwargs


def _common(config: dict, where: str) -> dict:
    out = {"name": config.get("name"), "dtype": _dtype(config, where)}
    if "trainable" in config:
        out["trainable"] = bool(config["trainable"])
    return out


def _layer_from_keras(spec: dict, path: str, input_shape=None) -> Layer:
    """The rnnkit layer for one Keras layer spec ``{"class_name", "config"}``."""
    if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
        raise ValueError(f"{path!r}: a layer entry without a config: {str(spec)[:200]}.")
    cls_name = spec.get("class_name")
    config = spec["config"]
    where = f"{path!r}: layer {config.get('name')!r} ({cls_name})"
    common = _common(config, where)
    if input_shape is not None:
        common["input_shape"] = tuple(input_shape)
    try:
        return _build(cls_name, config, where, common, path)
    except (TypeError, ValueError) as exc:
        if str(exc).startswith(repr(path)):
            raise
        raise ValueError(f"{where}: {exc}") from None


def _build(cls_name, config, where, common, path) -> Layer:
    if cls_name in ("SimpleRNN", "LSTM", "GRU"):
        passed = _RNN_PASS + ("activation",)
        extra = {}
        if cls_name != "SimpleRNN":
            passed += ("recurrent_activation",)
            extra["recurrent_activation"] = _activation(
                config.get("recurrent_activation", "sigmoid"), where, "recurrent_activation"
            )
        if cls_name == "LSTM":
            passed += ("unit_forget_bias",)
        if cls_name == "GRU":
            passed += ("reset_after",)
        kwargs = _kwargs(cls_name, config, passed, where)
        kwargs["activation"] = _activation(config.get("activation", "tanh"), where)
        kwargs.update(extra)
        cls = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}[cls_name]
        return cls(**kwargs, **common)
    if cls_name == "Dense":
        kwargs = _kwargs(cls_name, config, ("units", "use_bias", "activation"), where)
        kwargs["activation"] = _activation(config.get("activation"), where)
        return Dense(**kwargs, **common)
    if cls_name == "Embedding":
        kwargs = _kwargs(
            cls_name, config, ("input_dim", "output_dim", "mask_zero", "input_length"), where
        )
        if kwargs.get("input_length") is None:
            kwargs.pop("input_length", None)
        return Embedding(**kwargs, **common)
    if cls_name == "Bidirectional":
        kwargs = _kwargs(cls_name, config, ("merge_mode", "layer", "backward_layer"), where)
        forward = _layer_from_keras(kwargs.pop("layer"), path)
        forward.name = forward.name.removeprefix("forward_")
        backward = kwargs.pop("backward_layer", None)
        if backward is not None:
            backward = _layer_from_keras(backward, path)
        return Bidirectional(forward, backward_layer=backward, **kwargs, **common)
    if cls_name == "TimeDistributed":
        kwargs = _kwargs(cls_name, config, ("layer",), where)
        return TimeDistributed(_layer_from_keras(kwargs.pop("layer"), path), **common)
    if cls_name == "Dropout":
        kwargs = _kwargs(cls_name, config, ("rate", "noise_shape", "seed"), where)
        kwargs["seed"] = config.get("seed")
        return Dropout(**kwargs, **common)
    if cls_name == "SpatialDropout1D":
        kwargs = _kwargs(cls_name, config, ("rate",), where)
        if config.get("noise_shape") is not None:
            raise ValueError(f"{where}: option noise_shape is not supported.")
        return SpatialDropout1D(**kwargs, seed=config.get("seed"), **common)
    if cls_name == "Masking":
        return Masking(**_kwargs(cls_name, config, ("mask_value",), where), **common)
    if cls_name == "Activation":
        _kwargs(cls_name, config, ("activation",), where)
        return Activation(_activation(config.get("activation"), where), **common)
    if cls_name == "Flatten":
        _kwargs(cls_name, config, (), where)
        return Flatten(**common)
    if cls_name == "RepeatVector":
        return RepeatVector(**_kwargs(cls_name, config, ("n",), where), **common)
    if cls_name in ("GlobalMaxPooling1D", "GlobalAveragePooling1D"):
        _kwargs(cls_name, config, (), where)
        cls = GlobalMaxPooling1D if cls_name == "GlobalMaxPooling1D" else GlobalAveragePooling1D
        return cls(**common)
    if cls_name == "Concatenate":
        return Concatenate(**_kwargs(cls_name, config, ("axis",), where), **common)
    if cls_name == "Add":
        _kwargs(cls_name, config, (), where)
        return Add(**common)
    optional = _optional_class(cls_name)
    if optional is not None:
        kwargs = _kwargs(cls_name, config, _OPTIONAL[cls_name] + ("activation",), where)
        if "activation" in kwargs:
            kwargs["activation"] = _activation(kwargs["activation"], where)
        for key in ("kernel_size", "strides", "dilation_rate", "pool_size"):
            if isinstance(kwargs.get(key), list):
                kwargs[key] = tuple(kwargs[key])
        return optional(**kwargs, **common)
    raise ValueError(f"{where}: layer class {cls_name!r} is not supported by rnnkit.")


def _input_shape(config: dict, where: str) -> tuple:
    shape = config.get("batch_shape", config.get("batch_input_shape"))
    if not isinstance(shape, (list, tuple)) or len(shape) < 2:
        raise ValueError(f"{where}: no valid batch_shape (got {shape!r}).")
    sample = tuple(shape[1:])
    for s in sample:
        if s is not None and (not isinstance(s, int) or s <= 0):
            raise ValueError(f"{where}: invalid input shape {tuple(shape)!r}.")
    return sample


# ---- masks: where Keras and rnnkit agree ---------------------------------------------
# Keras layers that pass a mask they receive on unchanged (recurrent layers and
# Bidirectional: with return_sequences); the others drop it or consume it
_KERAS_PASSES_MASK = {
    "Dense",
    "Dropout",
    "SpatialDropout1D",
    "Activation",
    "TimeDistributed",
    "BatchNormalization",
    "LayerNormalization",
    "ReLU",
}
# Keras layers that ignore a mask, where rnnkit's would use it or the result differs
_KERAS_IGNORES_MASK = {"GlobalMaxPooling1D", "Conv1D", "MaxPooling1D", "AveragePooling1D"}


def _mask_after(layer: Layer, masked: bool, where: str) -> bool:
    """Whether a mask leaves ``layer`` given whether one reaches it, refusing where
    Keras and rnnkit would treat the mask differently."""
    if isinstance(layer, Embedding):
        return layer.mask_zero
    if isinstance(layer, Masking):
        return True
    if not masked:
        return False
    name = type(layer).__name__
    if name in _KERAS_IGNORES_MASK:
        raise ValueError(
            f"{where}: a mask reaches {name} {layer.name!r}; Keras's ignores masks, so "
            f"rnnkit cannot promise the same values there."
        )
    if isinstance(layer, (RNN, Bidirectional)):
        keras_passes = layer.return_sequences
    else:
        keras_passes = name in _KERAS_PASSES_MASK
    mine = layer.compute_mask(None, np.ones((1, 1), bool)) is not None
    if mine != keras_passes:
        raise ValueError(
            f"{where}: {name} {layer.name!r} {'passes' if mine else 'drops'} the mask it "
            f"receives where Keras's {'passes' if keras_passes else 'drops'} it."
        )
    return mine


def _check_merge_masks(layer: Layer, masks: list[bool], where: str) -> None:
    if any(masks):
        raise ValueError(
            f"{where}: a mask reaches {type(layer).__name__} {layer.name!r}; Keras merges "
            f"the masks of its inputs, rnnkit's functional models drop them."
        )


# ---- reading --------------------------------------------------------------------------
def _read_json(raw: bytes, path: str, member: str):
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path!r}: {member} is not valid JSON ({exc}).") from None


def _check_entry_count(path: str) -> None:
    """Refuse a zip directory of absurdly many entries before zipfile lists them (each
    costs a few hundred bytes of memory, its record in the file 46)."""
    try:
        with open(path, "rb") as f:
            end = zipfile._EndRecData(f)  # the end-of-directory record, as zipfile reads it
    except (OSError, ValueError, struct.error):
        return  # zipfile then reports what is wrong
    if end and end[zipfile._ECD_ENTRIES_TOTAL] > MAX_MEMBERS:
        raise ValueError(
            f"{path!r}: its zip directory lists {end[zipfile._ECD_ENTRIES_TOTAL]:,} entries; "
            f"rnnkit reads .keras archives of at most {MAX_MEMBERS:,}."
        )


def _open_keras_archive(path: str):
    """(config dict, weights h5 File) of a .keras archive."""
    h5py = _h5py()
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path!r} is not a Keras .keras archive (not a zip file; truncated, or another "
            f"format under a .keras name)."
        )
    _check_entry_count(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist()}
            for needed in ("config.json", "model.weights.h5"):
                if needed not in members:
                    extra = (
                        " (sharded weights are not supported)"
                        if needed == "model.weights.h5" and "model.weights.json" in members
                        else ""
                    )
                    raise ValueError(f"{path!r}: the archive has no {needed}{extra}.")
            for name, cap in (
                ("config.json", MAX_CONFIG_BYTES),
                ("metadata.json", MAX_CONFIG_BYTES),
                ("model.weights.h5", MAX_WEIGHTS_BYTES),
            ):
                if name in members and members[name].file_size > cap:
                    raise ValueError(
                        f"{path!r}: member {name} declares {members[name].file_size} bytes, "
                        f"more than the {cap} rnnkit reads."
                    )
                info = members.get(name)
                if info and info.file_size > MAX_RATIO * info.compress_size + (1 << 20):
                    raise ValueError(
                        f"{path!r}: member {name} would expand {info.compress_size} bytes to "
                        f"{info.file_size}, more than {MAX_RATIO} times (Keras stores its "
                        f"members uncompressed)."
                    )
            config = _read_json(archive.read("config.json"), path, "config.json")
            weights = archive.read("model.weights.h5")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise ValueError(f"{path!r}: a corrupt or truncated .keras archive ({exc}).") from None
    try:
        h5 = h5py.File(io.BytesIO(weights), "r")
    except OSError as exc:
        raise ValueError(
            f"{path!r}: its model.weights.h5 is not a readable HDF5 file ({exc})."
        ) from None
    return config, h5


def _open_h5(path: str):
    h5py = _h5py()
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(
            f"{path!r} is not a readable HDF5 file (truncated, corrupt, or another format "
            f"under an .h5 name): {exc}"
        ) from None
    raw = h5.attrs.get("model_config")
    if raw is None:
        h5.close()
        raise ValueError(
            f"{path!r} has no model_config attribute: it is not a Keras model file (a "
            f"weights-only .h5 holds no architecture)."
        )
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str) or len(raw) > MAX_CONFIG_BYTES:
        h5.close()
        raise ValueError(f"{path!r}: its model_config attribute is not a JSON string.")
    config = _read_json(raw.encode("utf-8"), path, "model_config")
    return config, h5


def _snake(name: str) -> str:
    """Keras's ``to_snake_case``: the group names of ``model.weights.h5``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def _unique_paths(class_names: list[str]) -> list[str]:
    used: dict[str, int] = {}
    out = []
    for cls in class_names:
        name = _snake(cls)
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        out.append(name)
    return out


def _var_groups(layer: Layer) -> list[str]:
    """The groups (relative to a layer's own) holding its weights, in weights() order."""
    if isinstance(layer, Bidirectional):
        return ["forward_layer/cell/vars", "backward_layer/cell/vars"]
    if isinstance(layer, RNN):
        return ["cell/vars"]
    if isinstance(layer, TimeDistributed):
        return ["layer/" + g for g in _var_groups(layer.layer)]
    return ["vars"]


def _keras_datasets(h5, layer_group, layer: Layer, path: str) -> list:
    out = []
    for rel in _var_groups(layer):
        if rel not in layer_group:
            if not layer.weights():
                continue
            raise ValueError(
                f"{path!r}: weights of layer {layer.name!r} are missing (no group "
                f"{layer_group.name}/{rel})."
            )
        group = layer_group[rel]
        keys = sorted(group.keys(), key=lambda k: int(k) if k.isdigit() else -1)
        out.extend(group[k] for k in keys)
    return out


def _check_and_read(datasets: list, layer: Layer, path: str) -> list[np.ndarray]:
    """The arrays of ``datasets`` for ``layer``, their count, shapes, dtypes and stored
    sizes checked before any is read."""
    h5py = _h5py()
    current = layer.weights()
    if len(datasets) != len(current):
        raise ValueError(
            f"{path!r}: layer {layer.name!r} has {len(datasets)} weight arrays in the file; "
            f"rnnkit's {type(layer).__name__} holds {len(current)} "
            f"({[n for n, _ in current]})."
        )
    for ds, (name, target) in zip(datasets, current):
        if not isinstance(ds, h5py.Dataset):
            raise ValueError(f"{path!r}: {ds.name} is not a dataset.")
        if tuple(ds.shape) != target.shape:
            raise ValueError(
                f"{path!r}: weight {ds.name} of layer {layer.name!r} ({name}) has shape "
                f"{tuple(ds.shape)}; the model's config gives {target.shape}."
            )
        if ds.dtype.kind not in "fiu":
            raise ValueError(f"{path!r}: weight {ds.name} has dtype {ds.dtype}, not a number.")
        nbytes = ds.size * ds.dtype.itemsize
        stored = ds.id.get_storage_size()
        # a compressed dataset may store less than it holds, within reason; any other
        # stores every byte (HDF5 hands out fill values for what was never written)
        compressed = ds.compression is not None
        if nbytes and (stored < nbytes and not compressed or stored * 1000 < nbytes):
            raise ValueError(
                f"{path!r}: weight {ds.name} stores {stored} bytes for {nbytes} (truncated "
                f"or not written)."
            )
    try:
        return [np.asarray(ds[()]) for ds in datasets]
    except OSError as exc:
        raise ValueError(f"{path!r}: reading the weights failed ({exc}).") from None


def _weighted(layer: Layer) -> bool:
    return bool(layer.weights())


def _keras3_layer_groups(h5, keras_layers: list[tuple[str, str]], path: str) -> dict:
    """{layer name: its h5 group} for a .keras weights file, from the layers' class
    names in the model's order (Keras's naming, which Keras's loader follows); a group
    missing there is looked up by the layer name the file records for it."""
    root_name = "layers" if "layers" in h5 else "_layer_checkpoint_dependencies"
    root = h5.get(root_name)
    if root is None:
        return {}
    by_recorded = {}
    for key in root:
        vars_group = root[key].get("vars")
        recorded = None if vars_group is None else vars_group.attrs.get("name")
        if isinstance(recorded, bytes):
            recorded = recorded.decode()
        if recorded is not None:
            by_recorded[recorded] = root[key]
    paths = _unique_paths([cls for cls, _ in keras_layers])
    out = {}
    for (_, name), key in zip(keras_layers, paths):
        if key in root:  # where Keras itself looks
            out[name] = root[key]
        elif name in by_recorded:
            out[name] = by_recorded[name]
    return out


def _assign(model, layers: list[Layer], datasets_of, path: str) -> None:
    planned = []
    for layer in layers:
        if not _weighted(layer):
            continue
        planned.append((layer, _check_and_read(datasets_of(layer), layer, path)))
    for layer, arrays in planned:
        if not all(np.all(np.isfinite(a)) for a in arrays):
            raise ValueError(f"{path!r}: layer {layer.name!r} has non-finite weights.")
    for layer, arrays in planned:
        layer.set_weights(
            [a.astype(w.dtype, copy=False) for a, (_, w) in zip(arrays, layer.weights())]
        )


def _bound_sizes(config, total: int, path: str) -> None:
    """Sizes in a config that make weights may not exceed the numbers the weights file
    holds: building the model allocates its weights before any is read."""
    limit = max(total, 1)

    def visit(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("units", "input_dim", "output_dim", "filters") and isinstance(
                    value, int
                ):
                    if value > limit:
                        raise ValueError(
                            f"{path!r}: {key}={value} in the config exceeds the "
                            f"{total} numbers the weights file holds."
                        )
                else:
                    visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(config)


def _total_elements(h5) -> int:
    """The numbers the file's datasets hold, as far as their stored bytes back them
    (a dataset may declare any shape and store nothing)."""
    h5py = _h5py()
    total = 0

    def count(_, obj):
        nonlocal total
        if isinstance(obj, h5py.Dataset) and obj.dtype.itemsize:
            stored = obj.id.get_storage_size() // obj.dtype.itemsize
            factor = 1000 if obj.compression is not None else 1
            total += min(int(obj.size), factor * int(stored))

    h5.visititems(count)
    return total


def load_keras_model(filepath, compile: bool = False):
    """Read a Keras ``.keras`` (Keras 3) or legacy ``.h5`` model into rnnkit.

    Args:
        filepath: the file; its extension picks the format.
        compile: accepted for :func:`rnnkit.models.load_model`'s signature; Keras's
            training configuration is not read (compile the model to train it).

    Returns:
        A Sequential or functional Model that predicts what the Keras model does.

    Raises:
        FileNotFoundError: no such file.
        ImportError: h5py is not installed.
        ValueError: a corrupt or truncated file, or a layer, option or activation
            rnnkit lacks (named, with the file).

    Example:
        >>> model = load_keras_model("classifier.keras")  # doctest: +SKIP
    """
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    lower = path.lower()
    if lower.endswith(".keras"):
        config, h5 = _open_keras_archive(path)
        legacy = False
    elif lower.endswith((".h5", ".hdf5")):
        config, h5 = _open_h5(path)
        legacy = True
    else:
        raise ValueError(f"{path!r}: not a Keras file name (expected .keras or .h5).")
    try:
        weights_root = h5
        if legacy:
            weights_root = h5.get("model_weights")
            if weights_root is None:
                raise ValueError(f"{path!r} has no model_weights group.")
        _bound_sizes(config, _total_elements(weights_root), path)
        model, keras_layers = _model_from_config(config, path)
        layers = _all_layers(model)
        if legacy:
            datasets_of = _legacy_datasets(weights_root, path)
        else:
            groups = _keras3_layer_groups(h5, keras_layers, path)

            def datasets_of(layer):
                if layer.name not in groups:
                    raise ValueError(f"{path!r}: no weights for layer {layer.name!r}.")
                return _keras_datasets(h5, groups[layer.name], layer, path)

        _assign(model, layers, datasets_of, path)
    finally:
        h5.close()
    return model


def _all_layers(model) -> list[Layer]:
    return list(model.layers)


def _unwrap_model_config(config, path):
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"{path!r}: the model config is not a Keras model description.")
    inner = config.get("config")
    if not isinstance(inner, dict) or not isinstance(inner.get("layers"), list):
        raise ValueError(f"{path!r}: the model config has no layer list.")
    return config["class_name"], inner


def _model_from_config(config, path):
    """(rnnkit model, [(Keras class name, layer name)] in Keras's layer order)."""
    cls_name, inner = _unwrap_model_config(config, path)
    if cls_name == "Sequential":
        return _sequential_from_config(inner, path)
    if cls_name in ("Functional", "Model"):
        return _functional_from_config(inner, path)
    raise ValueError(
        f"{path!r}: model class {cls_name!r} is not supported (Sequential or a functional Model)."
    )


def _sequential_from_config(inner, path):
    from ..models import Sequential

    specs = list(inner["layers"])
    input_shape = None
    if specs and specs[0].get("class_name") == "InputLayer":
        first = specs.pop(0)
        input_shape = _input_shape(first.get("config", {}), f"{path!r}: InputLayer")
    if input_shape is None and specs:
        cfg = specs[0].get("config", {})
        if "batch_input_shape" in cfg or "batch_shape" in cfg:
            input_shape = _input_shape(cfg, f"{path!r}: layer {cfg.get('name')!r}")
    if input_shape is None and isinstance(inner.get("build_input_shape"), list):
        input_shape = tuple(inner["build_input_shape"][1:])
    if input_shape is None:
        raise ValueError(f"{path!r}: the Sequential model was saved unbuilt (no input shape).")
    if not specs:
        raise ValueError(f"{path!r}: the Sequential model has no layers.")
    layers = []
    masked = False
    for i, spec in enumerate(specs):
        if spec.get("class_name") == "InputLayer":
            raise ValueError(f"{path!r}: an InputLayer inside the Sequential model.")
        layer = _layer_from_keras(spec, path, input_shape if i == 0 else None)
        masked = _mask_after(layer, masked, f"{path!r}")
        layers.append(layer)
    try:
        model = Sequential(layers, name=inner.get("name"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path!r}: {exc}") from None
    return model, [(spec["class_name"], spec["config"].get("name")) for spec in specs]


_MASK_OPS = {"NotEqual", "Any", "All", "LogicalAnd", "LogicalOr", "Equal", "Cast"}


class _OpTensor:
    """A tensor from a Keras operation that only computes a mask (NotEqual, Any, …)."""

    def __init__(self, inputs):
        self.inputs = inputs


def _tensor_refs(value):
    """The keras_history triples in a serialized argument (Keras 3 format)."""
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        history = (value.get("config") or {}).get("keras_history")
        if not isinstance(history, list) or len(history) != 3:
            raise ValueError(f"a keras tensor without a valid keras_history: {value!r}")
        return tuple(history)
    if isinstance(value, list):
        return [_tensor_refs(v) for v in value]
    return value


def _parse_node(node, is_rnn: bool):
    """(main input refs: a triple or a list of them, initial_state refs, mask ref,
    whether a mask was given explicitly) of one inbound node, in either format."""
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        args = [_tensor_refs(a) for a in node.get("args", [])]
        kwargs = dict(node.get("kwargs") or {})
        if len(args) != 1:
            raise ValueError(f"a layer call with {len(args)} positional arguments")
        states = kwargs.pop("initial_state", None)
        states = [] if states is None else _tensor_refs(states)
        if isinstance(states, tuple):
            states = [states]
        mask = _tensor_refs(kwargs.pop("mask", None))
        kwargs.pop("training", None)
        if kwargs:
            raise ValueError(f"call arguments {sorted(kwargs)} are not supported")
        return args[0], states, mask
    if isinstance(node, list):  # Keras 2: [[name, node_index, tensor_index, kwargs], ...]
        refs = []
        for entry in node:
            if not isinstance(entry, list) or len(entry) < 3:
                raise ValueError(f"an inbound node entry {entry!r}")
            extra = entry[3] if len(entry) > 3 and isinstance(entry[3], dict) else {}
            extra = {k: v for k, v in extra.items() if k not in ("training", "mask")}
            if extra:
                raise ValueError(f"call arguments {sorted(extra)} are not supported")
            refs.append(tuple(entry[:3]))
        if len(refs) == 1:
            return refs[0], [], None
        if is_rnn:
            return refs[0], refs[1:], None
        return refs, [], None
    raise ValueError(f"an inbound node {str(node)[:100]!r}")


def _io_refs(value, where):
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [tuple(value)], False
    if isinstance(value, list) and all(isinstance(v, list) and len(v) == 3 for v in value):
        return [tuple(v) for v in value], True
    raise ValueError(f"{where}: invalid {value!r}")


def _functional_from_config(inner, path):
    from ..models import Input, Model

    tensors: dict[tuple, object] = {}  # (layer, node, index) -> SymbolicTensor / _OpTensor
    masked: dict[int, bool] = {}
    keras_layers = []
    pending = []
    for spec in inner["layers"]:
        cls = spec.get("class_name")
        name = spec.get("name") or (spec.get("config") or {}).get("name")
        if cls == "InputLayer":
            shape = _input_shape(spec.get("config") or {}, f"{path!r}: InputLayer {name!r}")
            t = Input(shape, name=name)
            tensors[(name, 0, 0)] = t
            masked[id(t)] = False
            keras_layers.append((cls, name))
            continue
        if cls in _MASK_OPS:
            pending.extend((spec, k, None) for k in range(len(spec.get("inbound_nodes", []))))
            continue
        layer = _layer_from_keras(spec, path)
        keras_layers.append((cls, name))
        nodes = spec.get("inbound_nodes") or []
        if not nodes:
            raise ValueError(f"{path!r}: layer {name!r} is not connected.")
        pending.extend((spec, k, layer) for k in range(len(nodes)))

    def ready(ref):
        if isinstance(ref, list):
            return all(ready(r) for r in ref)
        return ref is None or not isinstance(ref, tuple) or ref in tensors

    def get(ref):
        if isinstance(ref, list):
            return [get(r) for r in ref]
        return tensors[ref]

    while pending:
        progressed = False
        rest = []
        for spec, k, layer in pending:
            name = spec.get("name") or spec["config"].get("name")
            node = spec["inbound_nodes"][k]
            where = f"{path!r}: layer {name!r}"
            if layer is None:  # a mask operation: remember its inputs only
                args = (
                    [_tensor_refs(a) for a in node.get("args", [])]
                    if isinstance(node, dict)
                    else []
                )
                refs = [a for a in args if isinstance(a, tuple)]
                if not all(ready(r) for r in refs):
                    rest.append((spec, k, layer))
                    continue
                tensors[(name, k, 0)] = _OpTensor([get(r) for r in refs])
                progressed = True
                continue
            try:
                x_ref, state_refs, mask_ref = _parse_node(node, isinstance(layer, RNN))
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}.") from None
            if not (ready(x_ref) and ready(state_refs) and ready(mask_ref)):
                rest.append((spec, k, layer))
                continue
            x = get(x_ref)
            states = get(state_refs) if state_refs else None
            inputs = x if isinstance(x, list) else [x]
            if any(isinstance(t, _OpTensor) for t in inputs + list(states or [])):
                raise ValueError(f"{where}: takes the output of a Keras operation as input.")
            in_masks = [masked[id(t)] for t in inputs]
            if isinstance(x, list):
                _check_merge_masks(layer, in_masks, where)
            if isinstance(mask_ref, tuple):
                mask_t = get(mask_ref)
                if not isinstance(mask_t, _OpTensor) and not masked.get(id(mask_t), False):
                    raise ValueError(f"{where}: an explicit mask rnnkit cannot reproduce.")
                if not in_masks[0]:
                    raise ValueError(
                        f"{where}: is given a mask that rnnkit's mask propagation does not "
                        f"deliver to it."
                    )
            try:
                out = layer(x, initial_state=states) if states else layer(x)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{where}: {exc}") from None
            outs = out if isinstance(out, list) else [out]
            out_mask = False if isinstance(x, list) else _mask_after(layer, in_masks[0], where)
            for j, t in enumerate(outs):
                tensors[(name, k, j)] = t
                masked[id(t)] = out_mask if j == 0 else False
            progressed = True
        if not progressed:
            names = sorted({spec.get("name") for spec, _, _ in rest})
            raise ValueError(f"{path!r}: the inputs of layers {names} are never produced.")
        pending = rest

    in_refs, multi_in = _io_refs(inner.get("input_layers"), f"{path!r}: input_layers")
    out_refs, multi_out = _io_refs(inner.get("output_layers"), f"{path!r}: output_layers")
    try:
        inputs = [tensors[r] for r in in_refs]
        outputs = [tensors[r] for r in out_refs]
    except KeyError as exc:
        raise ValueError(f"{path!r}: model input or output {exc} is not in the graph.") from None
    if any(isinstance(t, _OpTensor) for t in outputs):
        raise ValueError(f"{path!r}: a model output is a Keras operation rnnkit lacks.")
    try:
        model = Model(
            inputs if multi_in else inputs[0],
            outputs if multi_out else outputs[0],
            name=inner.get("name"),
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path!r}: {exc}") from None
    return model, keras_layers


# ---- writing --------------------------------------------------------------------------
def _keras_layer_spec(layer: Layer, where: str) -> dict:
    """Keras 3's serialized form of an rnnkit layer, or a ValueError naming it."""
    cls = type(layer)
    config: dict = {"name": layer.name, "trainable": layer.trainable, "dtype": layer.dtype.name}
    name = cls.__name__
    what = f"{where}: layer {layer.name!r} ({name})"
    if cls in (SimpleRNN, LSTM, GRU):
        cell = layer.cell
        config.update(
            units=layer.units,
            activation=_activation(cell.activation.name, what),
            use_bias=cell.use_bias,
            return_sequences=layer.return_sequences,
            return_state=layer.return_state,
            go_backwards=layer.go_backwards,
            stateful=layer.stateful,
            dropout=layer.dropout,
            recurrent_dropout=layer.recurrent_dropout,
            zero_output_for_mask=layer.zero_output_for_mask,
        )
        if cls is not SimpleRNN:
            config["recurrent_activation"] = _activation(
                cell.recurrent_activation.name, what, "recurrent_activation"
            )
        if cls is LSTM:
            config["unit_forget_bias"] = bool(getattr(cell, "unit_forget_bias", True))
        if cls is GRU:
            config["reset_after"] = bool(getattr(cell, "reset_after", True))
    elif cls is Dense:
        config.update(
            units=layer.units,
            activation=_activation(layer.activation.name, what),
            use_bias=layer.use_bias,
        )
    elif cls is Embedding:
        config.update(
            input_dim=layer.input_dim, output_dim=layer.output_dim, mask_zero=layer.mask_zero
        )
    elif cls is Bidirectional:
        inner = _keras_layer_spec(layer.forward_layer, where)
        inner["config"]["name"] = layer.forward_layer.name.removeprefix("forward_")
        config.update(
            merge_mode=layer.merge_mode,
            layer=inner,
            backward_layer=_keras_layer_spec(layer.backward_layer, where),
        )
    elif cls is TimeDistributed:
        config["layer"] = _keras_layer_spec(layer.layer, where)
    elif cls is Dropout:
        config.update(
            rate=layer.rate,
            noise_shape=None if layer.noise_shape is None else list(layer.noise_shape),
            seed=layer.seed,
        )
    elif cls is SpatialDropout1D:  # Keras 3's takes no trainable or dtype
        config = {"name": layer.name, "rate": layer.rate, "seed": layer.seed}
    elif cls is Masking:
        config["mask_value"] = layer.mask_value
    elif cls is Activation:
        config["activation"] = _activation(layer.activation.name, what)
    elif cls is Flatten:
        pass
    elif cls is RepeatVector:
        config["n"] = layer.n
    elif cls in (GlobalMaxPooling1D, GlobalAveragePooling1D):
        pass
    elif cls is Concatenate:
        config["axis"] = layer.axis
    elif cls is Add:
        pass
    elif _optional_class(name) is cls:
        for key in _OPTIONAL[name]:
            value = getattr(layer, key, None)
            if key in ("kernel_size", "strides", "dilation_rate", "pool_size"):
                value = [value] if isinstance(value, int) else value
            if key == "data_format":
                value = "channels_last"
            if value is not None:
                config[key] = value
        if name == "ReLU":  # rnnkit's is the plain one
            config.update(max_value=None, negative_slope=0.0, threshold=0.0)
        elif hasattr(layer, "activation"):
            config["activation"] = _activation(layer.activation.name, what)
    else:
        raise ValueError(f"{what} has no Keras counterpart; it cannot be saved as .keras.")
    config.update(_weight_options(layer))
    spec = {"module": "keras.layers", "class_name": name, "config": config, "registered_name": None}
    if layer.input_shape is not None:
        spec["build_config"] = {"input_shape": _batch(layer.input_shape)}
    return spec


# rnnkit's weight names -> the prefixes of Keras's per-weight options
_OPTION_PREFIX = {
    "kernel": "kernel",
    "recurrent_kernel": "recurrent",
    "bias": "bias",
    "embeddings": "embeddings",
    "gamma": "gamma",
    "beta": "beta",
}


def _weight_options(layer: Layer) -> dict:
    """A layer's regularizers and constraints in Keras 3's serialized form."""
    from .. import constraints, regularizers

    out = {}

    def keras_object(module, spec):
        return {"module": module, **spec, "registered_name": None}

    for weight, reg in (getattr(layer, "weight_regularizers", None) or {}).items():
        key = f"{_OPTION_PREFIX[weight]}_regularizer"
        out[key] = keras_object("keras.regularizers", regularizers.serialize(reg))
    for weight, con in (getattr(layer, "weight_constraints", None) or {}).items():
        key = f"{_OPTION_PREFIX[weight]}_constraint"
        out[key] = keras_object("keras.constraints", constraints.serialize(con))
    activity = getattr(layer, "activity_regularizer", None)
    if activity is not None:
        out["activity_regularizer"] = keras_object(
            "keras.regularizers", regularizers.serialize(activity)
        )
    return out


def _batch(shape):
    if isinstance(shape, tuple) and shape and isinstance(shape[0], tuple):
        return [[None, *s] for s in shape]
    return [None, *shape]


def _input_spec(name: str, shape, integer: bool) -> dict:
    return {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {
            "batch_shape": [None, *shape],
            "dtype": "int32" if integer else "float32",
            "sparse": False,
            "name": name,
        },
        "registered_name": None,
    }


def _tensor_spec(shape, history, dtype="float32") -> dict:
    return {
        "class_name": "__keras_tensor__",
        "config": {"shape": [None, *shape], "dtype": dtype, "keras_history": list(history)},
    }


def _check_sequential_masks(model, where: str) -> None:
    masked = dirty = False
    for layer in model.layers:
        dirty = _dirty_after(layer, masked, dirty)
        masked = _mask_after(layer, masked, where)
    if dirty:
        raise ValueError(_DIRTY.format(where=where))


_DIRTY = (
    "{where}: the model's output at masked steps comes from a Bidirectional layer with "
    "zero_output_for_mask=False; Keras forces zeros there. Build its layer with "
    "zero_output_for_mask=True to save it as .keras."
)


def _dirty_after(layer: Layer, masked: bool, dirty: bool) -> bool:
    """Whether a tensor's values at masked steps differ between rnnkit and Keras after
    ``layer`` (Keras's Bidirectional forces zero_output_for_mask=return_sequences)."""
    if isinstance(layer, Bidirectional):
        return (
            masked and layer.return_sequences and not layer.forward_layer.zero_output_for_mask
        ) or False
    if isinstance(layer, (RNN, GlobalAveragePooling1D, Embedding, Masking)):
        return False
    return dirty and bool(layer.supports_masking)


def _sequential_config(model, where: str):
    _check_sequential_masks(model, where)
    first = model.layers[0]
    shape = model._input_shape
    specs = [_input_spec(_free_name(model, "input_layer"), shape, isinstance(first, Embedding))]
    specs += [_keras_layer_spec(layer, where) for layer in model.layers]
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "name": model.name,
            "trainable": True,
            "dtype": "float32",
            "layers": specs,
            "build_input_shape": [None, *shape],
        },
        "registered_name": None,
        "build_config": {"input_shape": [None, *shape]},
    }
    return config, list(model.layers)


def _free_name(model, base: str) -> str:
    taken = {layer.name for layer in model.layers}
    name, k = base, 0
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    return name


def _functional_config(model, where: str):
    """(config, layers in the order Keras 3's Functional lists them)."""
    node_index: dict[int, int] = {}  # id(node) -> index among its layer's calls
    calls: dict[int, int] = {}
    history: dict[int, tuple] = {}
    input_ids = {id(t) for t in model.inputs}
    for t in model.inputs:
        history[id(t)] = (t.name, 0, 0)
    # model.layers lists the InputLayers too (Keras 3's order); their names are the inputs'
    names = {layer.name for layer in model.layers if type(layer).__name__ != "InputLayer"}
    for t in model.inputs:
        if t.name in names:
            raise ValueError(
                f"{where}: input {t.name!r} has a layer's name; Keras needs unique names."
            )
    masked = {id(t): False for t in model.inputs}
    dirty = {id(t): False for t in model.inputs}
    # mask tensors Keras will create: id(rnnkit tensor) -> the op producing its mask
    mask_op: dict[int, object] = {id(t): None for t in model.inputs}
    ops = []  # Keras operations: dicts with "kind", "inputs" (keys), "outputs" (keys)
    integer_inputs = set()
    for node in model.nodes:
        layer = node.layer
        k = calls.get(id(layer), 0)
        calls[id(layer)] = k + 1
        node_index[id(node)] = k
        for j, t in enumerate(node.outputs):
            history[id(t)] = (layer.name, k, j)
        if isinstance(layer, Embedding):
            integer_inputs.update(id(t) for t in node.inputs if id(t) in input_ids)
        in_masks = [masked[id(t)] for t in node.inputs]
        if node.list_input:
            _check_merge_masks(layer, in_masks, where)
        mask_in = None if node.list_input else mask_op[id(node.inputs[0])]
        takes_mask = isinstance(
            layer, (RNN, Bidirectional, TimeDistributed, GlobalAveragePooling1D)
        )
        keys = [("t", id(t)) for t in node.inputs] + [("t", id(t)) for t in node.initial_state]
        if takes_mask and mask_in is not None and not node.initial_state:
            keys.append(mask_in)
        ops.append(
            {"layer": layer, "inputs": keys, "outputs": [("t", id(t)) for t in node.outputs]}
        )
        out_mask = False if node.list_input else _mask_after(layer, in_masks[0], where)
        out_dirty = (
            any(dirty[id(t)] for t in node.inputs)
            if node.list_input
            else _dirty_after(layer, in_masks[0], dirty[id(node.inputs[0])])
        )
        new_op = None
        if out_mask and isinstance(layer, (Embedding, Masking)):
            # Keras computes this mask with operations on the layer's input
            src = ("t", id(node.inputs[0]))
            first = {"layer": None, "inputs": [src], "outputs": [("m", id(node), 0)]}
            ops.append(first)
            new_op = ("m", id(node), 0)
            if isinstance(layer, Masking):
                ops.append({"layer": None, "inputs": [new_op], "outputs": [("m", id(node), 1)]})
                new_op = ("m", id(node), 1)
        for j, t in enumerate(node.outputs):
            masked[id(t)] = out_mask if j == 0 else False
            dirty[id(t)] = out_dirty if j == 0 else False
            mask_op[id(t)] = (new_op or mask_in) if (j == 0 and out_mask) else None
    if any(dirty[id(t)] for t in model.outputs):
        raise ValueError(_DIRTY.format(where=where))

    order = _keras_operation_order(
        ops, [("t", id(t)) for t in model.inputs], [("t", id(t)) for t in model.outputs]
    )
    shapes = {id(t): t.sample_shape for t in model.inputs}
    for node in model.nodes:
        for t in node.outputs:
            shapes[id(t)] = t.sample_shape

    def tensor(t):
        dtype = "int32" if id(t) in integer_inputs else "float32"
        return _tensor_spec(shapes[id(t)], history[id(t)], dtype)

    entries = []
    layer_order = []
    by_layer: dict[int, list] = {}
    for node in model.nodes:
        by_layer.setdefault(id(node.layer), []).append(node)
    input_by_key = {("t", id(t)): t for t in model.inputs}
    for item in order:
        if isinstance(item, tuple) and item[0] == "input":
            t = input_by_key[item[1]]
            spec = _input_spec(t.name, t.sample_shape, id(t) in integer_inputs)
            spec["name"] = t.name
            spec["inbound_nodes"] = []
            entries.append(spec)
            layer_order.append(("InputLayer", None))
            continue
        layer = item
        spec = _keras_layer_spec(layer, where)
        spec["name"] = layer.name
        spec["inbound_nodes"] = []
        for node in by_layer[id(layer)]:
            arg = [tensor(t) for t in node.inputs] if node.list_input else tensor(node.inputs[0])
            kwargs = {}
            if node.initial_state:
                kwargs["initial_state"] = [tensor(t) for t in node.initial_state]
            spec["inbound_nodes"].append({"args": [arg], "kwargs": kwargs})
        entries.append(spec)
        layer_order.append((type(layer).__name__, layer))

    def io(tensors, multi):
        refs = [list(history[id(t)]) for t in tensors]
        return refs if multi else refs[0]

    config = {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {
            "name": model.name,
            "trainable": True,
            "layers": entries,
            "input_layers": io(model.inputs, model._multi_in),
            "output_layers": io(model.outputs, model._multi_out),
        },
        "registered_name": "Functional",
        "build_config": {"input_shape": None},
    }
    return config, layer_order


def _keras_operation_order(ops, inputs, outputs):
    """The order of Keras 3's ``Functional.operations`` for this graph (its
    ``map_graph``: depth from the outputs, deepest first, ties in the order a
    depth-first walk from the outputs first meets them); Keras names the weight groups
    after it. Items: ("input", tensor key) for inputs, the rnnkit layer for layers,
    None-layer operations (mask computations) left out."""
    producer = {}
    for op in ops:
        for key in op["outputs"]:
            producer[key] = op
    input_ops = {key: {"layer": ("input", key), "inputs": [], "outputs": [key]} for key in inputs}
    producer.update(input_ops)
    # Keras's operations are layers (shared across nodes) or mask computations
    op_of = {}

    def operation(node):
        layer = node["layer"]
        return (
            ("op", id(node))
            if layer is None
            else (layer if isinstance(layer, tuple) else ("layer", id(layer)))
        )

    in_progress, decreasing, indices = set(), [], {}
    finished_ids = set()

    def walk(key):
        node = producer[key]
        if id(node) in finished_ids:
            return
        if id(node) in in_progress:
            raise ValueError("cycle")
        op = operation(node)
        op_of[op] = node["layer"]
        if op not in indices:
            indices[op] = len(indices)
        in_progress.add(id(node))
        for k in node["inputs"]:
            walk(k)
        finished_ids.add(id(node))
        in_progress.discard(id(node))
        decreasing.append(node)

    for key in outputs:
        walk(key)
    node_depth: dict[int, int] = {}
    op_depth: dict = {}
    for node in reversed(decreasing):
        depth = node_depth.setdefault(id(node), 0)
        op = operation(node)
        depth = max(depth, op_depth.get(op, 0))
        op_depth[op] = depth
        node_depth[id(node)] = depth
        for k in node["inputs"]:
            parent = producer[k]
            node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    for key in inputs:  # inputs the outputs do not need
        op = ("input", key)
        if op not in op_depth:
            op_depth[op] = 0
            indices[op] = -1
            op_of[op] = op
    by_depth: dict[int, list] = {}
    for op, depth in op_depth.items():
        by_depth.setdefault(depth, []).append(op)
    order = []
    for depth in sorted(by_depth, reverse=True):
        for op in sorted(by_depth[depth], key=lambda o: indices[o]):
            layer = op_of[op]
            if layer is None:
                continue
            order.append(layer)
    return order


def _keras_model_config(model, where: str):
    """(config.json's content, [(group name, layer or None for an InputLayer)]) in the
    order Keras 3 names its weight groups."""
    from ..models import Model

    if not getattr(model, "built", True) or not model.layers:
        raise ValueError(f"{where}: the model is not built.")
    if isinstance(model, Model):
        config, layer_order = _functional_config(model, where)
        paths = _unique_paths([cls for cls, _ in layer_order])
        return config, [(p, layer) for p, (_, layer) in zip(paths, layer_order)]
    config, layers = _sequential_config(model, where)
    return config, list(zip(_unique_paths([type(l).__name__ for l in layers]), layers))


def _weights_h5(model, pairs) -> bytes:
    """The bytes of ``model.weights.h5`` (Keras 3's weights file) for ``pairs``."""
    h5py = _h5py()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        root = h5.create_group("layers")
        for key, layer in pairs:
            group = root.create_group(key)
            if layer is None:  # an InputLayer
                group.create_group("vars").attrs["name"] = "input_layer"
                continue
            _write_layer(group, layer)
        h5.create_group("vars").attrs["name"] = model.name
    return buf.getvalue()


def save_keras_model(model, filepath) -> None:
    """Write ``model`` as a Keras 3 ``.keras`` archive that ``keras.saving.load_model``
    opens and that predicts what ``model`` does.

    Args:
        model: a built Sequential or functional Model of layers Keras has.
        filepath: the archive's path, ending in ``.keras``.

    Raises:
        ImportError: h5py is not installed.
        ValueError: a layer, option or activation Keras lacks or computes differently
            (named), or another extension; nothing is written then.

    Example:
        >>> model.save("classifier.keras")  # doctest: +SKIP
    """
    _h5py()
    path = os.fspath(filepath)
    if not path.lower().endswith(".keras"):
        raise ValueError(
            f"{path!r}: rnnkit writes Keras's .keras format only (legacy .h5 is read, not "
            f"written); use a .keras name, or .rnnkit for rnnkit's own format."
        )
    config, pairs = _keras_model_config(model, f"saving {path!r}")
    weights = _weights_h5(model, pairs)
    metadata = {
        "keras_version": _KERAS_FORMAT_VERSION,
        "date_saved": time.strftime("%Y-%m-%d@%H:%M:%S"),
        "producer": f"rnnkit {__version__}",
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", weights)
    with atomic_write(path, "wb") as f:
        f.write(out.getvalue())


def save_keras_weights(model, filepath) -> None:
    """Write ``model``'s weights as Keras 3's weights file (``model.save_weights(
    "x.weights.h5")``), which ``keras_model.load_weights`` reads into the same
    architecture.

    Args:
        model: a built Sequential or functional Model of layers Keras has.
        filepath: the file to write, conventionally ``*.weights.h5`` (the name is not
            checked); written atomically.

    Raises:
        ImportError: h5py is not installed.
        ValueError: a layer, option or activation Keras lacks or computes differently
            (named); nothing is written then.

    Example:
        >>> import os, tempfile
        >>> from rnnkit.models import Sequential
        >>> from rnnkit.layers import GRU, Dense
        >>> model = Sequential([GRU(4, input_shape=(None, 3)), Dense(2)])
        >>> path = os.path.join(tempfile.mkdtemp(), "classifier.weights.h5")
        >>> save_keras_weights(model, path)
        >>> os.path.exists(path)
        True
    """
    _h5py()
    path = os.fspath(filepath)
    _, pairs = _keras_model_config(model, f"saving {path!r}")
    data = _weights_h5(model, pairs)
    with atomic_write(path, "wb") as f:
        f.write(data)


def load_keras_weights(model, filepath) -> None:
    """Read a Keras weights file into ``model``: Keras 3's ``.weights.h5`` (groups named
    after the layers' classes, in the model's order) or a legacy one (groups named
    after the layers, each with its ``weight_names``). All or nothing: every array is
    checked against the model before any is assigned.

    Args:
        model: a built Sequential or functional Model whose architecture the file's
            weights were saved from; its weights are replaced in place.
        filepath: the weights file (``*.weights.h5`` or a legacy ``*.h5``).

    Raises:
        FileNotFoundError: no such file.
        ImportError: h5py is not installed.
        ValueError: a corrupt file, or weights that do not fit ``model`` (named).

    Example:
        >>> import os, tempfile
        >>> from rnnkit.models import Sequential
        >>> from rnnkit.layers import GRU, Dense
        >>> model = Sequential([GRU(4, input_shape=(None, 3)), Dense(2)])
        >>> path = os.path.join(tempfile.mkdtemp(), "classifier.weights.h5")
        >>> save_keras_weights(model, path)
        >>> copy = Sequential([GRU(4, input_shape=(None, 3)), Dense(2)])
        >>> load_keras_weights(copy, path)
        >>> all(np.array_equal(a, b) for a, b in zip(model.get_weights(), copy.get_weights()))
        True
    """
    h5py = _h5py()
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No weights file at {path!r}.")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(
            f"{path!r} is not a readable HDF5 file (truncated, corrupt, or another format "
            f"under an .h5 name): {exc}"
        ) from None
    try:
        legacy = h5.get("model_weights", h5)
        if "layer_names" in legacy.attrs:
            datasets_of = _legacy_datasets(legacy, path)
        else:
            _, pairs = _keras_model_config(model, f"{path!r}")
            keras_layers = [
                ("InputLayer", None) if layer is None else (type(layer).__name__, layer.name)
                for _, layer in pairs
            ]
            groups = _keras3_layer_groups(h5, keras_layers, path)

            def datasets_of(layer):
                if layer.name not in groups:
                    raise ValueError(f"{path!r}: no weights for layer {layer.name!r}.")
                return _keras_datasets(h5, groups[layer.name], layer, path)

        _assign(model, list(model.layers), datasets_of, path)
    finally:
        h5.close()


def _legacy_datasets(weights_root, path):
    def datasets_of(layer):
        group = weights_root.get(layer.name)
        if group is None:
            raise ValueError(f"{path!r}: no weights for layer {layer.name!r}.")
        names = [
            n.decode() if isinstance(n, bytes) else str(n)
            for n in group.attrs.get("weight_names", [])
        ]
        missing = [n for n in names if n not in group]
        if missing:
            raise ValueError(f"{path!r}: layer {layer.name!r} lacks weights {missing}.")
        return [group[n] for n in names]

    return datasets_of


def _write_vars(group, name: str, arrays) -> None:
    vars_group = group.create_group("vars")
    vars_group.attrs["name"] = name
    for i, a in enumerate(arrays):
        vars_group.create_dataset(str(i), data=a)


def _write_layer(group, layer: Layer) -> None:
    if isinstance(layer, Bidirectional):
        for sub, inner in (
            ("forward_layer", layer.forward_layer),
            ("backward_layer", layer.backward_layer),
        ):
            _write_layer(group.create_group(sub), inner)
        _write_vars(group, layer.name, [])
    elif isinstance(layer, RNN):
        cell = group.create_group("cell")
        _write_vars(cell, _snake(type(layer).__name__) + "_cell", [w for _, w in layer.weights()])
        _write_vars(group, layer.name, [])
    elif isinstance(layer, TimeDistributed):
        _write_layer(group.create_group("layer"), layer.layer)
        _write_vars(group, layer.name, [])
    else:
        _write_vars(group, layer.name, [w for _, w in layer.weights()])

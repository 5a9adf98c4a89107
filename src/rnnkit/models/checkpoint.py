"""Training checkpoints that survive a crash, and exact resumption.

A checkpoint is a model file (:mod:`rnnkit.models.saving`) whose extra fields hold
the training position: epoch, the next batch, the epoch's batches (the data order),
the running loss and metric sums of the epoch so far, the state of every random
generator (the model's shuffling generator and every layer's dropout generator) and
the callbacks' state. Files are named ``ckpt-EEEEE-BBBBBBB.rnnkit`` and written
atomically; older ones are removed only after a newer one is safely on disk, so a
crash at any instant leaves the last good checkpoint intact.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .saving import load_model, save_model

_NAME = re.compile(r"^ckpt-(\d{5})-(\d{7})\.rnnkit$")


@dataclass
class TrainingPosition:
    """Where a checkpoint stands: ``batch`` is the next batch to run in ``epoch``."""

    epoch: int
    batch: int
    batches: list[np.ndarray] | None
    totals: dict | None
    n_samples: int
    batch_size: int


def generators(model) -> list[tuple[str, np.random.Generator]]:
    """Every random generator of the model, by a stable path."""
    found = [("model", model.rng)]
    seen = {id(model.rng)}

    def walk(layer, prefix):
        rng = getattr(layer, "rng", None)
        if isinstance(rng, np.random.Generator) and id(rng) not in seen:
            seen.add(id(rng))
            found.append((prefix, rng))
        for attr in ("forward_layer", "backward_layer", "layer"):
            inner = getattr(layer, attr, None)
            if inner is not None and hasattr(inner, "forward"):
                walk(inner, f"{prefix}/{attr}")

    for i, layer in enumerate(model.layers):
        walk(layer, f"layers/{i}")
    return found


def _all_callbacks_state(callbacks) -> tuple[list, dict]:
    values, arrays = [], {}
    for i, cb in enumerate(callbacks):
        v, a = cb.get_state()
        values.append({"class": type(cb).__name__, "values": v})
        arrays.update({f"cb/{i}/{k}": np.asarray(x) for k, x in a.items()})
    return values, arrays


def write(directory, model, position: TrainingPosition, callbacks, keep: int) -> Path:
    """Write a checkpoint atomically, then prune all but the newest ``keep``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cb_values, arrays = _all_callbacks_state(callbacks)
    if position.batches is not None:
        arrays["order"] = np.concatenate(position.batches).astype(np.int64)
        arrays["bounds"] = np.cumsum([0] + [len(b) for b in position.batches]).astype(np.int64)
    extra = {
        "kind": "training-checkpoint",
        "epoch": position.epoch,
        "batch": position.batch,
        "totals": position.totals,
        "n_samples": position.n_samples,
        "batch_size": position.batch_size,
        "generators": {name: rng.bit_generator.state for name, rng in generators(model)},
        "callbacks": cb_values,
    }
    path = directory / f"ckpt-{position.epoch:05d}-{position.batch:07d}.rnnkit"
    save_model(model, path, include_optimizer=True, extra=extra, extra_arrays=arrays)
    for old in list_checkpoints(directory)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(directory) -> list[Path]:
    """Checkpoints in ``directory``, oldest first (temporary files are ignored)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    names = [p for p in directory.iterdir() if _NAME.match(p.name)]
    return sorted(names, key=lambda p: tuple(int(g) for g in _NAME.match(p.name).groups()))


def latest(path) -> Path | None:
    """The newest checkpoint in a folder (or the file itself)."""
    path = Path(path)
    if path.is_file():
        return path
    found = list_checkpoints(path)
    return found[-1] if found else None


def restore(path, model, callbacks) -> TrainingPosition:
    """Load a checkpoint into ``model`` (weights, optimizer state, generators) and
    ``callbacks``; returns the position to continue from.

    Raises:
        ValueError: the file is not a checkpoint of this model.
    """
    saved = load_model(path)
    extra = getattr(saved, "saved_extra", {})
    if extra.get("kind") != "training-checkpoint":
        raise ValueError(f"{os.fspath(path)!r} is a model file, not a training checkpoint.")
    ours = [n for n, _ in model.weights()]
    theirs = [n for n, _ in saved.weights()]
    shapes_ok = all(a.shape == b.shape for (_, a), (_, b) in zip(model.weights(), saved.weights()))
    if len(ours) != len(theirs) or not shapes_ok:
        raise ValueError(
            f"Checkpoint {os.fspath(path)!r} holds a different model ({len(theirs)} weights) "
            f"than the one being trained ({len(ours)} weights)."
        )
    model.set_weights(saved.get_weights())
    params = [w for _, w in model.trainable_weights()]
    if saved.optimizer is not None:
        if saved.optimizer.slots:
            model.optimizer.load_state(saved.optimizer.state(), params)
        # the rate a schedule had reached (ReduceLROnPlateau, decays) comes back too
        model.optimizer.learning_rate = saved.optimizer.learning_rate
    states = extra["generators"]
    for name, rng in generators(model):
        if name not in states:
            raise ValueError(f"Checkpoint {os.fspath(path)!r} has no state for generator {name!r}.")
        rng.bit_generator.state = states[name]
    arrays = saved.saved_extra_arrays
    # match callbacks by class, in order of appearance: the n-th EarlyStopping now gets
    # the n-th EarlyStopping's state; a callback new at resume time starts fresh
    saved_by_class: dict[str, list[int]] = {}
    for i, spec in enumerate(extra["callbacks"]):
        saved_by_class.setdefault(spec["class"], []).append(i)
    for cb in callbacks:
        queue = saved_by_class.get(type(cb).__name__)
        if not queue:
            continue
        i = queue.pop(0)
        prefix = f"cb/{i}/"
        mine = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        cb.set_state(extra["callbacks"][i]["values"], mine)
    batches = None
    if "order" in arrays:
        order, bounds = arrays["order"], arrays["bounds"]
        batches = [order[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]
    return TrainingPosition(
        extra["epoch"],
        extra["batch"],
        batches,
        extra["totals"],
        extra["n_samples"],
        extra["batch_size"],
    )

"""Run folders: every command that trains writes one, with the resolved config, the
metrics as JSON, plots and the saved model. All writes are atomic."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from . import __version__
from .utils.io import atomic_write


def new_run_dir(root="runs", prefix="run") -> Path:
    """``root/prefix-YYYYmmdd-HHMMSS`` (with a suffix if it exists already)."""
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
    with atomic_write(path, "w", encoding="utf-8") as f:
        json.dump(_jsonable(data), f, indent=2, sort_keys=False)
        f.write("\n")


def read_json(path) -> dict:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found: is this an rnnkit run folder?") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}).") from None


def environment() -> dict:
    """Versions and machine facts recorded beside every run's metrics."""
    return {
        "rnnkit": __version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }

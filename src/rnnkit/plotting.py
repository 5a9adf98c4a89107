"""Plots for run folders (matplotlib, an optional extra: ``pip install rnnkit[plot]``)."""

from __future__ import annotations

import os

import numpy as np


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _save(fig, path) -> str:
    from .utils.io import atomic_write

    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110, bbox_inches="tight")
    return os.fspath(path)


def learning_curves(history: dict, path, title: str = "") -> str | None:
    """Loss (and accuracy, if logged) per epoch, training and validation. Returns the
    path written, or None when matplotlib is not installed."""
    plt = _pyplot()
    if plt is None:
        return None
    keys = [k for k in history if not k.startswith("val_")]
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.6), squeeze=False)
    for ax, key in zip(axes[0], keys):
        epochs = np.arange(1, len(history[key]) + 1)
        ax.plot(epochs, history[key], label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    out = _save(fig, path)
    plt.close(fig)
    return out


def confusion_matrix(cm: np.ndarray, labels, path, title: str = "") -> str | None:
    """A confusion matrix as a heat map (log colour scale); rows true, columns predicted."""
    plt = _pyplot()
    if plt is None:
        return None
    n = len(labels)
    size = max(5.0, 0.22 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(np.log1p(cm), cmap="Blues")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=6)
    ax.set_yticks(range(n), labels, fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, fraction=0.046, label="log(1 + count)")
    if title:
        ax.set_title(title)
    out = _save(fig, path)
    plt.close(fig)
    return out


def attention_heatmap(
    weights: np.ndarray, source: str, output: str, path, title: str = ""
) -> str | None:
    """Attention weights (output steps x source steps) as a heat map, one row per
    generated character and one column per source character."""
    plt = _pyplot()
    if plt is None:
        return None
    fig, ax = plt.subplots(
        figsize=(max(4, 0.35 * len(source) + 1.5), max(3, 0.35 * len(output) + 1.2))
    )
    ax.imshow(weights[: len(output), : len(source)], cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(source)), [c if c != " " else "␣" for c in source])
    ax.set_yticks(range(len(output)), list(output))
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title)
    out = _save(fig, path)
    plt.close(fig)
    return out

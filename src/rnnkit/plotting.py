"""Plots for run folders (matplotlib, an optional extra: ``pip install rnnkit[plot]``).

Every picture is titled, its axes say what they measure and in what unit, and it has
a legend or a colour bar; curves draw their points too, so a one-epoch run shows a
point rather than an empty chart. Without matplotlib the functions return None and,
once per process, say on stderr which extra would add the pictures.
"""

from __future__ import annotations

import os
import sys

import numpy as np

PLOT_EXTRA = "pip install 'rnnkit[plot]'"
_noticed = False


def available() -> bool:
    """Whether matplotlib can be imported (the pictures can be drawn). Importing it
    selects the non-interactive ``Agg`` backend unless one is already in use.

    Returns:
        True when matplotlib is installed.

    Example:
        >>> isinstance(available(), bool)
        True
    """
    return _pyplot() is not None


def notice_if_missing() -> None:
    """Say once per process, on stderr, that pictures are skipped without matplotlib;
    with matplotlib installed, say nothing.

    Example:
        >>> notice_if_missing()  # matplotlib here: nothing printed
    """
    global _noticed
    if _noticed or available():
        return
    _noticed = True
    print(
        f"rnnkit: matplotlib is not installed, so no PNG pictures are drawn ({PLOT_EXTRA} "
        f"adds them)",
        file=sys.stderr,
    )


def require(option: str) -> None:
    """Refuse an explicitly requested picture when matplotlib is missing.

    Args:
        option: the command-line option that asked for the picture (``"--plot"``),
            named in the message.

    Raises:
        ImportError: matplotlib cannot be imported; the message names ``option`` and
            the extra to install.

    Example:
        >>> require("--plot")  # matplotlib here: nothing raised
    """
    if not available():
        raise ImportError(f"{option} draws a PNG, which needs matplotlib: {PLOT_EXTRA}")


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _missing():
    notice_if_missing()
    return None


def _save(fig, path) -> str:
    from .utils.io import atomic_write

    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110, bbox_inches="tight")
    return os.fspath(path)


#: y-axis labels of the metrics a history holds, with their units
AXIS_LABELS = {
    "loss": "loss (nats per sample)",
    "accuracy": "accuracy (fraction correct)",
}


def learning_curves(history: dict, path, title: str = "", labels: dict | None = None) -> str | None:
    """Loss (and accuracy, if logged) per epoch, training and validation, one panel
    per metric; every metric of the history with at least one value gets its panel,
    its ``val_`` counterpart drawn in it.

    Args:
        history: ``History.history``: metric name -> one value per epoch.
        path: the PNG to write (atomically).
        title: the figure's title; default ``""``, "learning curves".
        labels: y-axis label per metric, with its unit, over :data:`AXIS_LABELS`
            (e.g. ``{"loss": "cross-entropy (nats per token)"}``). Default None.

    Returns:
        ``path`` as a str, or None when matplotlib is not installed (with a notice on
        stderr, once).

    Example:
        >>> history = {"loss": [1.2, 0.8], "val_loss": [1.3, 1.0]}
        >>> learning_curves(history, "curves.png")  # doctest: +SKIP
        'curves.png'
    """
    plt = _pyplot()
    if plt is None:
        return _missing()
    from matplotlib.ticker import MaxNLocator

    names = {**AXIS_LABELS, **(labels or {})}
    keys = [k for k in history if not k.startswith("val_") and len(history[k])]
    if not keys:
        keys = [k for k in history if len(history[k])]
    fig, axes = plt.subplots(
        1, max(len(keys), 1), figsize=(5.5 * max(len(keys), 1), 3.8), squeeze=False
    )
    for ax, key in zip(axes[0], keys):
        epochs = np.arange(1, len(history[key]) + 1)
        ax.plot(epochs, history[key], marker="o", markersize=4, label="training")
        if f"val_{key}" in history and len(history[f"val_{key}"]):
            val = history[f"val_{key}"]
            ax.plot(np.arange(1, len(val) + 1), val, marker="s", markersize=4, label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(names.get(key, key))
        ax.set_title(names.get(key, key).split(" (")[0])
        if len(epochs) <= 12:  # every epoch its own tick, never fractional ones
            ax.set_xticks(epochs)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if len(epochs) == 1:
            ax.set_xlim(0.5, 1.5)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title or "learning curves")
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out


def confusion_matrix(cm: np.ndarray, labels, path, title: str = "") -> str | None:
    """A confusion matrix as a heat map (log colour scale, log(1 + count)); rows
    true, columns predicted, with a colour bar.

    Args:
        cm: the (n, n) matrix of counts.
        labels: the n class names, for both axes.
        path: the PNG to write (atomically).
        title: the figure's title; default ``""``, "confusion matrix".

    Returns:
        ``path`` as a str, or None when matplotlib is not installed (with a notice on
        stderr, once).

    Example:
        >>> cm = np.array([[5, 1], [0, 4]])
        >>> confusion_matrix(cm, ["earn", "acq"], "confusion.png")  # doctest: +SKIP
        'confusion.png'
    """
    plt = _pyplot()
    if plt is None:
        return _missing()
    n = len(labels)
    size = max(5.0, 0.22 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(np.log1p(cm), cmap="Blues")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=6)
    ax.set_yticks(range(n), labels, fontsize=6)
    ax.set_xlabel("predicted topic")
    ax.set_ylabel("true topic")
    fig.colorbar(im, ax=ax, fraction=0.046, label="log(1 + number of stories)")
    ax.set_title(title or "confusion matrix")
    out = _save(fig, path)
    plt.close(fig)
    return out


def attention_heatmap(
    weights: np.ndarray, source: str, output: str, path, title: str = ""
) -> str | None:
    """Attention weights (output steps x source steps) as a heat map, one row per
    generated character and one column per source character, with a colour bar of the
    weight (each row sums to 1). Rows past ``len(output)`` and columns past
    ``len(source)`` are not drawn; a space in ``source`` is shown as ``␣``.

    Args:
        weights: the (output steps, source steps) attention weights, in [0, 1].
        source: the source string, one character per column.
        output: the generated string, one character per row.
        path: the PNG to write (atomically).
        title: the figure's title; default ``""``, "attention weights".

    Returns:
        ``path`` as a str, or None when matplotlib is not installed (with a notice on
        stderr, once).

    Example:
        >>> weights = np.full((3, 4), 0.25)
        >>> attention_heatmap(weights, "abcd", "dcb", "attention.png")  # doctest: +SKIP
        'attention.png'
    """
    plt = _pyplot()
    if plt is None:
        return _missing()
    fig, ax = plt.subplots(
        figsize=(max(5, 0.35 * len(source) + 2.5), max(3, 0.35 * len(output) + 1.5))
    )
    im = ax.imshow(weights[: len(output), : len(source)], cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(source)), [c if c != " " else "␣" for c in source])
    ax.set_yticks(range(len(output)), list(output))
    ax.set_xlabel("source character (input step)")
    ax.set_ylabel("output character (decoder step)")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="attention weight (row sums to 1)")
    ax.set_title(title or "attention weights")
    out = _save(fig, path)
    plt.close(fig)
    return out

"""Sequence preprocessing with Keras's semantics."""

from __future__ import annotations

import numpy as np


def pad_sequences(
    sequences,
    maxlen: int | None = None,
    dtype="int32",
    padding: str = "pre",
    truncating: str = "pre",
    value=0.0,
) -> np.ndarray:
    """Pad (or cut) a list of sequences to one length, as ``keras.utils.pad_sequences``.

    Args:
        sequences: list of sequences (lists or arrays; each item a number or a
            vector of equal size).
        maxlen: output length; default the longest sequence.
        dtype: output dtype, default ``"int32"``.
        padding: ``"pre"`` (default) or ``"post"``: where the padding goes.
        truncating: ``"pre"`` (default) or ``"post"``: which end longer sequences lose.
        value: the padding value, default 0.

    Returns:
        Array of shape (len(sequences), maxlen) (+ the items' shape).

    Raises:
        ValueError: bad padding/truncating, negative maxlen, mixed item shapes.
        TypeError: a non-sequence entry, or string values with a numeric dtype.

    Example:
        >>> pad_sequences([[1, 2], [3]], padding="post")
        array([[1, 2],
               [3, 0]], dtype=int32)
    """
    for arg, v in (("padding", padding), ("truncating", truncating)):
        if v not in ("pre", "post"):
            raise ValueError(
                f"Received an invalid value for argument {arg}, expected 'pre' or 'post', "
                f"got {v!r}."
            )
    if not hasattr(sequences, "__len__"):
        raise TypeError(
            f"Received an invalid value for argument sequences, expected a list of sequences, "
            f"got {type(sequences).__name__}."
        )
    lengths, item_shape = [], None
    seqs = []
    for i, s in enumerate(sequences):
        if not hasattr(s, "__len__"):
            raise TypeError(
                f"Received an invalid value for argument sequences: entry {i} is not a "
                f"sequence ({type(s).__name__})."
            )
        arr = np.asarray(s)
        if len(arr) and item_shape is None:
            item_shape = arr.shape[1:]
        elif len(arr) and arr.shape[1:] != item_shape:
            raise ValueError(
                f"Received an invalid value for argument sequences: entry {i} has items of "
                f"shape {arr.shape[1:]}, others {item_shape}."
            )
        lengths.append(len(arr))
        seqs.append(arr)
    item_shape = item_shape or ()
    if maxlen is None:
        maxlen = max(lengths, default=0)
    elif isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0:
        raise ValueError(
            f"Received an invalid value for argument maxlen, expected a non-negative integer or "
            f"None, got {maxlen!r}."
        )
    is_str = np.issubdtype(np.dtype(dtype), np.str_) or np.issubdtype(np.dtype(dtype), np.object_)
    if isinstance(value, str) and not is_str:
        raise TypeError(
            f"Received an invalid value for argument value: {value!r} is a string but dtype is "
            f"{dtype}; use dtype=object to pad with strings."
        )
    out = np.full((len(seqs), maxlen) + item_shape, value, dtype=dtype)
    for i, arr in enumerate(seqs):
        if not len(arr) or maxlen == 0:
            continue
        trunc = arr[-maxlen:] if truncating == "pre" else arr[:maxlen]
        try:
            if padding == "post":
                out[i, : len(trunc)] = trunc
            else:
                out[i, -len(trunc) :] = trunc
        except (ValueError, TypeError):
            raise TypeError(
                f"Received an invalid value for argument sequences: entry {i} cannot be "
                f"stored as {dtype}."
            ) from None
    return out


def stream_windows(tokens, batch_size: int, window: int):
    """Cut one long token stream into ``batch_size`` parallel streams and windows of
    ``window`` steps, for stateful training (Zaremba et al. 2014).

    Row ``i`` of batch ``j`` continues row ``i`` of batch ``j - 1``, so
    ``fit(x, y, batch_size=batch_size, shuffle=False)`` with stateful recurrent
    layers carries each stream's state across windows while BPTT stops at window
    edges (truncated BPTT with k1 = k2 = window). The tokens that do not fill a whole
    window at the end of each stream are dropped.

    Args:
        tokens: one 1-D stream of token ids.
        batch_size: the number of parallel streams, a positive int.
        window: the steps per window, a positive int.

    Returns:
        ``(x, y)``, both (n_windows · batch_size, window) arrays of ``tokens``' dtype;
        y is x shifted by one token (the next-token targets).

    Raises:
        ValueError: ``tokens`` not 1-D, ``batch_size`` or ``window`` not a positive int,
            or a stream too short for one window per row.

    Example:
        >>> import numpy as np
        >>> from rnnkit.preprocessing.sequence import stream_windows
        >>> x, y = stream_windows(np.arange(9), batch_size=2, window=2)
        >>> x
        array([[0, 1],
               [4, 5],
               [2, 3],
               [6, 7]])
        >>> y[0]
        array([1, 2])
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 1:
        raise ValueError(f"Received tokens of shape {tokens.shape}; expected one 1-D stream.")
    for name, value in (("batch_size", batch_size), ("window", window)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(
                f"Received an invalid value for argument {name}, expected a positive int, got "
                f"{value!r}."
            )
    per_stream = (len(tokens) - 1) // batch_size
    n_windows = per_stream // window
    if n_windows < 1:
        raise ValueError(
            f"The stream of {len(tokens)} tokens is too short for {batch_size} streams of at "
            f"least one window of {window} steps (needs {batch_size * window + 1})."
        )
    used = n_windows * window
    streams_x = tokens[: batch_size * per_stream].reshape(batch_size, per_stream)[:, :used]
    streams_y = tokens[1 : batch_size * per_stream + 1].reshape(batch_size, per_stream)[:, :used]
    # (B, n·k) -> (n, B, k) -> (n·B, k): window j of every stream forms batch j
    x = streams_x.reshape(batch_size, n_windows, window).transpose(1, 0, 2).reshape(-1, window)
    y = streams_y.reshape(batch_size, n_windows, window).transpose(1, 0, 2).reshape(-1, window)
    return x, y

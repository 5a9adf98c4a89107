"""Truncated backpropagation through time in its general form, BPTT(k2, k1)
(Williams & Peng 1990), for one long stream.

Every ``k1`` new tokens, the model runs over the last ``k2`` tokens (k2 >= k1) from the
state it had ``k2`` steps back, the loss is taken on the last ``k1`` targets only
(the earlier ones were trained in previous updates), and the gradient flows back
through all ``k2`` steps. With k1 = k2 this is the usual windowed training of
``fit(stream_windows(...), stateful=True)`` with one stream, and gives the same
weights (tests/test_tbptt.py).

The recurrent layers must be ``stateful``; their per-step states, kept by the time
loop for BPTT, supply the state to restart from.
"""

from __future__ import annotations

import numpy as np

from ..layers.recurrent import RNN
from ..optimizers import global_norm


def _recurrent_layers(model):
    layers = [l for l in model.layers if isinstance(l, RNN)]
    if not layers or not all(l.stateful for l in layers):
        raise ValueError("BPTT(k2, k1) needs a model whose recurrent layers are stateful=True.")
    return layers


def fit_tbptt(model, tokens, k1: int, k2: int, epochs: int = 1, callbacks=None) -> list[float]:
    """Train a next-token model on one stream with BPTT(k2, k1).

    Args:
        model: a compiled Sequential (Embedding first, a softmax over the vocabulary
            last, per step) with stateful recurrent layers.
        tokens: the stream of token ids (1-D).
        k1: tokens between updates.
        k2: steps backpropagated through (k2 >= k1).
        epochs: passes over the stream (states reset at the start of each).
    Returns:
        The mean loss of each epoch.
    Raises:
        ValueError: bad k1/k2, a stream shorter than k2 + 1 tokens, or a model without
            stateful recurrent layers.
        FloatingPointError: the loss, the gradients or an updated weight became NaN or
            inf (that update is undone).
    """
    for name, value in (("k1", k1), ("k2", k2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(
                f"Received an invalid value for argument {name}, expected a positive int, got "
                f"{value!r}."
            )
    if k2 < k1:
        raise ValueError(f"BPTT(k2, k1) needs k2 >= k1, got k1={k1}, k2={k2}.")
    tokens = np.asarray(tokens, np.int64)
    if tokens.ndim != 1 or len(tokens) < k2 + 1:
        raise ValueError(f"The stream must be 1-D with at least k2 + 1 = {k2 + 1} tokens.")
    model._require_compiled()
    layers = _recurrent_layers(model)
    weights = np.zeros((1, k2), np.float32)
    weights[0, k2 - k1 :] = 1.0  # only the k1 newest targets count
    losses = []
    for _ in range(epochs):
        model.reset_states()
        # the first update covers tokens [0, k2): all k2 targets are new
        start, total, count = 0, 0.0, 0
        first = np.ones((1, k2), np.float32)
        while start + k2 < len(tokens):
            x = tokens[start : start + k2][None]
            y = tokens[start + 1 : start + k2 + 1][None]
            w = first if start == 0 else weights
            loss, _, _, grad, fused = model.compute_loss(x, y, w, training=True)
            model.backward(grad, from_logits=fused, input_grad=False)
            # the state to restart from: after step k1 - 1 of this window, i.e. k2 steps
            # before the end of the next window
            for layer in layers:
                layer.states = [buf[k1].copy() for buf in layer._cache["S"]]
            problem = "loss" if not np.isfinite(loss) else None
            if problem is None:
                grads = model.gradients()
                if not np.isfinite(global_norm(grads)):
                    problem = "gradient norm"
                else:
                    problem = model._apply_update(grads)
            if problem is not None:
                raise FloatingPointError(
                    f"The {problem} became NaN or inf at token {start} of epoch "
                    f"{len(losses) + 1}; training stopped and the weights are those before "
                    f"that update (lower the learning rate or clip the gradients)."
                )
            n = int(w.sum())
            total, count = total + loss * n, count + n
            start += k1
        losses.append(total / max(count, 1))
        for cb in callbacks or []:
            cb(len(losses) - 1, losses[-1])
    return losses

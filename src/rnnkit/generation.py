"""Decoding: sampling (temperature, top-k, top-p), greedy decoding and beam search.

The one decoding loop of the code base. It drives a *step function*
``step(tokens, states) -> (probs, states)``: a language model's ``Sequential.step``,
or an encoder-decoder's decoder step (``rnnkit.experiments.seq2seq``). Every new token
costs one cell step per layer, never a re-run of the prefix. States may be any nesting
of lists of arrays whose first axis is the batch (beams are reordered along it).
"""

from __future__ import annotations

import math

import numpy as np

from .backend import make_rng


def _check_sampling(temperature, top_k, top_p):
    if not (
        isinstance(temperature, (int, float)) and temperature > 0 and math.isfinite(temperature)
    ):
        raise ValueError(
            f"Received an invalid value for argument temperature, expected a positive number, "
            f"got {temperature!r} (use greedy=True for argmax decoding)."
        )
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(
            f"Received an invalid value for argument top_k, expected a positive int or None, "
            f"got {top_k!r}."
        )
    if top_p is not None and not (isinstance(top_p, (int, float)) and 0 < top_p <= 1):
        raise ValueError(
            f"Received an invalid value for argument top_p, expected a number in (0, 1], got "
            f"{top_p!r}."
        )


def filter_probs(probs: np.ndarray, temperature=1.0, top_k=None, top_p=None) -> np.ndarray:
    """Reshape a probability vector for sampling: temperature (p^(1/T), renormalised),
    then keep the ``top_k`` most likely, then the smallest set whose mass reaches
    ``top_p`` (nucleus sampling, Holtzman et al. 2020).

    Args:
        probs: 1-D probability vector (need not be normalised).
        temperature: a positive number, default 1 (unchanged); below 1 sharpens.
        top_k: a positive int, default None (no cut). Ties with the k-th value are kept.
        top_p: a number in (0, 1], default None (no cut).

    Returns:
        A new float64 probability vector summing to 1.

    Raises:
        ValueError: a bad ``temperature``, ``top_k`` or ``top_p``.

    Example:
        >>> import numpy as np
        >>> from rnnkit.generation import filter_probs
        >>> filter_probs(np.array([0.5, 0.3, 0.2]), top_k=2)
        array([0.625, 0.375, 0.   ])
    """
    _check_sampling(temperature, top_k, top_p)
    logp = np.log(np.clip(np.asarray(probs, np.float64), 1e-300, None)) / temperature
    p = np.exp(logp - logp.max())
    p /= p.sum()
    if top_k is not None and top_k < p.size:
        cut = np.partition(p, -top_k)[-top_k]
        p = np.where(p >= cut, p, 0.0)
        p /= p.sum()
    if top_p is not None and top_p < 1:
        order = np.argsort(-p, kind="stable")
        keep = np.cumsum(p[order]) - p[order] < top_p  # include the token that crosses
        mask = np.zeros_like(p, bool)
        mask[order[keep]] = True
        p = np.where(mask, p, 0.0)
        p /= p.sum()
    return p


def _select(states, rows):
    """Rows ``rows`` of every array in a nesting of lists (beam reordering)."""
    if isinstance(states, (list, tuple)):
        return [_select(s, rows) for s in states]
    return states[rows]


def _stepper(model):
    """The step function of a model, or the function itself."""
    return model.step if hasattr(model, "step") else model


def generate(
    model,
    prompt_ids,
    length: int,
    *,
    temperature=1.0,
    top_k=None,
    top_p=None,
    greedy=False,
    seed=None,
    stop_id=None,
) -> list[int]:
    """Continue ``prompt_ids`` by ``length`` tokens with a next-token model (Embedding
    first, a softmax over the vocabulary last).

    Args:
        model: a built Sequential whose layers can :meth:`~Sequential.step`, or a step
            function ``(tokens, states) -> (probs, states)``.
        prompt_ids: the priming ids (at least one).
        length: number of tokens to generate.
        temperature, top_k, top_p: sampling controls (see :func:`filter_probs`).
        greedy: take the most likely token each step (ignores the sampling controls).
        seed: int or Generator, default None; the same seed gives the same sample.
        stop_id: stop early after generating this id, default None.

    Defaults: ``temperature=1.0``, ``top_k=None``, ``top_p=None``, ``greedy=False``.

    Returns:
        The generated ids (without the prompt).

    Raises:
        ValueError: an empty prompt, a bad length or bad sampling controls.

    Example:
        >>> import numpy as np
        >>> from rnnkit.generation import generate
        >>> def step(tokens, states):  # a toy model: always the next id, mod 4
        ...     return np.eye(4)[(tokens + 1) % 4], states
        >>> generate(step, [0], 3, greedy=True)
        [1, 2, 3]
        >>> generate(step, [0], 5, greedy=True, stop_id=2)
        [1, 2]
    """
    prompt = [int(i) for i in prompt_ids]
    if not prompt:
        raise ValueError("Received an empty prompt: give at least one known token.")
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ValueError(
            f"Received an invalid value for argument length, expected an int >= 0, got {length!r}."
        )
    if not greedy:
        _check_sampling(temperature, top_k, top_p)
    rng = make_rng(seed)
    step = _stepper(model)
    states = None
    for token in prompt:  # prime the states, one step per prompt token
        probs, states = step(np.array([token]), states)
    out = []
    for _ in range(length):
        p = probs[0]
        if greedy:
            token = int(np.argmax(p))
        else:
            q = filter_probs(p, temperature, top_k, top_p)
            token = int(rng.choice(q.size, p=q))
        out.append(token)
        if stop_id is not None and token == stop_id:
            break
        probs, states = step(np.array([token]), states)
    return out


#: The widest beam :func:`beam_search` runs: each step ranks ``beam_width`` x
#: ``beam_width`` candidates and steps ``beam_width`` states, so a width past this
#: would cost memory and time without a better search in practice.
MAX_BEAM_WIDTH = 1024


def beam_search(
    model, prompt_ids, length: int, *, beam_width: int = 4, alpha: float = 0.7, stop_id=None
) -> list[tuple[list[int], float]]:
    """Beam search with length normalisation: candidates ranked by
    log P(y) / ((5 + |y|) / 6)^alpha (Wu et al. 2016); ``alpha = 0`` ranks by total
    log-probability. The beams run as one batch through ``Sequential.step``.

    Args:
        model: a built Sequential that can step, or a step function.
        prompt_ids: the priming ids (at least one).
        length: the most tokens to generate.
        beam_width: beams kept per step, 1 to :data:`MAX_BEAM_WIDTH`.
        alpha: the length-normalisation exponent.
        stop_id: a beam that emits this id is finished.

    Returns:
        ``[(ids, score), ...]`` best first, ``beam_width`` of them (fewer when fewer
        distinct sequences exist).

    Raises:
        ValueError: an empty prompt, a bad length or beam width.

    Example:
        >>> best_ids, score = beam_search(model, [5, 3], 20, beam_width=4)[0]  # doctest: +SKIP
    """
    prompt = [int(i) for i in prompt_ids]
    if not prompt:
        raise ValueError("Received an empty prompt: give at least one known token.")
    if (
        isinstance(beam_width, bool)
        or not isinstance(beam_width, int)
        or not 1 <= beam_width <= MAX_BEAM_WIDTH
    ):
        raise ValueError(
            f"Received an invalid value for argument beam_width, expected an int in "
            f"[1, {MAX_BEAM_WIDTH}], got {beam_width!r}."
        )
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ValueError(
            f"Received an invalid value for argument length, expected an int >= 0, got {length!r}."
        )

    def norm(logp, n):
        return logp / (((5 + n) / 6) ** alpha) if n else logp

    step = _stepper(model)
    states = None
    for token in prompt:
        probs, states = step(np.array([token]), states)
    beams = [([], 0.0)]  # (ids, total log-probability)
    finished: list[tuple[list[int], float]] = []
    logp_next = np.log(np.clip(probs, 1e-300, None))  # (beams, vocab)
    for _ in range(length):
        # each beam's best beam_width continuations, best first; then all of them
        # ranked together (every candidate has the same length, so by total log-prob)
        k = min(beam_width, logp_next.shape[1])
        best = np.argpartition(-logp_next, k - 1, axis=1)[:, :k]
        rows = np.arange(len(beams))[:, None]
        best = np.take_along_axis(best, np.argsort(-logp_next[rows, best], axis=1), axis=1)
        totals = np.array([total for _, total in beams])[:, None] + logp_next[rows, best]
        order = np.argsort(-totals.ravel(), kind="stable")
        next_beams, parents = [], []
        for flat in order:
            b, t = divmod(int(flat), k)
            token, total = int(best[b, t]), float(totals[b, t])
            ids = beams[b][0] + [token]
            if stop_id is not None and token == stop_id:
                finished.append((ids, total))
            else:
                next_beams.append((ids, total))
                parents.append(b)
            if len(next_beams) == beam_width:
                break
        if not next_beams:
            break
        beams = next_beams
        states = _select(states, np.array(parents))
        tokens = np.array([ids[-1] for ids, _ in beams])
        probs, states = step(tokens, states)
        logp_next = np.log(np.clip(probs, 1e-300, None))
    finished += beams
    ranked = sorted(finished, key=lambda c: -norm(c[1], len(c[0])))
    return [(ids, float(norm(total, len(ids)))) for ids, total in ranked[:beam_width]]


def greedy_batch(model, first_tokens, length: int, states=None, stop_id=None) -> np.ndarray:
    """Greedy decoding of a whole batch at once: ``first_tokens`` (batch,) start every
    sequence; returns (batch, length) ids — after ``stop_id`` a row keeps emitting it.

    Args:
        model: a built Sequential that can :meth:`~Sequential.step`, or a step function
            ``(tokens, states) -> (probs, states)``.
        first_tokens: (batch,) ids, the first input of each row.
        length: the number of tokens generated per row.
        states: the recurrent states to start from, default None (zeros).
        stop_id: the id that ends a row, default None.

    Returns:
        An int64 array (batch, length).

    Example:
        >>> import numpy as np
        >>> from rnnkit.generation import greedy_batch
        >>> def step(tokens, states):  # a toy model: always the next id, mod 4
        ...     return np.eye(4)[(tokens + 1) % 4], states
        >>> greedy_batch(step, [0, 2], 4, stop_id=3)
        array([[1, 2, 3, 3],
               [3, 3, 3, 3]])
    """
    step = _stepper(model)
    tokens = np.asarray(first_tokens)
    out = np.empty((len(tokens), length), np.int64)
    done = np.zeros(len(tokens), bool)
    for t in range(length):
        probs, states = step(tokens, states)
        tokens = np.argmax(probs, axis=-1)
        if stop_id is not None:
            tokens = np.where(done, stop_id, tokens)
            done |= tokens == stop_id
        out[:, t] = tokens
    return out

"""Long-range memory benchmarks and a chaotic series, generated with a seed.

* :func:`adding_problem` — Hochreiter & Schmidhuber (1997) in the setup of Le, Jaitly
  & Hinton (2015): two input channels, the sum of the two marked values to predict.
* :func:`copy_memory` — Arjovsky, Shah & Bengio (2016): recall ten symbols after a
  long blank stretch.
* :func:`mackey_glass` — the delay differential equation of Mackey & Glass (1977),
  integrated here by fourth-order Runge-Kutta with a history buffer.

Train and test sets come from :func:`train_test_split_seeds`, which derives two
independent generators from one seed, so the two sets never share a random stream;
:func:`copy_memory_split` also removes any test sequence whose symbols equal a
training sequence's (the only way two discrete sequences can coincide).
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import make_rng
from ..runs import ensure_fits
from ..utils.validation import positive_int

ADDING_SOLVED_MSE = 0.01
"""Le et al. (2015): the adding problem counts as solved when the test MSE is below this."""

ADDING_BASELINE_MSE = 1.0 / 6.0
"""Test MSE of always predicting the expected sum 1.0: Var(U1 + U2) = 2/12."""


def _seed_arg(seed):
    if seed is None or isinstance(seed, (np.random.Generator, int, np.integer)):
        return seed
    raise TypeError(
        f"Received an invalid value for argument seed, expected an int, a numpy Generator "
        f"or None, got {type(seed).__name__}."
    )


def train_test_split_seeds(seed: int | None) -> tuple[np.random.Generator, np.random.Generator]:
    """Two independent generators (train, test) spawned from one seed.

    Args:
        seed: an int or None (fresh entropy).

    Returns:
        (train_rng, test_rng), statistically independent streams.

    Raises:
        TypeError: if ``seed`` is not an int or None.

    Example:
        >>> from rnnkit.datasets.tasks import train_test_split_seeds
        >>> train_rng, test_rng = train_test_split_seeds(0)
        >>> type(train_rng).__name__
        'Generator'
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(
            f"Received an invalid value for argument seed, expected an int or None, "
            f"got {type(seed).__name__}."
        )
    train, test = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(train), np.random.default_rng(test)


# ---- the adding problem ---------------------------------------------------------
def adding_problem(n_samples: int, steps: int, seed=None, dtype="float32"):
    """The adding problem: sum the two marked numbers of a long sequence.

    Each sequence has ``steps`` steps of two channels: channel 0 holds values drawn
    uniformly from [0, 1); channel 1 is a marker that is 1 at exactly two steps, one
    drawn uniformly from the first half ``[0, steps // 2)`` and one from the second
    half ``[steps // 2, steps)``, and 0 elsewhere. The target is the sum of the two
    marked values. Predicting the expected sum 1.0 gives an MSE of 1/6 ≈ 0.167
    (:data:`ADDING_BASELINE_MSE`); the task counts as solved below 0.01
    (:data:`ADDING_SOLVED_MSE`).

    Args:
        n_samples: number of sequences, a positive int.
        steps: sequence length T, an int >= 2.
        seed: int, numpy Generator or None.
        dtype: float dtype of the arrays (default float32).

    Returns:
        x of shape (n_samples, steps, 2) and y of shape (n_samples, 1).

    Raises:
        ValueError: for a non-positive ``n_samples`` or ``steps`` < 2.
        TypeError: for a seed that is not an int, Generator or None.

    Example:
        >>> x, y = adding_problem(4, 50, seed=0)
        >>> x.shape, y.shape
        ((4, 50, 2), (4, 1))
    """
    n_samples = positive_int(n_samples, "n_samples")
    steps = positive_int(steps, "steps")
    if steps < 2:
        raise ValueError(
            f"Received an invalid value for argument steps, expected an integer >= 2 (one "
            f"marker in each half), got {steps}."
        )
    rng = make_rng(_seed_arg(seed))
    # values, markers and their float64 stack, then the cast
    ensure_fits(
        n_samples * steps * (8 + 8 + 16 + 2 * np.dtype(dtype).itemsize),
        f"the adding problem's {n_samples} sequences of {steps} steps",
        "n_samples or steps",
    )
    values = rng.uniform(0.0, 1.0, (n_samples, steps))
    half = steps // 2
    first = rng.integers(0, half, n_samples)
    second = rng.integers(half, steps, n_samples)
    rows = np.arange(n_samples)
    markers = np.zeros((n_samples, steps))
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype(dtype)
    # the target from the stored (possibly rounded) values, so that y is exact for x
    y = (x[rows, first, 0].astype(np.float64) + x[rows, second, 0]).astype(dtype)[:, None]
    return x, y


def adding_problem_split(n_train: int, n_test: int, steps: int, seed: int | None = 0):
    """Training and test sets of the adding problem from independent streams.

    Args:
        n_train, n_test: sizes, positive ints.
        steps: sequence length T.
        seed: one int; the two sets use the generators of
            :func:`train_test_split_seeds`.

    Returns:
        ((x_train, y_train), (x_test, y_test)).

    Example:
        >>> from rnnkit.datasets.tasks import adding_problem_split
        >>> (x_train, y_train), (x_test, y_test) = adding_problem_split(4, 2, steps=10)
        >>> x_train.shape, y_train.shape, x_test.shape
        ((4, 10, 2), (4, 1), (2, 10, 2))
    """
    train_rng, test_rng = train_test_split_seeds(seed)
    return adding_problem(n_train, steps, train_rng), adding_problem(n_test, steps, test_rng)


# ---- copy memory ----------------------------------------------------------------
def copy_memory(
    n_samples: int,
    delay: int,
    n_symbols: int = 8,
    length: int = 10,
    seed=None,
    one_hot: bool = True,
):
    """The copy-memory task of Arjovsky et al. (2016).

    Vocabulary: 0 is the blank, 1..n_symbols the symbols, n_symbols + 1 the
    delimiter. The input has ``delay + 2 * length`` steps: ``length`` random symbols,
    ``delay - 1`` blanks, the delimiter, then ``length`` blanks. The target is blank
    for the first ``delay + length`` steps, then the ``length`` symbols in order. A
    memoryless model that outputs blanks and then a uniform guess has the
    cross-entropy :func:`copy_memory_baseline` per step.

    Args:
        n_samples: number of sequences, a positive int.
        delay: the paper's T, a positive int: ``delay - 1`` blanks separate the last
            symbol from the delimiter (at index ``length + delay - 1``).
        n_symbols: alphabet size (default 8, as the paper).
        length: how many symbols to copy (default 10).
        seed: int, numpy Generator or None.
        one_hot: return x one-hot, shape (n, steps, n_symbols + 2) float32 (default);
            else integer ids, shape (n, steps), for an Embedding.

    Returns:
        x as described, and integer targets y of shape (n_samples, delay + 2*length).

    Raises:
        ValueError: for non-positive sizes, or sizes whose arrays cannot fit in memory.

    Example:
        >>> from rnnkit.datasets.tasks import copy_memory
        >>> x, y = copy_memory(1, delay=5, n_symbols=4, length=3, seed=0, one_hot=False)
        >>> x
        array([[4, 3, 3, 0, 0, 0, 0, 5, 0, 0, 0]])
        >>> y
        array([[0, 0, 0, 0, 0, 0, 0, 0, 4, 3, 3]])
    """
    n_samples = positive_int(n_samples, "n_samples")
    delay = positive_int(delay, "delay")
    n_symbols = positive_int(n_symbols, "n_symbols")
    length = positive_int(length, "length")
    rng = make_rng(_seed_arg(seed))
    total = delay + 2 * length
    ensure_fits(
        n_samples * total * (16 + (4 * (n_symbols + 2) if one_hot else 0)),
        f"the copy task's {n_samples} sequences of {total} steps",
        "n_samples or delay",
    )
    symbols = rng.integers(1, n_symbols + 1, (n_samples, length))
    x = np.zeros((n_samples, total), np.int64)
    x[:, :length] = symbols
    x[:, length + delay - 1] = n_symbols + 1
    y = np.zeros((n_samples, total), np.int64)
    y[:, -length:] = symbols
    if one_hot:
        x = np.eye(n_symbols + 2, dtype=np.float32)[x]
    return x, y


def copy_memory_baseline(delay: int, n_symbols: int = 8, length: int = 10) -> float:
    """Cross-entropy per step of the memoryless strategy (blanks, then a uniform
    guess over the symbols): ``length * log(n_symbols) / (delay + 2 * length)``.

    Args:
        delay, n_symbols, length: as :func:`copy_memory` (positive ints; defaults 8
            and 10 for the last two).

    Returns:
        The cross-entropy per step, in nats.

    Raises:
        ValueError: an argument that is not a positive int.

    Example:
        >>> from rnnkit.datasets.tasks import copy_memory_baseline
        >>> round(copy_memory_baseline(100), 4)
        0.1733
    """
    delay = positive_int(delay, "delay")
    n_symbols = positive_int(n_symbols, "n_symbols")
    length = positive_int(length, "length")
    return length * math.log(n_symbols) / (delay + 2 * length)


def copy_memory_split(
    n_train: int,
    n_test: int,
    delay: int,
    n_symbols: int = 8,
    length: int = 10,
    seed: int | None = 0,
    one_hot: bool = True,
):
    """Training and test sets of the copy task, with no test sequence equal to a
    training one (test sequences that repeat a training pattern are redrawn).

    Returns:
        ((x_train, y_train), (x_test, y_test)).

    Args:
        n_train, n_test: sizes, positive ints.
        delay, n_symbols, length, one_hot: as :func:`copy_memory` (defaults 8, 10 and
            True for the last three).
        seed: one int, default 0; the two sets use the generators of
            :func:`train_test_split_seeds`.

    Raises:
        ValueError: as :func:`copy_memory`.

    Example:
        >>> from rnnkit.datasets.tasks import copy_memory_split
        >>> (x_train, y_train), (x_test, y_test) = copy_memory_split(4, 2, delay=5, length=3)
        >>> x_train.shape, x_test.shape
        ((4, 11, 10), (2, 11, 10))
    """
    train_rng, test_rng = train_test_split_seeds(seed)
    x_tr, y_tr = copy_memory(n_train, delay, n_symbols, length, train_rng, one_hot=False)
    seen = {row.tobytes() for row in x_tr[:, :length]}
    if positive_int(n_symbols, "n_symbols") ** positive_int(length, "length") <= len(seen):
        raise ValueError(
            f"Cannot draw test sequences disjoint from {n_train} training ones: with "
            f"n_symbols={n_symbols} and length={length} there are only "
            f"{n_symbols**length} distinct sequences, and training uses them all."
        )
    x_te, y_te = copy_memory(n_test, delay, n_symbols, length, test_rng, one_hot=False)
    for _ in range(100):
        dup = np.array([row.tobytes() in seen for row in x_te[:, :length]])
        if not dup.any():
            break
        x_new, y_new = copy_memory(int(dup.sum()), delay, n_symbols, length, test_rng, False)
        x_te[dup], y_te[dup] = x_new, y_new
    else:  # pragma: no cover - only for tiny alphabets where the sets must overlap
        raise ValueError(
            f"Cannot draw {n_test} test sequences disjoint from {n_train} training ones "
            f"with n_symbols={n_symbols} and length={length}."
        )
    if one_hot:
        eye = np.eye(n_symbols + 2, dtype=np.float32)
        x_tr, x_te = eye[x_tr], eye[x_te]
    return (x_tr, y_tr), (x_te, y_te)


# ---- Mackey-Glass ---------------------------------------------------------------
def mackey_glass(
    n_samples: int,
    tau: float = 17.0,
    beta: float = 0.2,
    gamma: float = 0.1,
    n: float = 10.0,
    x0: float = 1.2,
    dt: float = 0.1,
    sample_step: float = 1.0,
    discard: int = 0,
) -> np.ndarray:
    """The Mackey-Glass series dx/dt = β·x(t-τ) / (1 + x(t-τ)^n) - γ·x(t).

    Integration: classical fourth-order Runge-Kutta with step ``dt`` (τ must be a
    multiple of it), and a history buffer holding every integration point since
    t = -τ - dt. The history is constant, x(t) = ``x0`` for t <= 0. RK4 needs the
    delayed value at the half step, x(t + dt/2 - τ), which falls between stored
    points: it comes from the four-point (cubic) Lagrange interpolation
    (-x[j-1] + 9·x[j] + 9·x[j+1] - x[j+2]) / 16, fourth-order like RK4 itself (one-sided,
    from x[j..j+3], right after t = 0, where the constant history meets the solution
    at a kink). Halving ``dt`` from 0.1 changes the first 500 samples by less than 1e-7,
    and each further halving by about 8 times less (third order overall: the
    higher derivatives still jump at multiples of τ); tests/test_tasks.py checks the
    agreement between step sizes. The returned samples are
    every ``sample_step`` time units (default 1, i.e. every 10th point at dt = 0.1),
    starting at t = ``discard * sample_step``.

    Args:
        n_samples: how many samples to return, a positive int.
        tau: the delay τ (default 17, the chaotic regime used for ESN benchmarks).
        beta, gamma, n: the equation's constants (defaults 0.2, 0.1, 10).
        x0: the constant initial history (default 1.2).
        dt: integration step (default 0.1).
        sample_step: time between returned samples, a multiple of ``dt``.
        discard: samples dropped from the start (the transient from the constant
            history), default 0.

    Returns:
        float64 array of shape (n_samples,).

    Raises:
        ValueError: non-positive sizes or steps, ``tau`` / ``sample_step`` not a
            multiple of ``dt``, or more than :data:`MACKEY_GLASS_MAX_STEPS`
            integration steps (about a minute of pure-Python integration).

    Example:
        >>> mackey_glass(3).round(4)
        array([1.2   , 1.1176, 1.043 ])
    """
    n_samples = positive_int(n_samples, "n_samples")
    if isinstance(discard, bool) or not isinstance(discard, (int, np.integer)) or discard < 0:
        raise ValueError(
            f"Received an invalid value for argument discard, expected a non-negative "
            f"integer, got {discard!r}."
        )
    for name, value in (("dt", dt), ("sample_step", sample_step), ("tau", tau)):
        if not (isinstance(value, (int, float, np.floating, np.integer)) and value > 0):
            raise ValueError(
                f"Received an invalid value for argument {name}, expected a positive "
                f"number, got {value!r}."
            )
    lag = _ratio(tau, dt, "tau")
    stride = _ratio(sample_step, dt, "sample_step")
    if lag < 3:
        raise ValueError(
            f"Received an invalid value for argument dt, expected at most tau / 3 = "
            f"{tau / 3}, got {dt}."
        )
    beta, gamma, n, dt, x0 = float(beta), float(gamma), float(n), float(dt), float(x0)
    n_steps = (n_samples + discard - 1) * stride
    if n_steps + lag > MACKEY_GLASS_MAX_STEPS:
        raise ValueError(
            f"Received n_samples={n_samples}, discard={discard} with dt={dt} and "
            f"sample_step={sample_step}: {n_steps + lag:,} integration steps, more than the "
            f"{MACKEY_GLASS_MAX_STEPS:,} this generator runs; ask for fewer samples or a "
            f"larger dt."
        )
    # buf[k] = x(t_k) with t_k = (k - lag - 1)·dt: lag + 1 history points before t = 0
    buf = np.empty(n_steps + lag + 2)
    buf[: lag + 2] = x0
    half = 0.5 * dt

    def rate(x: float, delayed: float) -> float:
        return beta * delayed / (1.0 + delayed**n) - gamma * x

    for k in range(lag + 1, lag + 1 + n_steps):
        x = buf[k]
        j = k - lag  # x(t - τ) is buf[j]
        d0, d1 = buf[j], buf[j + 1]
        if j <= lag:  # both in the constant history
            d_mid = d0
        elif j == lag + 1:  # x has a kink at t = 0: interpolate from its right side only
            d_mid = (5.0 * d0 + 15.0 * d1 - 5.0 * buf[j + 2] + buf[j + 3]) / 16.0
        else:
            d_mid = (9.0 * (d0 + d1) - buf[j - 1] - buf[j + 2]) / 16.0
        k1 = rate(x, d0)
        k2 = rate(x + half * k1, d_mid)
        k3 = rate(x + half * k2, d_mid)
        k4 = rate(x + dt * k3, d1)
        buf[k + 1] = x + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    series = buf[lag + 1 :: stride]
    return series[discard : discard + n_samples].copy()


#: The most Runge-Kutta steps :func:`mackey_glass` integrates in one call.
MACKEY_GLASS_MAX_STEPS = 50_000_000


def _ratio(value: float, dt: float, argument: str) -> int:
    ratio = value / dt
    steps = int(round(ratio))
    if steps < 1 or abs(ratio - steps) > 1e-9 * max(1.0, ratio):
        raise ValueError(
            f"Received an invalid value for argument {argument}, expected a multiple of "
            f"dt = {dt}, got {value}."
        )
    return steps


def scale_to_range(series: np.ndarray, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """Affinely map ``series`` (its global min and max) onto [low, high].

    Raises:
        ValueError: for a constant series or ``low >= high``.

    Args:
        series: an array of numbers (read as float64).
        low: default -1.
        high: default 1.

    Returns:
        A new float64 array of ``series``' shape.

    Example:
        >>> import numpy as np
        >>> from rnnkit.datasets.tasks import scale_to_range
        >>> scale_to_range(np.array([0.0, 5.0, 10.0]))
        array([-1.,  0.,  1.])
    """
    series = np.asarray(series, dtype=np.float64)
    lo, hi = float(series.min()), float(series.max())
    if not low < high:
        raise ValueError(f"Expected low < high, got low={low}, high={high}.")
    if hi == lo:
        raise ValueError("Received a constant series; it cannot be scaled to a range.")
    return low + (series - lo) * (high - low) / (hi - lo)

"""Array namespace, dtype policy and random generators.

Every module takes its array functions from ``xp`` (NumPy today) and its default
float type from :func:`floatx`, so that a later CuPy backend or a float64 run changes
one place.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import warnings
from collections import defaultdict

import numpy as np

xp = np

_FLOATX = "float32"
_VALID_FLOATX = ("float16", "float32", "float64")
_name_counters: dict[str, itertools.count] = defaultdict(itertools.count)


def floatx() -> str:
    """The default float dtype for weights and activations.

    Returns:
        Its name: ``"float32"`` unless :func:`set_floatx` chose another.

    Example:
        >>> from rnnkit import backend
        >>> backend.floatx()
        'float32'
    """
    return _FLOATX


def set_floatx(dtype: str) -> None:
    """Set the default float dtype of the weights and activations built from now on.

    Args:
        dtype: ``"float16"``, ``"float32"`` (the starting value) or ``"float64"``, as
            a name or anything ``numpy.dtype`` reads (``np.float64``).

    Raises:
        ValueError: if ``dtype`` is not one of those float types.

    Example:
        >>> import numpy as np
        >>> from rnnkit import backend
        >>> backend.set_floatx(np.float64)
        >>> backend.floatx()
        'float64'
        >>> backend.set_floatx("float32")
    """
    global _FLOATX
    name = np.dtype(dtype).name if _is_dtype_like(dtype) else str(dtype)
    if name not in _VALID_FLOATX:
        raise ValueError(
            f"Received an invalid value for argument dtype, expected one of "
            f"{_VALID_FLOATX}, got {dtype!r}."
        )
    _FLOATX = name


def _is_dtype_like(value) -> bool:
    try:
        np.dtype(value)
    except TypeError:
        return False
    return True


def resolve_dtype(dtype) -> np.dtype:
    """``dtype`` as a NumPy float dtype, or the default when ``None``.

    Args:
        dtype: a float dtype (name or NumPy type) of ``"float16"``, ``"float32"`` or
            ``"float64"``, or None for :func:`floatx`.

    Returns:
        The ``numpy.dtype``.

    Raises:
        TypeError: ``dtype`` is not a dtype at all.
        ValueError: a dtype that is not one of those floats.

    Example:
        >>> from rnnkit import backend
        >>> backend.resolve_dtype(None), backend.resolve_dtype("float64")
        (dtype('float32'), dtype('float64'))
    """
    if dtype is None:
        return np.dtype(_FLOATX)
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"Received an invalid value for argument dtype, expected a float dtype "
            f"such as 'float32', got {dtype!r}."
        ) from None
    if resolved.name not in _VALID_FLOATX:
        raise ValueError(
            f"Received an invalid value for argument dtype, expected one of "
            f"{_VALID_FLOATX}, got {dtype!r}."
        )
    return resolved


def make_rng(seed=None) -> np.random.Generator:
    """A NumPy Generator from an int seed, a Generator (returned as is) or None.

    Args:
        seed: an int, a ``numpy.random.Generator`` or None (default: fresh entropy,
            not rnnkit's global generator).

    Returns:
        The ``numpy.random.Generator``.

    Raises:
        TypeError: ``seed`` is of another type.

    Example:
        >>> from rnnkit import backend
        >>> int(backend.make_rng(0).integers(100)) == int(backend.make_rng(0).integers(100))
        True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"Received an invalid value for argument seed, expected an int, a "
            f"numpy Generator or None, got {type(seed).__name__}."
        )
    return np.random.default_rng(seed)


_global_rng = np.random.default_rng()


def set_random_seed(seed: int) -> None:
    """Seed rnnkit's global generator: weights, shuffling and dropout become repeatable.

    Layers draw their weights from a generator derived from this one when they are
    built, so ``set_random_seed(0)`` before building a model makes the whole run
    reproducible (the Keras ``keras.utils.set_random_seed`` habit). It also restarts
    the automatic layer names (``lstm``, ``lstm_1``, ...).

    Args:
        seed: the seed, anything ``int()`` takes.

    Example:
        >>> import rnnkit
        >>> from rnnkit import layers
        >>> rnnkit.set_random_seed(0)
        >>> a = layers.Dense(2)
        >>> a.build((None, 3))
        >>> rnnkit.set_random_seed(0)
        >>> b = layers.Dense(2)
        >>> b.build((None, 3))
        >>> bool((a.get_weights()[0] == b.get_weights()[0]).all())
        True
    """
    global _global_rng
    _global_rng = make_rng(int(seed))
    _name_counters.clear()


def global_rng() -> np.random.Generator:
    """rnnkit's global random generator (see :func:`set_random_seed`).

    Returns:
        The ``numpy.random.Generator`` itself (drawing from it advances it).

    Example:
        >>> from rnnkit import backend
        >>> backend.set_random_seed(1)
        >>> first = backend.global_rng().random()
        >>> backend.set_random_seed(1)
        >>> backend.global_rng().random() == first
        True
    """
    return _global_rng


def child_rng() -> np.random.Generator:
    """A new generator seeded from the global one (one per layer or model).

    Returns:
        A ``numpy.random.Generator``; each call advances the global generator.

    Example:
        >>> from rnnkit import backend
        >>> backend.set_random_seed(2)
        >>> first = backend.child_rng().random()
        >>> backend.set_random_seed(2)
        >>> backend.child_rng().random() == first
        True
    """
    return np.random.default_rng(_global_rng.integers(0, 2**63 - 1))


def unique_name(prefix: str) -> str:
    """Keras-style layer names: ``lstm``, ``lstm_1``, ``lstm_2`` …

    Args:
        prefix: the name's stem.

    Returns:
        ``prefix`` the first time in this process (or since
        :func:`set_random_seed`), then ``prefix_1``, ``prefix_2``, ...

    Example:
        >>> from rnnkit import backend
        >>> backend.unique_name("example_stem"), backend.unique_name("example_stem")
        ('example_stem', 'example_stem_1')
    """
    n = next(_name_counters[prefix])
    return prefix if n == 0 else f"{prefix}_{n}"


# ---- the accelerator: compiled kernels or the NumPy reference -----------------------
_ACCELERATORS = ("auto", "numba", "numpy")
# the environment variable gives the starting value; set_accelerator() changes it
_accelerator = os.environ.get("RNNKIT_ACCELERATOR", "auto")
_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def _check_accelerator(name, source: str) -> str:
    value = name.strip().lower() if isinstance(name, str) else name
    if value not in _ACCELERATORS:
        raise ValueError(
            f"Received an invalid value for {source}, expected one of {_ACCELERATORS}, "
            f"got {name!r}."
        )
    return value


def _numba_available() -> bool:
    from . import kernels

    return kernels.available()


def set_accelerator(name: str) -> None:
    """Choose what runs a recurrent layer's time loop.

    ``"numba"`` (and ``"auto"``, the default): the compiled kernels of
    :mod:`rnnkit.kernels`, one call per layer and pass, for the configurations they
    cover (see ``docs/engine.md``); other configurations run the reference. ``"numpy"``:
    the reference, each cell's NumPy step in the layer's Python loop. numba is a core
    dependency; where it is missing or fails to import, rnnkit says so once (a
    ``RuntimeWarning``) and runs the reference. The starting value is the environment
    variable ``RNNKIT_ACCELERATOR``.

    Args:
        name: ``"auto"``, ``"numba"`` or ``"numpy"`` (any case).

    Raises:
        ValueError: for another name, naming it and the choices.

    Example:
        >>> import rnnkit
        >>> rnnkit.backend.set_accelerator("numpy")
        >>> rnnkit.backend.accelerator()
        'numpy'
        >>> rnnkit.backend.set_accelerator("auto")
    """
    value = _check_accelerator(name, "argument name")
    global _accelerator
    _accelerator = value
    accelerator()  # warns now (once) when numba was asked for and is missing


def accelerator() -> str:
    """The accelerator in effect, ``"numba"`` or ``"numpy"`` (see :func:`set_accelerator`).

    ``"auto"`` and ``"numba"`` give ``"numba"`` where numba is usable, else
    ``"numpy"`` with a ``RuntimeWarning`` the first time.

    Returns:
        ``"numba"`` or ``"numpy"``.

    Raises:
        ValueError: when ``RNNKIT_ACCELERATOR`` holds an unknown name (and
            :func:`set_accelerator` was not called).

    Example:
        >>> from rnnkit import backend
        >>> backend.accelerator() in ("numba", "numpy")
        True
    """
    requested = _check_accelerator(_accelerator, "environment variable RNNKIT_ACCELERATOR")
    if requested == "numpy":
        return "numpy"
    if _numba_available():
        return "numba"
    from . import kernels

    _warn_once(
        "no-numba",
        f"rnnkit: numba is not usable here ({kernels.unavailable_reason()}); the "
        f"recurrent layers run the NumPy reference, which is several times slower. "
        f"Install numba, or set RNNKIT_ACCELERATOR=numpy to silence this.",
    )
    return "numpy"


# ---- threads ---------------------------------------------------------------------------
_num_threads: int | None = None  # None: not chosen yet (RNNKIT_NUM_THREADS, else all cores)
_applied_threads: int | None = None
_threads_chosen = False  # set_num_threads or RNNKIT_NUM_THREADS gave the count


def _check_threads(value, source: str) -> int:
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit() and int(text) > 0:
            return int(text)
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0:
        return int(value)
    raise ValueError(
        f"Received an invalid value for {source}, expected a positive integer, got {value!r}."
    )


def _all_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def set_num_threads(n: int) -> None:
    """Set how many threads rnnkit uses: the compiled time loop (numba's thread pool)
    and the large matrix products outside it (BLAS, through threadpoolctl when it is
    installed). The default is the environment variable ``RNNKIT_NUM_THREADS``, else
    every core this process may run on, as NumPy's BLAS and PyTorch do; until a count
    is chosen (here or by that variable) BLAS keeps its own default and environment
    variables.

    A layer's compiled pass on several threads runs BLAS on one thread and splits its
    large products over rnnkit's own threads instead (:func:`split_products`), so that
    no BLAS worker spins on a core the loop, or what runs after the pass, needs.
    Results do not depend on the thread count inside the compiled loop (threads split
    batch rows and gate columns, never a sum); BLAS may sum its products in another
    order at another count (``docs/engine.md``).

    Args:
        n: a positive integer.

    Raises:
        ValueError: when ``n`` is not a positive integer.

    Example:
        >>> import rnnkit
        >>> rnnkit.set_num_threads(1)
        >>> rnnkit.backend.get_num_threads()
        1
    """
    global _num_threads, _threads_chosen, _applied_threads, _blas_controller
    _num_threads = _check_threads(n, "argument n")
    _threads_chosen = True
    # look for BLAS pools again: a library loaded since the last look (SciPy's or
    # another OpenBLAS) would otherwise keep its own default
    _blas_controller, _applied_threads = None, None
    apply_num_threads()


def get_num_threads() -> int:
    """The thread count in effect (see :func:`set_num_threads`).

    Returns:
        The count set by :func:`set_num_threads`, else ``RNNKIT_NUM_THREADS``, else
        the number of cores this process may run on.

    Raises:
        ValueError: when ``RNNKIT_NUM_THREADS`` is not a positive integer.

    Example:
        >>> from rnnkit import backend
        >>> backend.get_num_threads() >= 1
        True
    """
    global _num_threads, _threads_chosen
    if _num_threads is None:
        env = os.environ.get("RNNKIT_NUM_THREADS")
        if env is None or env.strip() == "":
            _num_threads = _all_cores()
        else:
            _num_threads = _check_threads(env, "environment variable RNNKIT_NUM_THREADS")
            _threads_chosen = True
    return _num_threads


_blas_controller = None


def can_limit_blas() -> bool:
    """Whether rnnkit can set BLAS's thread count (threadpoolctl is installed), without
    making :func:`blas_controller`'s controller yet (it lists the BLAS libraries loaded
    when it is made).

    Returns:
        True where threadpoolctl can be imported.

    Example:
        >>> from rnnkit import backend
        >>> isinstance(backend.can_limit_blas(), bool)
        True
    """
    global _can_limit_blas
    if _can_limit_blas is None:
        import importlib.util

        _can_limit_blas = importlib.util.find_spec("threadpoolctl") is not None
    return _can_limit_blas


_can_limit_blas: bool | None = None


def blas_controller():
    """threadpoolctl's controller of the BLAS pools, or None without threadpoolctl.

    Returns:
        A ``threadpoolctl.ThreadpoolController`` restricted to the BLAS libraries
        (made once, then reused), or None.

    Example:
        >>> from rnnkit import backend
        >>> controller = backend.blas_controller()
        >>> controller is None or hasattr(controller, "limit")
        True
    """
    global _blas_controller
    if _blas_controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _blas_controller = False
        else:
            _blas_controller = ThreadpoolController().select(user_api="blas")
    return _blas_controller or None


def apply_num_threads(n: int | None = None) -> int:
    """Give BLAS ``n`` threads (default :func:`get_num_threads`), once per change: the
    layers call it before a pass. A count nobody chose (no ``n``, no
    :func:`set_num_threads`, no ``RNNKIT_NUM_THREADS``) leaves BLAS as it started, on
    its own default or environment variables (``OPENBLAS_NUM_THREADS``, ...); so does a
    process without threadpoolctl.

    Args:
        n: the thread count (default None: :func:`get_num_threads`); not checked
            here, give a positive integer.

    Returns:
        ``n`` (or the count in effect when ``n`` is None).

    Example:
        >>> from rnnkit import backend
        >>> backend.set_num_threads(1)
        >>> backend.apply_num_threads()
        1
    """
    global _applied_threads
    if n is None:
        n = get_num_threads()
        if not _threads_chosen:
            return n
    if n != _applied_threads:
        controller = blas_controller()
        if controller is not None:
            controller.limit(limits=n)
        _applied_threads = n
    return n


# ---- the products of a pass whose compiled loop runs on several threads ----------------
# OpenBLAS's workers spin for a while (about 0.1 s) after each multi-threaded product,
# each on a core: a compiled loop split over numba's threads right after one shares its
# cores with them, and every step waits for its slowest thread (an LSTM at the lm shape,
# 2 threads: inference 80-98 ms against 48 ms with no worker left spinning). So in such a
# pass BLAS runs on one thread, and the large products run on numba's threads, the
# loop's own pool: the register tile split by rows (``kernels.gemm``) or by panels of
# columns (``kernels.gemm_columns``); the largest, and all where numba's pool has one
# thread, split by rows over rnnkit's product threads, which sleep between products:
# the same thread count, one pool at a time.
SPLIT_MIN_MACS = 1 << 22  # (a smaller product is not worth the hand-over, ~20-50 µs)
# what ``kernels.gemm`` takes: an inner dimension up to GEMM_MAX_K and an output up to
# GEMM_MAX_OUT_BYTES. The tile streams the packed operand once per four rows, where
# BLAS blocks both operands for the caches: on 2 threads, with no loop before it, it is
# 8-10 % slower than the rows split over the product threads (a (6400, 512) x (512,
# 2048) product 78 against 72 ms); beyond them ``kernels.gemm_columns`` takes the
# product, packing b in blocks (bench/NOTES.md sections 18 and 20)
GEMM_MAX_K = 1024
GEMM_MAX_OUT_BYTES = 16 << 20
# what ``kernels.gemm_columns`` takes, the products ``kernels.gemm`` does not (the
# weight gradients' xᵀ and hᵀ read in place; a long inner dimension; a large output):
# up to 2^31 multiply-adds. In a pass on 2 threads it makes training steps faster at
# the small, long and lm shapes (GRU lm 74.97 → 71.33 ms) and slower at the large one,
# where BLAS's cache blocking on the product threads leads (LSTM 486.9 against 527.6
# ms with every product on numba's threads: bench/thread_handover.py --policy
# --against rows; bench/NOTES.md section 20)
GEMM_COLUMNS_MAX_MACS = 1 << 31
# the smallest product worth splitting over the product threads. numba's OpenMP workers
# spin on their cores for a few ms after each parallel loop, and a product thread
# started then runs at half speed: on 2 threads right after a loop, (128, 1600) x
# (1600, 512) took 2.48 ms split against 2.28 ms on one thread, (650, 700) x (700,
# 2600) 14.78 against 25.41 ms (bench/thread_handover.py --products; bench/NOTES.md
# section 19)
SPLIT_THREADS_MIN_MACS = 1 << 27
_split = threading.local()
_product_pool = None  # (ThreadPoolExecutor, its worker count), made on first use


@contextlib.contextmanager
def split_products(threads: int):
    """Within the block (one layer's pass, in this thread), :func:`matmul` splits large
    products over ``threads`` threads, and BLAS runs on one; ``threads`` of 1 changes
    nothing.

    Args:
        threads: how many threads share a large product (the caller's among them).

    Example:
        >>> from rnnkit import backend
        >>> a = np.ones((4096, 64))
        >>> with backend.split_products(2):
        ...     out = backend.matmul(a, a.T[:, :1024], np.empty((4096, 1024)))
        >>> float(out[4095, 1023])
        64.0
    """
    previous = getattr(_split, "threads", 1)
    if threads > 1:
        apply_num_threads(1)
    _split.threads = threads
    try:
        yield
    finally:
        _split.threads = previous


def _pool(workers: int):
    global _product_pool
    if _product_pool is None or _product_pool[1] < workers:
        from concurrent.futures import ThreadPoolExecutor

        if _product_pool is not None:  # a larger pool replaces it; queued work still runs
            _product_pool[0].shutdown(wait=False)
        pool = ThreadPoolExecutor(workers, thread_name_prefix="rnnkit-product")
        _product_pool = (pool, workers)
    return _product_pool[0]


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``np.matmul(a, b, out=out)`` for 2-D arrays; inside :func:`split_products`, a
    large product split over that many threads: numba's with the numba accelerator
    (``kernels.gemm`` by rows where ``a`` lies in rows and the product is of moderate
    size, else ``kernels.gemm_columns`` by panels of columns, as for the weight
    gradients' xᵀ), else by rows over the caller's and rnnkit's product threads, each
    on one BLAS thread.

    Args:
        a: (M, K); b: (K, N); out: (M, N), written.

    Returns:
        ``out``.

    Example:
        >>> from rnnkit import backend
        >>> a, b = np.ones((4, 3)), np.ones((3, 2))
        >>> backend.matmul(a, b, np.empty((4, 2)))[0]
        array([3., 3.])
    """
    threads = getattr(_split, "threads", 1)
    m, k = a.shape
    macs = m * k * b.shape[1]
    if threads <= 1 or m < 2 * threads or macs < SPLIT_MIN_MACS:
        return np.matmul(a, b, out=out)
    from . import kernels

    if accelerator() == "numba" and out.dtype in kernels.DTYPES and kernels.pool_threads(2) > 1:
        # on numba's threads, which the pass's loop runs on: one pool, never two
        moderate = k <= GEMM_MAX_K and out.nbytes <= GEMM_MAX_OUT_BYTES
        if moderate and kernels.gemm(a, b, out, threads):
            return out
        if macs <= GEMM_COLUMNS_MAX_MACS and kernels.gemm_columns(a, b, out, threads):
            return out
    if macs < SPLIT_THREADS_MIN_MACS:
        return np.matmul(a, b, out=out)  # (on one BLAS thread)
    bounds = [m * i // threads for i in range(threads + 1)]
    pool = _pool(threads - 1)
    futures = [
        pool.submit(np.matmul, a[r0:r1], b, out=out[r0:r1])
        for r0, r1 in zip(bounds[1:-1], bounds[2:])
    ]
    try:
        np.matmul(a[: bounds[1]], b, out=out[: bounds[1]])
    finally:
        for f in futures:
            f.result()
    return out


def numba_threads(n: int) -> int:
    """The count numba's pool can give for ``n`` (at most the pool's size, fixed when
    numba starts).

    Args:
        n: the thread count asked for.

    Returns:
        The count numba can use, at most ``n``.

    Example:
        >>> from rnnkit import backend
        >>> backend.numba_threads(1)
        1
    """
    from . import kernels

    return kernels.pool_threads(n)


_kernels_ran: dict[str, str] = {}


def record_kernel(layer: str, ran: str) -> None:
    """Note which kernel ran a layer's pass (``kernel_info()["ran"]``).

    Args:
        layer: the ``"<cell>.<pass>"`` key.
        ran: what ran it (``"numba-generic"``, or ``"numpy"`` with the reason).

    Example:
        >>> from rnnkit import backend
        >>> backend.record_kernel("example.forward", "numpy (an example)")
        >>> backend.kernel_info()["ran"].get("example.forward")
        'numpy (an example)'
    """
    _kernels_ran[layer] = ran


def kernel_info() -> dict:
    """What runs the recurrent layers here: a dict with ``accelerator`` (``"numba"`` or
    ``"numpy"``), ``kernel`` (the per-step product the compiled loop uses on this CPU:
    ``"generic"``, loops LLVM vectorises for the host, or ``"numpy"``), ``threads``
    (:func:`get_num_threads`), ``numba`` (its version or None), ``cpu`` (the LLVM name
    of the host CPU or None), ``threading_layer`` (numba's, once a parallel loop ran),
    and ``ran``: for each ``"<cell>.<pass>"`` that ran in this process, what ran it
    last (``"numba-generic"``, or ``"numpy"`` with the reason the compiled loop did
    not take it).

    Returns:
        That dict.

    Example:
        >>> import rnnkit
        >>> tuple(sorted(rnnkit.backend.kernel_info()))[:3]
        ('accelerator', 'cpu', 'kernel')
    """
    from . import kernels

    acc = accelerator()
    return {
        "accelerator": acc,
        "kernel": kernels.kernel_name() if acc == "numba" else "numpy",
        "threads": get_num_threads(),
        "numba": kernels.numba_version(),
        "cpu": kernels.host_cpu(),
        "threading_layer": kernels.threading_layer(),
        "ran": dict(_kernels_ran),
    }


# ---- memory alignment of the arrays that BLAS multiplies by ---------------------------
#: Byte alignment of weight matrices and the per-pass copies made of them (a cache line,
#: the width of an AVX-512 register). NumPy's allocator only guarantees 16 bytes, and
#: arrays of 128 KiB and more (glibc's mmap'd blocks) start 16 bytes past a page: one
#: thread of OpenBLAS multiplies by a weight matrix 64-byte aligned 7-27 % faster than by
#: one 16 bytes off at the per-step shapes of the recurrent layers (bench/NOTES.md row 39).
ALIGNMENT = 64


def aligned_empty(shape, dtype, alignment: int = ALIGNMENT) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on an ``alignment``-byte
    boundary (a view into a slightly larger byte buffer).

    Args:
        shape: an int or a sequence of ints.
        dtype: anything ``numpy.dtype`` reads.
        alignment: the boundary in bytes (default :data:`ALIGNMENT`, 64).

    Returns:
        The array, its values undefined.

    Example:
        >>> from rnnkit import backend
        >>> a = backend.aligned_empty((3, 5), "float32")
        >>> a.shape, a.ctypes.data % 64, a.flags.c_contiguous
        ((3, 5), 0, True)
    """
    dtype = np.dtype(dtype)
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(n) for n in shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buf = np.empty(nbytes + alignment, np.uint8)
    start = -buf.ctypes.data % alignment
    return buf[start : start + nbytes].view(dtype).reshape(shape)


def aligned_copy(a: np.ndarray, alignment: int = ALIGNMENT) -> np.ndarray:
    """A C-contiguous copy of ``a`` on an ``alignment``-byte boundary.

    Args:
        a: the array to copy.
        alignment: the boundary in bytes (default :data:`ALIGNMENT`, 64).

    Returns:
        The copy, with ``a``'s shape, dtype and values.

    Example:
        >>> import numpy as np
        >>> from rnnkit import backend
        >>> b = backend.aligned_copy(np.arange(6.0).reshape(2, 3).T)
        >>> b.ctypes.data % 64, b.flags.c_contiguous, b.shape
        (0, True, (3, 2))
    """
    out = aligned_empty(a.shape, a.dtype, alignment)
    np.copyto(out, a)
    return out

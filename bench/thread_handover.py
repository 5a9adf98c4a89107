"""What one library's threads leave to the next call, at several threads in one process.

Two measurements, each a recurrent layer at ``bench/run.py``'s shapes with both sides on
``--threads`` threads, calls interleaved as the harness interleaves them:

* ``--policy``: rnnkit's thread policy against PyTorch, for each of

  - ``before``: the policy before (bench/NOTES.md section 19): a pass whose loop ran on
    one thread gave BLAS all the threads; steps below 2^22 multiply-adds on one thread;
    items in whole rounds of the threads, at least two per thread; every product of
    2^22 multiply-adds or more split over the product threads;
  - ``now``: what rnnkit does (every compiled pass on several threads keeps BLAS on one
    thread; ``kernels.PARALLEL_MIN_MACS`` and the rest as they are);

  or, with ``--against rows``, ``rows``: the products ``kernels.gemm`` does not take
  split by rows over the product threads (before ``kernels.gemm_columns``) against
  ``now``;
  medians (ms) of rnnkit / PyTorch for inference and a training step, the policies
  alternated in rounds. A PyTorch time that moves with rnnkit's policy is what rnnkit's
  threads left on the cores.
* ``--split``: rnnkit alone at a shape, ``kernels.work_split`` replaced by each of
  ``--splits`` (threads:units per item), medians (ms) of inference and a training step.
* ``--products``: a product (M, K) x (K, N) split by rows over rnnkit's product
  threads (``backend.matmul``'s fallback) against one BLAS thread, each right after a
  parallel loop on numba's threads and after a pause: what the loop's spinning workers
  leave a product thread (``backend.SPLIT_THREADS_MIN_MACS``).
* ``--transposed``: the weight gradients' product xᵀ·dz, x (K, M) and dz (K, N), on
  ``--threads`` threads right after a parallel loop, three ways: the tile on numba's
  threads by panels of columns (``kernels.gemm_columns``, what ``backend.matmul``
  runs), split by rows over rnnkit's product threads (what it ran before), and on one
  BLAS thread; medians (ms) and the largest relative difference from float64's
  product.
* ``--ort``: onnxruntime's session with its default spinning and with
  ``session.force_spinning_stop``: rnnkit's inference beside it, and onnxruntime's own
  calls back to back (no other library between them).

    PYTHONPATH=src python bench/thread_handover.py --policy --shapes seeds small long
    PYTHONPATH=src python bench/thread_handover.py --split --cells LSTM --shapes long \
        --splits 1:128 2:72 2:128
    PYTHONPATH=src python bench/thread_handover.py --products
    PYTHONPATH=src python bench/thread_handover.py --transposed
    PYTHONPATH=src python bench/thread_handover.py --ort --cells LSTM GRU --shapes lm large
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))


def _work_split_before(batch: int, units: int, gates: int, threads: int) -> tuple[int, int]:
    """``kernels.work_split`` as it was before section 19 (for the comparison only)."""
    from rnnkit import kernels

    threads = kernels.pool_threads(threads)
    if threads > 1 and batch * units * units * gates < 1 << 22:
        threads = 1
    if threads == 1:
        return 1, units
    blocks = -(-batch // 4)
    per_block = max(1, -(-2 * threads // blocks))
    while (blocks * per_block) % threads and per_block < threads:
        per_block += 1
    if per_block == 1:
        return threads, units
    chunk = -(-units // per_block)
    return threads, min(units, -(-chunk // 24) * 24)


@contextlib.contextmanager
def _before():
    """rnnkit with the thread policy before section 19, restored after."""
    from rnnkit import backend, kernels
    from rnnkit.layers import recurrent

    saved = (
        recurrent.RNN._threads_for_pass,
        recurrent.RNN.forward,
        kernels.work_split,
        backend.SPLIT_THREADS_MIN_MACS,
    )

    @contextlib.contextmanager
    def threads_for_pass(self):
        n = self._threads = self._apply_threads()
        loop = 1
        if n > 1 and recurrent._route(self.cell, self.dtype) is None:
            loop = kernels.work_split(self._batch_hint, self.units, self.cell.n_gates, n)[0]
        if loop <= 1:
            yield
            return
        with backend.split_products(loop):
            yield

    forward = recurrent.RNN.forward

    def forward_with_batch(self, x, *args, **kwargs):
        self._batch_hint = len(x)  # (the backward pass that follows has the same batch)
        return forward(self, x, *args, **kwargs)

    recurrent.RNN._threads_for_pass = threads_for_pass
    recurrent.RNN.forward = forward_with_batch
    kernels.work_split = _work_split_before
    backend.SPLIT_THREADS_MIN_MACS = 0
    try:
        yield
    finally:
        (
            recurrent.RNN._threads_for_pass,
            recurrent.RNN.forward,
            kernels.work_split,
            backend.SPLIT_THREADS_MIN_MACS,
        ) = saved


@contextlib.contextmanager
def _rows():
    """rnnkit with the products that ``kernels.gemm`` does not take (the weight
    gradients; a long inner dimension, a large output) split by rows over its product
    threads, as before ``kernels.gemm_columns`` (bench/NOTES.md section 20)."""
    from rnnkit import backend, kernels

    saved = kernels.gemm_columns, backend.SPLIT_THREADS_MIN_MACS
    kernels.gemm_columns = lambda *args: False
    backend.SPLIT_THREADS_MIN_MACS = 1 << 27  # (its value then)
    try:
        yield
    finally:
        kernels.gemm_columns, backend.SPLIT_THREADS_MIN_MACS = saved


POLICIES = {"before": _before, "rows": _rows}


def policy(cells, shapes, threads: int, rounds: int, against: str = "before") -> None:
    import run

    for kind in cells:
        for shape in shapes:
            pair = run.make_pair(kind, run.SHAPES[shape], threads=threads)
            for what in ("infer", "train"):
                fn_r, fn_t = pair[what]
                got: dict[str, list] = {against: [], "now": []}
                reps = max(4, run.REPS[shape] // 2)
                for _ in range(rounds):
                    for name in got:
                        old = POLICIES[against]
                        with old() if name == against else contextlib.nullcontext():
                            got[name].append(run.interleaved(fn_r, fn_t, reps))
                cells_out = []
                for name, pairs in got.items():
                    r = statistics.median(p[0] for p in pairs) * 1e3
                    t = statistics.median(p[1] for p in pairs) * 1e3
                    cells_out.append(f"{name} {r:.2f} / {t:.2f} ms ({t / r:.2f})")
                print(f"{kind:>9} {shape:>6} {what:>5}: " + " | ".join(cells_out), flush=True)


def _median_ms(fn, reps: int, before=None) -> float:
    times = []
    for _ in range(reps):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def split(cells, shapes, threads: int, splits, reps: int = 9) -> None:
    import run

    from rnnkit import kernels

    real = kernels.work_split
    for kind in cells:
        for shape in shapes:
            pair = run.make_pair(kind, run.SHAPES[shape], threads=threads)
            out = []
            for n, chunk in splits:
                kernels.work_split = lambda *args, n=n, chunk=chunk: (n, chunk)
                try:
                    fn_i, fn_t = pair["infer"][0], pair["train"][0]
                    fn_i(), fn_t()
                    out.append(
                        f"{n}:{chunk} {_median_ms(fn_i, reps):.2f} / {_median_ms(fn_t, reps):.2f}"
                    )
                finally:
                    kernels.work_split = real
            print(f"{kind:>9} {shape:>6} (inference / training ms): " + " | ".join(out), flush=True)


PRODUCTS = ((64, 1600, 512), (128, 1600, 512), (128, 1600, 2048), (650, 700, 2600))


def _after_a_loop(threads: int):
    """A parallel loop of about a millisecond on numba's threads, as a function."""
    import numba
    import numpy as np

    @numba.njit(parallel=True)
    def loop(x):
        for i in numba.prange(x.shape[0]):
            s = 0.0
            for _ in range(200_000):
                s += x[i] * 1e-9
            x[i] = s

    x = np.ones(threads)
    return lambda: loop(x)


def products(threads: int, reps: int = 15) -> None:
    import numpy as np

    from rnnkit import backend

    loop = _after_a_loop(threads)
    saved = backend.SPLIT_THREADS_MIN_MACS
    backend.SPLIT_THREADS_MIN_MACS = 0
    try:
        for m, k, n in PRODUCTS:
            rng = np.random.default_rng(0)
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((k, n), dtype=np.float32)
            out = np.empty((m, n), np.float32)

            def split(a=a, b=b, out=out):
                with backend.split_products(threads):
                    backend.matmul(a, b, out)

            def one(a=a, b=b, out=out):
                with backend.split_products(threads):  # (BLAS on one thread)
                    np.matmul(a, b, out=out)

            cells_out = []
            for name, fn in (("split", split), ("one thread", one)):
                fn()
                after_loop = _median_ms(fn, reps, before=loop)
                after_pause = _median_ms(fn, reps, before=lambda: time.sleep(0.05))
                cells_out.append(
                    f"{name} {after_loop:.2f} ms after a loop, {after_pause:.2f} after a pause"
                )
            print(f"({m}, {k}) x ({k}, {n}): " + " | ".join(cells_out), flush=True)
    finally:
        backend.SPLIT_THREADS_MIN_MACS = saved


# (K, M, N) of xᵀ·dz: the weight gradients at bench/run.py's shapes (seeds dW; small dU
# and dW; LSTM lm dW; large dW; long dW) and the LSTM small dW of a 4-layer stack
TRANSPOSED = (
    (2450, 50, 200),
    (1600, 64, 512),
    (1600, 128, 512),
    (700, 650, 2600),
    (6400, 512, 2048),
    (8000, 128, 512),
)


def transposed(threads: int, reps: int = 15) -> None:
    import numpy as np

    from rnnkit import backend, kernels

    backend.set_accelerator("numba")
    loop = _after_a_loop(threads)
    saved = backend.SPLIT_THREADS_MIN_MACS, kernels.gemm_columns
    backend.SPLIT_THREADS_MIN_MACS = 0
    try:
        for k, m, n in TRANSPOSED:
            rng = np.random.default_rng(0)
            x = rng.standard_normal((k, m), dtype=np.float32)
            dz = rng.standard_normal((k, n), dtype=np.float32)
            want = x.T.astype(np.float64) @ dz.astype(np.float64)
            out = np.empty((m, n), np.float32)

            def tile(x=x, dz=dz, out=out):
                kernels.gemm_columns = saved[1]
                with backend.split_products(threads):
                    backend.matmul(x.T, dz, out)

            def rows(x=x, dz=dz, out=out):
                kernels.gemm_columns = lambda *args: False
                with backend.split_products(threads):
                    backend.matmul(x.T, dz, out)

            def one(x=x, dz=dz, out=out):
                with backend.split_products(threads):  # (BLAS on one thread)
                    np.matmul(x.T, dz, out=out)

            cells_out = []
            for name, fn in (("tile", tile), ("rows split", rows), ("one thread", one)):
                fn()
                err = float(np.max(np.abs(out - want)) / np.max(np.abs(want)))
                cells_out.append(f"{name} {_median_ms(fn, reps, before=loop):.2f} ms ({err:.1e})")
            print(f"({m}, {k}) x ({k}, {n}): " + " | ".join(cells_out), flush=True)
    finally:
        backend.SPLIT_THREADS_MIN_MACS, kernels.gemm_columns = saved


def ort(cells, shapes, threads: int) -> None:
    import run

    for kind in cells:
        for shape in shapes:
            out = []
            for stop in ("0", "1"):
                run.ORT_FORCE_SPINNING_STOP = stop
                try:
                    pair = run.make_pair(kind, run.SHAPES[shape], threads=threads, with_onnx=True)
                finally:
                    run.ORT_FORCE_SPINNING_STOP = "1"
                fn_r, fn_o = pair["infer_ort"]
                reps = run.REPS[shape]
                fn_r(), fn_o()
                beside = run.interleaved(fn_r, fn_o, reps)
                alone = _median_ms(fn_o, reps)
                out.append(
                    f"force_spinning_stop={stop}: rnnkit {beside[0] * 1e3:.2f}, onnxruntime "
                    f"{beside[1] * 1e3:.2f} interleaved, {alone:.2f} back to back"
                )
            print(f"{kind:>9} {shape:>6}: " + " | ".join(out), flush=True)


def main(argv=None) -> None:
    import run

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--policy", action="store_true")
    p.add_argument(
        "--against",
        choices=sorted(POLICIES),
        default="before",
        help="--policy's other policy: before (section 19's) or rows (the weight "
        "gradients split by rows over the product threads, section 20's)",
    )
    p.add_argument("--split", action="store_true")
    p.add_argument("--splits", nargs="+", default=["1:128", "2:72", "2:128"])
    p.add_argument("--products", action="store_true")
    p.add_argument("--transposed", action="store_true")
    p.add_argument("--ort", action="store_true")
    p.add_argument("--cells", nargs="+", default=list(run.CELLS), choices=list(run.CELLS))
    p.add_argument("--shapes", nargs="+", default=["seeds", "small", "long"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    unknown = sorted(set(args.shapes) - set(run.SHAPES))
    if unknown:
        p.error(f"--shapes: unknown {unknown}; choose from {sorted(run.SHAPES)}")
    if not (args.policy or args.split or args.products or args.transposed or args.ort):
        p.error("give one or more of --policy, --split, --products, --transposed, --ort")
    try:
        splits = [tuple(int(v) for v in item.split(":")) for item in args.splits]
    except ValueError:
        p.error(f"--splits: give threads:units pairs such as 2:128, got {args.splits}")
    run.set_threads(args.threads)
    print(run.machine_info().get("cpu", ""), f"threads {args.threads}", flush=True)
    if args.policy:
        policy(args.cells, args.shapes, args.threads, args.rounds, args.against)
    if args.split:
        split(args.cells, args.shapes, args.threads, splits)
    if args.products:
        products(args.threads)
    if args.transposed:
        transposed(args.threads)
    if args.ort:
        ort(args.cells, args.shapes, args.threads)


if __name__ == "__main__":
    main()

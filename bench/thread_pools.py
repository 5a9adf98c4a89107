"""rnnkit alone at several threads: the split products against BLAS's own threads.

A recurrent layer at one of ``bench/run.py``'s shapes, rnnkit alone in the process (no
peer whose threads could spin on the same cores), ``rnnkit.set_num_threads(n)``;
medians of ``--reps`` inference passes and training steps (forward and BPTT) after a
warm-up, for each mode:

* ``split``: what rnnkit does (``backend.split_products``): a pass whose compiled loop
  is split over threads runs BLAS on one thread and its large products as the register
  tile on numba's threads, the pool the loop runs on (``kernels.gemm``);
* ``split-blas``: as ``split``, the large products split by rows over rnnkit's own
  threads, each on one BLAS thread (``kernels.gemm`` switched off);
* ``blas``: the pass's products on BLAS's own n threads (the engine before), whose
  workers spin for a while after each product on the cores the loop needs;
* ``blas-shutdown``: as ``blas``, with OpenBLAS's workers shut down before each compiled
  loop (its ``blas_thread_shutdown_``; an experiment, unsafe beside other threads in
  BLAS).

    PYTHONPATH=src python bench/thread_pools.py --cells LSTM GRU --shape lm --threads 2
    OPENBLAS_THREAD_TIMEOUT=4 PYTHONPATH=src python bench/thread_pools.py --modes blas
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

MODES = ("split", "split-blas", "blas", "blas-shutdown")


@contextlib.contextmanager
def _mode(mode: str):
    """Patch rnnkit for one mode, and restore it after."""
    from rnnkit import backend, kernels

    saved = backend.split_products, kernels.forward, kernels.backward, kernels.gemm
    try:
        if mode == "split-blas":
            kernels.gemm = lambda *args: False
        if mode not in ("split", "split-blas"):
            backend.split_products = lambda threads: contextlib.nullcontext()
        if mode == "blas-shutdown":
            controller = backend.blas_controller()
            libs = [] if controller is None else controller.lib_controllers
            stops = [
                lib.dynlib.blas_thread_shutdown_ for lib in libs if lib.internal_api == "openblas"
            ]

            def stopping(fn):
                def run(*args, **kwargs):
                    for stop in stops:
                        stop()
                    return fn(*args, **kwargs)

                return run

            kernels.forward, kernels.backward = stopping(saved[1]), stopping(saved[2])
        yield
    finally:
        backend.split_products, kernels.forward, kernels.backward, kernels.gemm = saved


def main(argv=None) -> None:
    import run  # bench/run.py: the shapes

    import rnnkit
    from rnnkit import layers

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", nargs="+", default=["LSTM", "GRU"], choices=list(run.CELLS))
    p.add_argument("--shape", default="lm", choices=list(run.SHAPES))
    p.add_argument(
        "--dims", nargs=4, type=int, metavar=("T", "B", "I", "H"), help="instead of --shape"
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args(argv)
    dims = tuple(a.dims) if a.dims else run.SHAPES[a.shape]
    steps, batch, n_in, units = dims
    rnnkit.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, steps, n_in)).astype(np.float32)
    dy = np.full((batch, steps, units), 1e-3, np.float32)
    print(f"(T, B, I, H) = {dims}, {a.threads} threads: median ms")
    for kind in a.cells:
        layer = getattr(layers, kind)(units, return_sequences=True)
        layer.ensure_built((steps, n_in))

        def infer(layer=layer):
            layer.forward(x)

        def train(layer=layer):
            layer.forward(x, training=True)
            layer.backward(dy)

        for r in range(a.rounds):
            for mode in a.modes:
                with _mode(mode):
                    cells = []
                    for name, fn in (("inference", infer), ("training", train)):
                        fn()
                        times = []
                        for _ in range(a.reps):
                            t0 = time.perf_counter()
                            fn()
                            times.append(time.perf_counter() - t0)
                        cells.append(f"{name} {1e3 * statistics.median(times):7.1f}")
                print(f"  {kind:9s} round {r + 1} {mode:14s} " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main()

"""The compiled recurrent product (bench/NOTES.md rows 26-27) against NumPy's BLAS.

Two measurements, both on one thread (the time loop's default), interleaved rounds,
medians:

* ``--micro``: ``_fused_numba.matmul_nt(a, bt, out)`` against ``np.dot(a, b, out=out)``
  for (M, K, N) products, a (M, K) and b (K, N) float32: the ratio BLAS time / kernel
  time, one figure per round.
* ``--layers``: a layer's training step (forward and BPTT) with the kernel where the
  policy picks it (``fused.nt_worthwhile``) against the same layer with every
  product through BLAS, at the harness's shapes.

    PYTHONPATH=src python bench/recurrent_product.py --micro --layers
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

MICRO_SHAPES = [
    (20, 650, 2600),
    (20, 2600, 650),
    (64, 512, 2048),
    (64, 2048, 512),
    (2, 512, 2048),
    (8, 256, 1024),
    (32, 512, 128),
    (64, 512, 512),
    (8, 128, 512),
    (32, 128, 512),
    (64, 256, 768),
    (8, 512, 128),
    (1, 650, 2600),
]
LAYER_SHAPES = {  # T, B, I, H, as bench/run.py
    "seeds": (49, 50, 1, 50),
    "small": (50, 32, 64, 128),
    "lm": (35, 20, 650, 650),
    "large": (100, 64, 512, 512),
    "long": (1000, 8, 64, 128),
}


def median_us(fn, n: int, warmup: int = 1) -> float:
    """Median time of ``n`` calls of ``fn`` in µs, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1e6


def micro(rounds: int, calls: int) -> None:
    from rnnkit.cells import fused

    kernel = fused.kernels().matmul_nt
    rng = np.random.default_rng(0)
    print("M, K, N: BLAS time / kernel time, one figure per round (BLAS µs)")
    for m, k, n in MICRO_SHAPES:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        bt = np.ascontiguousarray(b.T)
        out = np.empty((m, n), np.float32)
        ratios, blas = [], []
        for _ in range(rounds):
            t_blas = median_us(lambda a=a, b=b, out=out: np.dot(a, b, out=out), calls)
            t_kernel = median_us(lambda a=a, bt=bt, out=out: kernel(a, bt, out), calls)
            ratios.append(t_blas / t_kernel)
            blas.append(t_blas)
        line = " ".join(f"{r:.2f}" for r in ratios)
        print(f"({m}, {k}, {n}): {line}   ({np.median(blas):.1f} µs)", flush=True)


def layers(cells: list[str], shapes: list[str], steps: int) -> None:
    from rnnkit import layers as L
    from rnnkit.cells import fused

    policy = fused.nt_worthwhile
    rng = np.random.default_rng(0)
    print("cell shape: training step with the policy's kernel / all BLAS (ms), BLAS / kernel")
    try:
        for name in cells:
            for shape in shapes:
                t, b, i, h = LAYER_SHAPES[shape]
                layer = getattr(L, name)(h, return_sequences=True)
                layer.ensure_built((t, i))
                x = rng.standard_normal((b, t, i)).astype(np.float32)
                dy = rng.standard_normal((b, t, h)).astype(np.float32)

                def step(layer=layer, x=x, dy=dy):
                    layer.forward(x, training=True)
                    layer.backward(dy)

                times = {True: [], False: []}
                for _ in range(steps):
                    for use in (True, False):
                        fused.nt_worthwhile = policy if use else (lambda *args: False)
                        step()  # warm-up of this setting's buffers
                        start = time.perf_counter()
                        step()
                        times[use].append(time.perf_counter() - start)
                on, off = (float(np.median(times[u])) * 1e3 for u in (True, False))
                print(f"{name} {shape}: {on:.2f} / {off:.2f} ms  {off / on:.3f}", flush=True)
    finally:
        fused.nt_worthwhile = policy


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--micro", action="store_true", help="kernel against np.dot per product")
    p.add_argument("--layers", action="store_true", help="layer training steps, on / off")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--calls", type=int, default=25)
    p.add_argument("--steps", type=int, default=7, help="interleaved steps per setting")
    p.add_argument("--cells", nargs="+", default=["LSTM", "GRU", "SimpleRNN"])
    p.add_argument("--shapes", nargs="+", default=["small", "lm", "large"])
    a = p.parse_args(argv)
    from threadpoolctl import threadpool_limits

    from rnnkit import backend
    from rnnkit.cells import fused

    if fused.kernels() is None:
        p.error("numba is not installed (pip install rnnkit[fast])")
    backend.set_accelerator("numba")
    if not (a.micro or a.layers):
        a.micro = a.layers = True
    with threadpool_limits(1):
        if a.micro:
            micro(a.rounds, a.calls)
        if a.layers:
            layers(a.cells, a.shapes, a.steps)


if __name__ == "__main__":
    main()

"""The compiled recurrent product (bench/NOTES.md rows 26-27 and 46) against NumPy's BLAS.

Two measurements, both on one thread (the time loop's default), interleaved rounds,
medians:

* ``--micro``: ``_fused_numba.packed_matmul(a, panels, out)`` (b packed once, outside
  the timing, as a pass does) against ``np.dot(a, b, out=out)`` for (M, K, N)
  products, a (M, K) and b (K, N) float32: the ratio BLAS time / kernel time, one
  figure per round, and the choice ``fused.packed_worthwhile`` makes.
* ``--layers``: a layer's training step (forward and BPTT) with the kernel where the
  policy picks it (``fused.packed_worthwhile``) against the same layer with every
  product through BLAS, at the harness's shapes.

* ``--alignment``: ``np.dot(a, b, out=out)`` with b starting on a 64-byte boundary,
  16 bytes past one, and 32 (row 39): µs per product.
* ``--gate-blocks``: a step's product with W as one BLAS product against one per gate
  block (``fused.gate_blocks_product`` / ``gate_blocks_product_t``), forward and
  backward, all arrays aligned, and the choice ``fused.gate_blocks_faster`` makes
  (row 40): µs per product. ``--gate-blocks-layers``: as ``--layers``, for that choice.

    PYTHONPATH=src python bench/recurrent_product.py --micro --layers
    PYTHONPATH=src python bench/recurrent_product.py --alignment --gate-blocks
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

    kernel = fused.kernels().packed_matmul
    rng = np.random.default_rng(0)
    print("M, K, N: BLAS time / kernel time, one figure per round (BLAS µs); the choice")
    for m, k, n in MICRO_SHAPES:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        panels = fused.pack_panels(b)
        out = np.empty((m, n), np.float32)
        ratios, blas = [], []
        for _ in range(rounds):
            t_blas = median_us(lambda a=a, b=b, out=out: np.dot(a, b, out=out), calls)
            t_kernel = median_us(lambda a=a, p=panels, out=out: kernel(a, p, out), calls)
            ratios.append(t_blas / t_kernel)
            blas.append(t_blas)
        line = " ".join(f"{r:.2f}" for r in ratios)
        pick = "packed" if fused.packed_worthwhile(m, k, n) else "BLAS"
        print(f"({m}, {k}, {n}): {line}   ({np.median(blas):.1f} µs)  {pick}", flush=True)


def layers(
    cells: list[str], shapes: list[str], steps: int, lever: str = "packed_worthwhile"
) -> None:
    """Training steps with ``fused.<lever>`` as it is against it always saying no:
    ``packed_worthwhile`` (the compiled product) or ``gate_blocks_faster`` (gate
    blocks)."""
    from rnnkit import layers as L
    from rnnkit.cells import fused

    policy = getattr(fused, lever)
    rng = np.random.default_rng(0)
    print(f"cell shape: training step with fused.{lever} as is / always off (ms), off / on")
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
                        setattr(fused, lever, policy if use else (lambda *a, **k: False))
                        step()  # warm-up of this setting's buffers
                        start = time.perf_counter()
                        step()
                        times[use].append(time.perf_counter() - start)
                on, off = (float(np.median(times[u])) * 1e3 for u in (True, False))
                print(f"{name} {shape}: {on:.2f} / {off:.2f} ms  {off / on:.3f}", flush=True)
    finally:
        setattr(fused, lever, policy)


ALIGNMENT_SHAPES = [
    (32, 128, 512),
    (32, 512, 128),
    (20, 650, 2600),
    (20, 2600, 650),
    (64, 512, 2048),
    (64, 2048, 512),
    (8, 128, 512),
    (16, 128, 384),
    (16, 384, 128),
    (50, 50, 200),
    (1600, 64, 512),
]
GATE_BLOCK_SHAPES = [  # (B, H, G)
    (32, 128, 4),
    (32, 128, 3),
    (16, 128, 4),
    (16, 128, 3),
    (64, 128, 4),
    (8, 128, 4),
    (50, 50, 4),
    (20, 650, 4),
    (64, 512, 4),
]


def _offset_array(shape, offset: int, rng) -> np.ndarray:
    """A float32 array of random values starting ``offset`` bytes past 64."""
    n = int(np.prod(shape))
    buf = np.empty(n * 4 + 128, np.uint8)
    start = -buf.ctypes.data % 64 + offset
    a = buf[start : start + n * 4].view(np.float32).reshape(shape)
    a[...] = rng.standard_normal(shape)
    return a


def _median_of_rounds(fn, rounds: int, calls: int) -> float:
    return float(np.median([median_us(fn, calls) for _ in range(rounds)]))


def _dot(a, b, out):
    return lambda: np.dot(a, b, out=out)


def alignment(rounds: int, calls: int) -> None:
    from rnnkit import backend

    rng = np.random.default_rng(0)
    print("M, K, N: µs with b 64-byte aligned / 16 bytes off / 32 bytes off (median of rounds)")
    for m, k, n in ALIGNMENT_SHAPES:
        a = backend.aligned_copy(rng.standard_normal((m, k)).astype(np.float32))
        out = backend.aligned_empty((m, n), np.float32)
        found = [
            _median_of_rounds(_dot(a, _offset_array((k, n), offset, rng), out), rounds, calls)
            for offset in (0, 16, 32)
        ]
        print(f"{m}, {k}, {n}: " + " / ".join(f"{t:.1f}" for t in found), flush=True)


def _gate_block_pairs(b: int, h: int, g: int, rng):
    """(one product, gate blocks) callables, forward then backward, on aligned arrays."""
    from rnnkit import backend
    from rnnkit.cells import fused

    def aligned(*shape):
        return backend.aligned_copy(rng.standard_normal(shape).astype(np.float32))

    w = aligned(h, g * h)
    w_t, blocks = backend.aligned_copy(w.T), fused.gate_blocks(w, g)
    x, dz = aligned(b, h), aligned(b, g * h)
    out, dh, tmp = aligned(b, g * h), aligned(b, h), aligned(g, b, h)
    return [
        (_dot(x, w, out), lambda: fused.gate_blocks_product(x, blocks, out)),
        (_dot(dz, w_t, dh), lambda: fused.gate_blocks_product_t(dz, w_t.reshape(g, h, h), dh, tmp)),
    ]


def gate_blocks(rounds: int, calls: int) -> None:
    from rnnkit.cells import fused

    rng = np.random.default_rng(0)
    print("B, H, G: µs, one product / gate blocks, forward; backward; choice (fwd, bwd)")
    for b, h, g in GATE_BLOCK_SHAPES:
        figures = []
        for one, by_blocks in _gate_block_pairs(b, h, g, rng):
            t1 = _median_of_rounds(one, rounds, calls)
            t2 = _median_of_rounds(by_blocks, rounds, calls)
            figures.append(f"{t1:.1f} / {t2:.1f}")
        choice = [fused.gate_blocks_faster(b, h, g, np.float32, 1, backward=d) for d in (0, 1)]
        print(f"{b}, {h}, {g}: {figures[0]}; {figures[1]}; {choice}", flush=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--micro", action="store_true", help="kernel against np.dot per product")
    p.add_argument("--layers", action="store_true", help="layer training steps, on / off")
    p.add_argument("--alignment", action="store_true", help="np.dot by aligned / offset b")
    p.add_argument("--gate-blocks", action="store_true", help="one product / per gate block")
    p.add_argument(
        "--gate-blocks-layers", action="store_true", help="layer steps, gate blocks as chosen / off"
    )
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
    if a.gate_blocks_layers:
        with threadpool_limits(1):
            layers(a.cells, a.shapes, a.steps, lever="gate_blocks_faster")
    if not (a.micro or a.layers or a.alignment or a.gate_blocks or a.gate_blocks_layers):
        a.micro = a.layers = True
    with threadpool_limits(1):
        if a.alignment:
            alignment(a.rounds, a.calls * 8)
        if a.gate_blocks:
            gate_blocks(a.rounds, a.calls * 8)
        if a.micro:
            micro(a.rounds, a.calls)
        if a.layers:
            layers(a.cells, a.shapes, a.steps)


if __name__ == "__main__":
    main()

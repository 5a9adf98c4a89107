"""The compiled loops' per-step product in its two forms (``rnnkit.kernels.tile``,
``rnnkit.kernels.matmul``).

Three measurements on one thread (the loops' default below ``PARALLEL_MIN_MACS``),
interleaved rounds, the best of each (the least disturbed by a shared machine):

* ``--micro``: ``acc_rows`` (row updates on W) and ``acc_tile`` (the register tile on W
  packed into panels) against ``np.dot`` for (M, K, N) float32 products: GFLOP/s of
  each (the packing, once per pass, not counted).
* ``--layers``: a layer's training step (forward, BPTT, Adam) and inference pass at the
  harness's shapes (``bench/run.py``), with ``kernels.PRODUCT`` set per call to
  ``"rows"`` and ``"tile"`` (the default): ms of each and the speed-up of the tile.
* ``--profile``: where an LSTM training step's time goes (x·U, the compiled forward, the
  compiled BPTT, dU and dW, the rest: dL/dx and Adam), beside PyTorch's whole step;
  then the same for the inference pass (on ``--threads`` threads, default 1).
* ``--whole``: the products over all steps on one thread, at the harness's shapes: x·U
  through BLAS, with the bias added after it, and through ``kernels.gemm``; the weight
  gradient xᵀ·dz through BLAS and through ``kernels.gemm_columns`` (ms, the best of
  interleaved rounds).

    PYTHONPATH=src python bench/recurrent_product.py --micro
    PYTHONPATH=src python bench/recurrent_product.py --layers --shapes seeds small lm
    PYTHONPATH=src python bench/recurrent_product.py --profile --shapes lm
    PYTHONPATH=src python bench/recurrent_product.py --whole --cells LSTM --shapes small long
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

MICRO_SHAPES = [  # forward (K = H, N = G·H), then BPTT's (K = G·H, N = H)
    (20, 650, 2600),
    (32, 128, 512),
    (8, 128, 512),
    (64, 512, 2048),
    (50, 50, 200),
    (1, 128, 512),
    (20, 2600, 650),
    (32, 512, 128),
    (64, 2048, 512),
    (50, 200, 50),
]
FORMS = ("rows", "tile")


def median_us(fn, n: int, warmup: int = 1) -> float:
    """The median µs of ``n`` calls of ``fn`` after ``warmup`` calls (also used by
    bench/streaming_floor.py)."""
    import statistics

    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e6 * statistics.median(times)


def best_of(fn, rounds: int, calls: int) -> float:
    """The least seconds of one call over ``rounds`` rounds of ``calls`` calls."""
    best = float("inf")
    for _ in range(rounds):
        for _ in range(calls):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
    return best


def _micro_row(m: int, k: int, n: int, rounds: int, rng) -> dict[str, float]:
    """GFLOP/s of each form and of np.dot for one (M, K, N) product."""
    from rnnkit.kernels.matmul import acc_rows
    from rnnkit.kernels.tile import acc_tile, pack

    a = rng.standard_normal((m, k), dtype=np.float32)
    w = rng.standard_normal((k, n), dtype=np.float32)
    wp = pack(w)
    out = np.zeros((m, n), np.float32)
    fns = {
        "rows": lambda: acc_rows(a, w, out, 0, m, 0, 0, n),
        "tile": lambda: acc_tile(a, wp, out, 0, m, 0, 0, n),
        "np.dot": lambda: np.dot(a, w, out=out),
    }
    calls = max(5, int(1e7 / (m * k * n)))
    for fn in fns.values():
        fn()  # compiles
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):  # interleaved: each form in every round
        for name, fn in fns.items():
            best[name] = min(best[name], best_of(fn, 1, calls))
    return {name: 2e-9 * m * k * n / t for name, t in best.items()}


def micro(rounds: int) -> None:
    import threadpoolctl

    rng = np.random.default_rng(0)
    print("    M     K     N   rows GF/s  tile GF/s  np.dot GF/s")
    with threadpoolctl.threadpool_limits(1):
        for m, k, n in MICRO_SHAPES:
            gf = _micro_row(m, k, n, rounds, rng)
            print(
                f"{m:5d} {k:5d} {n:5d} {gf['rows']:10.1f} {gf['tile']:10.1f} "
                f"{gf['np.dot']:12.1f}"
            )


def layers(cells, shapes, rounds: int) -> None:
    import run  # bench/run.py: shapes and layer pairs

    import rnnkit
    from rnnkit import kernels

    rnnkit.set_num_threads(1)
    saved = kernels.PRODUCT
    try:
        for shape in shapes:
            for kind in cells:
                pair = run.make_pair(kind, run.SHAPES[shape])
                for col in ("train", "infer"):
                    fn = pair[col][0]
                    best = dict.fromkeys(FORMS, float("inf"))
                    for form in FORMS:
                        kernels.PRODUCT = form
                        fn()  # compiles, and sizes the layer's buffers
                    for i in range(max(3, rounds * run.REPS[shape] // 4)):
                        for form in FORMS if i % 2 == 0 else FORMS[::-1]:
                            kernels.PRODUCT = form
                            t0 = time.perf_counter()
                            fn()
                            best[form] = min(best[form], time.perf_counter() - t0)
                    print(
                        f"{kind:9s} {shape:6s} {col:5s} "
                        + "  ".join(f"{f} {1e3 * best[f]:8.2f} ms" for f in FORMS)
                        + f"  tile/rows speed-up {best['rows'] / best['tile']:.3f}",
                        flush=True,
                    )
    finally:
        kernels.PRODUCT = saved


def _timed(spent: dict, obj, name: str, label: str):
    """Replace ``obj.name`` by a wrapper adding its seconds to ``spent[label]``;
    returns the original."""
    fn = getattr(obj, name)

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.perf_counter() - t0

    setattr(obj, name, wrapper)
    return fn


def profile(shapes, reps: int, threads: int) -> None:
    import run

    from rnnkit import kernels

    run.set_threads(threads)  # both libraries, and BLAS, on that many (until exit)
    for shape in shapes:
        pair = run.make_pair("LSTM", run.SHAPES[shape], threads=threads)
        cell = pair["layer"].cell
        spent: dict[str, float] = {}
        originals = [
            (kernels, "forward", _timed(spent, kernels, "forward", "compiled forward")),
            (kernels, "backward", _timed(spent, kernels, "backward", "compiled BPTT")),
            (cell, "project_inputs", _timed(spent, cell, "project_inputs", "x·U + b")),
            (cell, "weight_grads", _timed(spent, cell, "weight_grads", "dU, dW, db")),
        ]
        try:
            for what, rest in (("train", "the rest (dL/dx, Adam)"), ("infer", "the rest")):
                r_fn, t_fn = pair[what]
                r_fn()
                t_fn()
                spent.clear()
                t_r, t_t = run.interleaved(r_fn, t_fn, reps)
                parts = {k: v / (reps + 1) for k, v in spent.items()}  # (the warm-up)
                parts[rest] = max(0.0, t_r - sum(parts.values()))
                print(
                    f"LSTM {shape} {what}: rnnkit {1e3 * t_r:.1f} ms, "
                    f"PyTorch {1e3 * t_t:.1f} ms (medians)"
                )
                for label, seconds in parts.items():
                    print(f"    {label:24s} {1e3 * seconds:8.1f} ms")
        finally:
            for obj, name, fn in originals:
                if obj is cell:
                    delattr(obj, name)  # back to the class's method
                else:
                    setattr(obj, name, fn)


def _whole_row(x, u, bias, dz, rounds: int) -> dict[str, float]:
    """The best seconds of each form of one shape's products over all steps."""
    from rnnkit import kernels

    xw, du = np.empty((x.shape[0], u.shape[1]), x.dtype), np.empty_like(u)

    def plus_bias():
        np.matmul(x, u, out=xw)
        xw.__iadd__(bias)

    fns = {
        "x·U BLAS": lambda: np.matmul(x, u, out=xw),
        "x·U + b BLAS": plus_bias,
        "x·U gemm": lambda: kernels.gemm(x, u, xw, 1),
        "xᵀ·dz BLAS": lambda: np.matmul(x.T, dz, out=du),
        "xᵀ·dz gemm_columns": lambda: kernels.gemm_columns(x.T, dz, du, 1),
    }
    for fn in fns.values():
        fn()  # compiles
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            best[name] = min(best[name], best_of(fn, 1, 3))
    return best


def whole(cells, shapes, rounds: int) -> None:
    import run
    import threadpoolctl

    rng = np.random.default_rng(0)
    with threadpoolctl.threadpool_limits(1):
        for shape in shapes:
            steps, batch, n_in, units = run.SHAPES[shape]
            for kind in cells:
                gh = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}[kind] * units
                x = rng.standard_normal((steps * batch, n_in), dtype=np.float32)
                u = rng.standard_normal((n_in, gh), dtype=np.float32)
                bias = rng.standard_normal(gh, dtype=np.float32)
                dz = rng.standard_normal((steps * batch, gh), dtype=np.float32)
                best = _whole_row(x, u, bias, dz, rounds)
                print(
                    f"{kind:9s} {shape:6s} "
                    + "  ".join(f"{name} {1e3 * t:.2f}" for name, t in best.items()),
                    flush=True,
                )


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--micro", action="store_true", help="each form against np.dot")
    p.add_argument("--layers", action="store_true", help="layer steps in each form")
    p.add_argument("--profile", action="store_true", help="an LSTM step's parts")
    p.add_argument("--whole", action="store_true", help="products over all steps")
    p.add_argument("--cells", nargs="+", default=["LSTM", "GRU", "SimpleRNN"])
    p.add_argument("--shapes", nargs="+", default=["seeds", "small", "lm"])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--threads", type=int, default=1, help="--profile's thread count")
    a = p.parse_args(argv)
    if not (a.micro or a.layers or a.profile or a.whole):
        p.error("choose at least one of --micro, --layers, --profile, --whole")
    if a.micro:
        micro(a.rounds)
    if a.layers:
        layers(a.cells, a.shapes, a.rounds)
    if a.profile:
        profile(a.shapes, a.rounds, a.threads)
    if a.whole:
        whole(a.cells, a.shapes, a.rounds)


if __name__ == "__main__":
    main()

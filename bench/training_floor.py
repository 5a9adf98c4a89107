"""How close a training step is to the floor of its matrix products, against PyTorch.

A training step of a recurrent layer (forward, BPTT, Adam) is mostly matrix products:
the input projection x·U over all steps, one (B, H)·(H, G·H) product per step forward,
one (B, G·H)·(G·H, H) per step backward, and the weight and input gradients dU, dW,
dL/dx over all steps. Whatever the element-wise code and the Python around it cost, a
NumPy implementation pays at least these products to its BLAS. This script times, one
thread, interleaved rounds, medians, in ms:

* PyTorch's training step and rnnkit's (as ``bench/run.py``'s train column);
* the products alone: the same products, through ``np.dot`` / ``np.matmul`` into
  preallocated arrays, with the layouts rnnkit uses (a C-contiguous Wᵀ cached for the
  backward steps), nothing else;

and prints PyTorch / rnnkit, PyTorch / products (the highest training-step ratio that
an implementation making these products through this BLAS could reach, with element-wise
work and Python free), and rnnkit / products: how far rnnkit's step is above that floor
(issue 20's target at the long shape: at most 1.3).

    PYTHONPATH=src python bench/training_floor.py [--cells LSTM] [--shapes small]

(The products alone are BLAS's. rnnkit's compiled loop makes the per-step products with
its own kernel (``rnnkit.kernels.matmul``), so its whole step can take less than this
floor where that kernel beats BLAS's per-call cost.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

GATES = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}


def products(kind: str, shape, rng):
    """A function making one training step's matrix products (and nothing else)."""
    steps, batch, n_in, units = shape
    gh, f32 = GATES[kind] * units, np.float32
    x = rng.standard_normal((steps * batch, n_in)).astype(f32)
    u = rng.standard_normal((n_in, gh)).astype(f32)
    w = rng.standard_normal((units, gh)).astype(f32)
    w_t = np.ascontiguousarray(w.T)
    h = rng.standard_normal((steps + 1, batch, units)).astype(f32)
    dz = rng.standard_normal((steps, batch, gh)).astype(f32)
    xw = np.empty((steps * batch, gh), f32)
    rec = np.empty((batch, gh), f32)
    dh = np.empty((batch, units), f32)
    du, dw = np.empty((n_in, gh), f32), np.empty((units, gh), f32)
    dx = np.empty((steps * batch, n_in), f32)
    dz_flat, h_flat = dz.reshape(-1, gh), h[:-1].reshape(-1, units)
    product = np.dot if n_in == 1 else np.matmul  # as Cell.project_inputs
    block = max(1, 1024 // batch) * batch  # rows per dL/dx product, as BPTT's blocks

    def run():
        product(x, u, out=xw)  # x·U over all steps
        for t in range(steps):  # forward: h_{t-1}·W
            np.dot(h[t], w, out=rec)
        for t in range(steps - 1, -1, -1):  # backward: dz_t·Wᵀ
            np.dot(dz[t], w_t, out=dh)
        np.matmul(x.T, dz_flat, out=du)
        np.matmul(h_flat.T, dz_flat, out=dw)
        for r in range(0, steps * batch, block):  # dL/dx = dz·Uᵀ
            np.matmul(dz_flat[r : r + block], u.T, out=dx[r : r + block])

    return run


def main(argv=None) -> None:
    from run import CELLS, SHAPES, interleaved, make_pair, set_threads

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", nargs="+", default=["LSTM"], choices=CELLS)
    p.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args(argv)
    rng = np.random.default_rng(0)
    print(
        "cell shape: PyTorch / rnnkit / products alone (ms); PyTorch / rnnkit; "
        "PyTorch / products; rnnkit / products"
    )
    with set_threads(1):
        for kind in a.cells:
            for name in a.shapes:
                pair = make_pair(kind, SHAPES[name])
                r_train, t_train = pair["train"]
                floor = products(kind, SHAPES[name], rng)
                t_t, t_r, t_f = [], [], []
                for _ in range(a.rounds):
                    tr, tt = interleaved(r_train, t_train, a.reps)
                    tf, _ = interleaved(floor, lambda: None, a.reps)
                    t_t.append(tt * 1e3)
                    t_r.append(tr * 1e3)
                    t_f.append(tf * 1e3)
                torch_ms, rnnkit_ms, floor_ms = (float(np.median(v)) for v in (t_t, t_r, t_f))
                print(
                    f"{kind} {name}: {torch_ms:.2f} / {rnnkit_ms:.2f} / {floor_ms:.2f} ms; "
                    f"{torch_ms / rnnkit_ms:.2f}; {torch_ms / floor_ms:.2f}; "
                    f"{rnnkit_ms / floor_ms:.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()

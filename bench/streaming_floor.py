"""How far the streaming target (a step >= 5x faster than PyTorch's per-call step) can
be met at each shape: the floor of any implementation's step against PyTorch's step.

At batch 1 a step is two matrix-vector products, x_t·U and h_{t-1}·W, plus a few
element-wise lines. Every implementation must read U and W once per step; at H = 512 or
650 they are 1-7 MiB of float32 per product, and reading them is most of the step.
This script times, one thread, interleaved rounds, medians:

* PyTorch's step: one module call on a (1, 1, I) input with the state passed in (as
  ``bench/run.py``'s stream column);
* rnnkit's step: ``RNN.step`` (as ``bench/run.py``);
* the floor: ``np.dot`` of (1, I)·(I, G·H) and (1, H)·(H, G·H) into preallocated
  outputs, nothing else: what a step with no overhead at all would still cost;

and prints PyTorch / floor, the highest ratio any implementation using these products
could reach.

    PYTHONPATH=src python bench/streaming_floor.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))


def main(argv=None) -> None:
    from recurrent_product import median_us
    from run import CELLS, SHAPES, STREAM_STEPS, make_pair, set_threads

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    p.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args(argv)
    rng = np.random.default_rng(0)
    print("cell shape: PyTorch step / rnnkit step / floor (µs); PyTorch / rnnkit; PyTorch / floor")
    with set_threads(1):
        for kind in a.cells:
            for shape in a.shapes:
                _, _, i, h = SHAPES[shape]
                pair = make_pair(kind, SHAPES[shape])
                r_stream, t_stream = pair["stream"]
                g = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}[kind]
                u = rng.standard_normal((i, g * h)).astype(np.float32)
                w = rng.standard_normal((h, g * h)).astype(np.float32)
                x = rng.standard_normal((1, i)).astype(np.float32)
                s = rng.standard_normal((1, h)).astype(np.float32)
                out1, out2 = np.empty((1, g * h), np.float32), np.empty((1, g * h), np.float32)

                def floor(x=x, s=s, u=u, w=w, out1=out1, out2=out2):
                    np.dot(x, u, out=out1)
                    np.dot(s, w, out=out2)

                t_t, t_r, t_f = [], [], []
                n = STREAM_STEPS  # the stream functions run that many steps per call
                for _ in range(a.rounds):
                    t_t.append(median_us(t_stream, max(3, a.calls // n), 3) / n)
                    t_r.append(median_us(r_stream, max(3, a.calls // n), 3) / n)
                    t_f.append(median_us(floor, a.calls, 3))
                torch_us, rnnkit_us, floor_us = (float(np.median(v)) for v in (t_t, t_r, t_f))
                print(
                    f"{kind} {shape}: {torch_us:.1f} / {rnnkit_us:.1f} / {floor_us:.1f} µs; "
                    f"{torch_us / rnnkit_us:.2f}; {torch_us / floor_us:.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()

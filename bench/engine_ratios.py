"""PyTorch time / rnnkit time for the compiled loops, side by side in one process.

For each cell and shape of ``bench/run.py`` (its layers, weights and inputs, built by
``run.make_pair``) and each thread count, both libraries on that count, it times the
training step (forward, BPTT, Adam), inference over the whole sequence and, with
``--stream``, the streaming step, interleaved after a warm-up, and prints medians and
the ratio (above 1: rnnkit faster) with ``rnnkit.backend.kernel_info()``:

    PYTHONPATH=src python bench/engine_ratios.py --threads 1 2
    PYTHONPATH=src python bench/engine_ratios.py --cells LSTM --shapes small long --reps 9

A quick view while working on the kernels; ``bench/run.py`` is the harness of record.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))


def main(argv=None) -> None:
    import run  # bench/run.py: shapes, layer pairs, interleaved timing

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cells", nargs="+", default=list(run.CELLS), choices=list(run.CELLS))
    p.add_argument("--shapes", nargs="+", default=list(run.SHAPES), choices=list(run.SHAPES))
    p.add_argument("--threads", nargs="+", type=int, default=[1])
    p.add_argument("--reps", type=int, default=0, help="repetitions (default: run.REPS)")
    p.add_argument("--stream", action="store_true", help="also the streaming step")
    a = p.parse_args(argv)

    import torch

    import rnnkit

    columns = ["train", "infer"] + (["stream"] if a.stream else [])
    for n in a.threads:
        torch.set_num_threads(n)
        rnnkit.set_num_threads(n)
        print(f"threads {n}: {rnnkit.backend.kernel_info()}")
        ratios = {c: [] for c in columns}
        for shape in a.shapes:
            for cell in a.cells:
                pair = run.make_pair(cell, run.SHAPES[shape], threads=n)
                reps = a.reps or run.REPS[shape]
                cells = []
                for col in columns:
                    r_fn, t_fn = pair[col]
                    k = max(3, reps // 3) if col == "stream" else reps
                    tr, tt = run.interleaved(r_fn, t_fn, k)
                    per = run.STREAM_STEPS if col == "stream" else 1
                    ratios[col].append(tt / tr)
                    cells.append(
                        f"{col} {1e3 * tr / per:8.3f} / {1e3 * tt / per:8.3f} ms {tt / tr:5.2f}"
                    )
                print(f"  {cell:9s} {shape:5s} " + " | ".join(cells), flush=True)
        for col, r in ratios.items():
            gm = math.exp(sum(math.log(v) for v in r) / len(r))
            print(f"  {col}: geometric mean {gm:.2f}, lowest {min(r):.2f}")


if __name__ == "__main__":
    main()

"""Evidence for rnnkit's thread policy: one training step at 1 and at 2 BLAS threads.

    PYTHONPATH=src python bench/thread_policy.py [--shapes small large] [--reps 5]

For each library separately, times the same training step (bench/run.py's workload)
with its thread pools limited to 1 and then 2 threads, interleaved, and prints the
medians with the machine's load average. Run it on a quiet machine and on a busy one:
the policy must hold up in both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--shapes", nargs="+", default=["small", "large"])
    p.add_argument("--cells", nargs="+", default=["LSTM", "GRU"])
    p.add_argument("--reps", type=int, default=5)
    a = p.parse_args()
    print(f"load average before: {os.getloadavg()}")
    for shape in a.shapes:
        for kind in a.cells:
            fns = run.make_pair(kind, run.SHAPES[shape])["train"]
            for lib, fn in zip(("rnnkit", "torch"), fns):
                times = {1: [], 2: []}
                for i in range(a.reps + 1):
                    for n in (1, 2) if i % 2 else (2, 1):
                        with run.set_threads(n):
                            t0 = time.perf_counter()
                            fn()
                            if i:  # the first round is the warm-up
                                times[n].append(time.perf_counter() - t0)
                m1, m2 = (statistics.median(times[n]) for n in (1, 2))
                print(
                    f"{kind:>5} {shape:>6} {lib:>6}: 1 thread {m1 * 1e3:8.1f} ms, "
                    f"2 threads {m2 * 1e3:8.1f} ms  (2 threads / 1 thread = {m2 / m1:.2f})"
                )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

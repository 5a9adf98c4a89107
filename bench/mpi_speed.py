"""Tokens per second of the tiny-Shakespeare language model trained data-parallel on 1
and 2 MPI ranks (one thread each), and the all-reduce's share of a step.

    python bench/mpi_speed.py --corpus ../shared/data/tinyshakespeare/input.txt

runs itself under ``mpiexec -n 1`` and ``mpiexec -n 2`` (interleaved, --rounds times) and
prints the medians. The model is the race model of docs/tutorials/language-models.md: one
LSTM of 512, embedding 64, 64 streams of 100 characters (the global batch), Adam. Each
rank trains its own 64 / N streams; one fused all-reduce per step sums the gradients.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def worker(args) -> None:
    import numpy as np
    from mpi4py import MPI

    import rnnkit
    from rnnkit.distributed.mpi import GradientReducer
    from rnnkit.experiments.lm import LMConfig, build_model, make_tokenizer, vocab_size
    from rnnkit.preprocessing.sequence import stream_windows

    rnnkit.set_num_threads(1)
    comm = MPI.COMM_WORLD
    text = Path(args.corpus).read_text(encoding="utf-8")[:400_000]
    cfg = LMConfig(layers=1, units=args.units, embed_dim=64, dropout=0.0, seed=0)
    tok = make_tokenizer(cfg, text)
    ids = np.concatenate(tok.texts_to_sequences([text]))
    x, y = stream_windows(ids, args.batch, args.window)
    model = build_model(cfg, vocab_size(tok))

    class Timed(GradientReducer):
        allreduce_s = 0.0

        def reduce(self, loss, grads):
            t0 = time.perf_counter()
            out = super().reduce(loss, grads)
            self.allreduce_s += time.perf_counter() - t0
            return out

    reducer = Timed(comm)
    model.gradient_reducer = reducer
    rows = np.arange(args.batch)
    times = []
    for step in range(args.warmup + args.steps):
        b = step % (len(x) // args.batch)
        local = reducer.local_rows(rows + b * args.batch)
        comm.Barrier()
        if step == args.warmup:
            reducer.allreduce_s = 0.0
        t0 = time.perf_counter()
        model.train_on_batch(x[local], y[local])
        if step >= args.warmup:
            times.append(time.perf_counter() - t0)
    step_s = statistics.median(times)
    share = reducer.allreduce_s / sum(times)
    params = sum(w.size for _, w in model.weights())
    if comm.Get_rank() == 0:
        print(
            json.dumps(
                {
                    "ranks": comm.Get_size(),
                    "step_s": step_s,
                    "tokens_per_s": args.batch * args.window / step_s,
                    "allreduce_share": share,
                    "message_bytes": 4 * params,
                }
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--units", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    mpiexec = shutil.which("mpiexec") or str(Path(sys.executable).parent / "mpiexec")
    env = {**os.environ, "RNNKIT_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    runs: dict[int, list[dict]] = {1: [], 2: []}
    for _ in range(args.rounds):
        for n in (1, 2):
            cmd = [mpiexec, "-n", str(n), sys.executable, __file__, "--worker", *sys.argv[1:]]
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
            runs[n].append(json.loads(out.stdout.strip().splitlines()[-1]))
    import platform

    cpu = next(
        (l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if "model name" in l),
        platform.processor(),
    )
    print(f"CPU: {cpu}, {os.cpu_count()} cores; medians of {args.rounds} interleaved rounds")
    med = {n: statistics.median(r["tokens_per_s"] for r in runs[n]) for n in runs}
    for n in (1, 2):
        share = statistics.median(r["allreduce_share"] for r in runs[n])
        print(f"{n} rank(s): {med[n]:,.0f} tokens/s, all-reduce {100 * share:.1f} % of a step")
    print(
        f"speed-up 2 ranks / 1: {med[2] / med[1]:.2f}x; "
        f"all-reduce message {runs[2][0]['message_bytes'] / 2**20:.1f} MiB a step"
    )


if __name__ == "__main__":
    main()

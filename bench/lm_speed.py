"""Time to a validation loss on tiny Shakespeare: rnnkit and the PyTorch reference
(../shared/reference/torch_char_lstm.py), same model, settings and thread count, run one
after the other on the same machine (2 cores cannot host both at once fairly).

Settings (the language-model issue): 1-layer LSTM of 512 units, 64-dim character
embedding, batch 64, windows of 100, Adam 2e-3, global clipnorm 5, dropout 0.2 on the
LSTM's outputs, first 90 % train / last 10 % validation; validation loss (nats per
character) every ``--eval-every`` steps, wall time including evaluation.

    PYTHONPATH=src python bench/lm_speed.py --corpus ../shared/data/tinyshakespeare/input.txt \\
        --minutes 8 --target 1.50 --threads 2
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


class _Stop(Exception):
    pass


def run_rnnkit(a) -> dict:
    import numpy as np
    from threadpoolctl import threadpool_limits

    import rnnkit
    from rnnkit import backend
    from rnnkit.callbacks import Callback
    from rnnkit.experiments import lm
    from rnnkit.layers.recurrent import RNN
    from rnnkit.preprocessing.sequence import stream_windows

    # the same thread count as torch, inside the loop too: rnnkit.set_num_threads where
    # this rnnkit has it, else the recurrent layers' BLAS threads
    setter = getattr(rnnkit, "set_num_threads", None) or getattr(backend, "set_num_threads", None)
    if setter is not None:
        setter(a.threads)
        RNN.blas_threads = None
    else:
        RNN.blas_threads = a.threads
    cfg = lm.LMConfig(
        corpus=a.corpus,
        layers=1,
        schedule="none",
        init=a.init,
        units=a.hidden,
        embed_dim=64,
        dropout=0.2,
        window=100,
        batch_size=64,
        learning_rate=2e-3,
        clipnorm=5.0,
        seed=a.seed,
    )
    train_text, val_text = lm.corpus_texts(cfg)
    tok = lm.make_tokenizer(cfg, train_text + val_text)  # the reference's vocabulary: all chars
    vocab = lm.vocab_size(tok)
    tr = np.array(tok.texts_to_sequences([train_text])[0])
    va = np.array(tok.texts_to_sequences([val_text])[0])
    x, y = stream_windows(tr, 64, 100)
    vx, vy = stream_windows(va, 64, 100)
    model = lm.build_model(cfg, vocab)
    if a.adam == "torch":  # PyTorch's Adam exactly: ε = 1e-8 added after the corrections
        from rnnkit import optimizers

        opt = optimizers.Adam(
            learning_rate=2e-3, epsilon=1e-8, epsilon_form="torch", global_clipnorm=5.0
        )
        model.compile(opt, "sparse_categorical_crossentropy")
    log = []
    start = time.perf_counter()

    class Watch(Callback):
        def __init__(self):
            super().__init__()
            self.step = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.model.reset_states()

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if self.step % a.eval_every == 0:
                v = self.model.evaluate(vx, vy, batch_size=64)
                s = time.perf_counter() - start
                log.append((s, self.step, float(v)))
                print(f"rnnkit {s:7.0f}s step {self.step} val {v:.4f}", flush=True)
            if time.perf_counter() - start > a.minutes * 60:
                raise _Stop

    with threadpool_limits(a.threads):
        try:
            model.fit(
                x, y, batch_size=64, epochs=10**6, shuffle=False, verbose=0, callbacks=[Watch()]
            )
        except _Stop:
            pass
    reached = next((s for s, _, v in log if v <= a.target), None)
    best = min((v for _, _, v in log), default=math.nan)
    info = getattr(backend, "kernel_info", None)
    kernel = info() if info is not None else None
    return {"reached": reached, "best": best, "evals": log, "kernel": kernel}


def run_torch(a) -> dict:
    ref = ROOT.parent / "shared" / "reference" / "torch_char_lstm.py"
    if not ref.exists():
        return {"reached": None, "best": math.nan, "error": f"{ref} not found"}
    cmd = [
        sys.executable,
        str(ref),
        "--corpus",
        a.corpus,
        "--hidden",
        str(a.hidden),
        "--minutes",
        str(a.minutes),
        "--target",
        str(a.target),
        "--threads",
        str(a.threads),
        "--eval-every",
        str(a.eval_every),
        "--seed",
        str(a.seed),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ}).stdout
    print(out, flush=True)
    evals = [
        (float(s), int(st), float(v))
        for s, st, v in re.findall(r"(\d+)s epoch \d+ step (\d+) train [\d.]+ val ([\d.]+)", out)
    ]
    reached = next((s for s, _, v in evals if v <= a.target), None)
    best = min((v for _, _, v in evals), default=math.nan)
    return {"reached": reached, "best": best, "evals": evals}


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", required=True)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--minutes", type=float, default=8)
    p.add_argument("--target", type=float, default=1.50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument(
        "--init",
        choices=["torch", "keras"],
        default="torch",
        help="rnnkit's initialisation: PyTorch's (the reference's, default) or Keras's",
    )
    p.add_argument("--seed", type=int, default=0, help="both libraries' random seed")
    p.add_argument(
        "--adam",
        choices=["keras", "torch"],
        default="keras",
        help="rnnkit's Adam: Keras's form (ε = 1e-7 on √v; the runs so far) or PyTorch's "
        "(ε = 1e-8 on √v̂, what the reference runs)",
    )
    p.add_argument("--out", default=str(ROOT / "bench" / "LM_SPEED.md"))
    a = p.parse_args()
    load_before = os.getloadavg()
    ours = run_rnnkit(a)
    theirs = run_torch(a)

    def fmt(r):
        return "never" if r["reached"] is None else f"{r['reached']:.0f} s"

    lines = [
        "# Time to validation loss, tiny Shakespeare: rnnkit vs PyTorch",
        "",
        f"Command: `PYTHONPATH=src python bench/lm_speed.py --corpus {a.corpus} --minutes "
        f"{a.minutes:g} --target {a.target} --threads {a.threads} --eval-every {a.eval_every} "
        f"--init {a.init} --seed {a.seed} --adam {a.adam}`",
        "",
        f"1-layer LSTM {a.hidden}, embedding 64, batch 64, windows 100, Adam 2e-3, clipnorm 5, "
        f"dropout 0.2; rnnkit initialised as {a.init} does, its Adam in {a.adam}'s form; "
        f"validation every {a.eval_every} "
        f"steps; {a.threads} threads each; run one "
        f"after the other; load average before: {load_before[0]:.2f}.",
        "",
        f"CPU: {_cpu_name()}; rnnkit kernel (`rnnkit.backend.kernel_info()`): "
        + (
            ", ".join(f"{k} {v}" for k, v in ours["kernel"].items() if v)
            if ours.get("kernel")
            else "not reported by this rnnkit"
        )
        + ".",
        "",
        f"| library | reached {a.target} at | best validation loss in {a.minutes:g} min | "
        "evaluations |",
        "| --- | --- | --- | --- |",
        f"| rnnkit | {fmt(ours)} | {ours['best']:.4f} | {len(ours['evals'])} |",
        f"| PyTorch {theirs.get('error', '')} | {fmt(theirs)} | {theirs['best']:.4f} | "
        f"{len(theirs['evals'])} |",
        "",
        "rnnkit evaluations (s, step, val): "
        + "; ".join(f"{s:.0f}, {st}, {v:.3f}" for s, st, v in ours["evals"]),
        "",
        "PyTorch evaluations (s, step, val): "
        + "; ".join(f"{s:.0f}, {st}, {v:.3f}" for s, st, v in theirs["evals"]),
        "",
    ]
    Path(a.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

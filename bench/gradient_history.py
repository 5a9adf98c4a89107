"""How gradient flow changes while a model learns the adding problem: trains one of the
long-memory benchmark models with ``fit`` and the ``GradientDiagnostics`` callback, which
writes ``gradient_diagnostics.json`` and its figure into ``--out`` after every epoch.

    PYTHONPATH=src python bench/gradient_history.py --model lstm --steps 100 --epochs 8 \\
        --out runs/gradient_history_lstm

The probe batch is the first 16 test sequences; the model, data and optimizer are those
of ``python -m rnnkit.experiments.long_memory`` (Adam 1e-3, batch 50, 32 units, global
clipnorm 1).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from rnnkit import backend, optimizers  # noqa: E402
from rnnkit.diagnostics import GradientDiagnostics  # noqa: E402
from rnnkit.experiments import long_memory  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=long_memory.MODELS, default="lstm")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--n-train", type=int, default=5000)
    p.add_argument("--units", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--figure", default=None, help="also copy the figure here")
    a = p.parse_args()

    (x, y), (xt, yt) = long_memory.make_data("adding", a.steps, a.n_train, 1000, a.seed)
    backend.set_random_seed(a.seed)
    model = long_memory.build_model(a.model, "adding", a.steps, a.units)
    model.compile(optimizers.Adam(learning_rate=1e-3, global_clipnorm=1.0), "mse")
    cb = GradientDiagnostics(xt[:16], yt[:16], a.out)
    hist = model.fit(
        x, y, batch_size=50, epochs=a.epochs, validation_data=(xt, yt), verbose=0, callbacks=[cb]
    )
    for e, (lo, vl) in enumerate(zip(hist.history["loss"], hist.history["val_loss"]), 1):
        layer = next(iter(cb.records[e]["layers"].values()))
        fit = layer["state_grad_decay"]
        factor = "n/a" if fit is None else f"{fit['factor']:.4f}"
        print(f"epoch {e}: loss {lo:.4f} val_loss {vl:.4f} |dL/dh_t| factor/step {factor}")
    if a.figure:
        shutil.copyfile(os.path.join(a.out, "gradient_diagnostics.png"), a.figure)
    print(json.dumps({"out": a.out, "figure": a.figure}))


if __name__ == "__main__":
    main()

"""rnnkit at another commit against the working tree, in one process, interleaved.

A lever worth 1-5 % is lost in the noise between two processes on a shared machine
(medians of separate runs moved by 3-10 % here). This script extracts ``src/rnnkit`` at
``--base`` (any git revision) into a temporary folder as the package ``rnnkit_base``,
imports it beside the working tree's ``rnnkit``, builds the same layer in both (same
weights) and times their training steps (forward and BPTT) alternately, one thread,
medians (``--adam``: with an Adam update after each, as ``bench/run.py``'s train column):

    PYTHONPATH=src python bench/ab_versions.py --base HEAD~1
    PYTHONPATH=src python bench/ab_versions.py --base 871196e --cells LSTM --shapes small

It prints base / working tree (ms) and their ratio (above 1: the working tree is
faster). Only for changes inside ``src/rnnkit`` that keep the layers' constructor and
``forward`` / ``backward``.
"""

from __future__ import annotations

import argparse
import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))


def extract(base: str, into: Path) -> None:
    """``src/rnnkit`` at ``base`` as the package ``into/rnnkit_base``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", base, "src/rnnkit"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "src" / "rnnkit").rename(into / "rnnkit_base")


def main(argv=None) -> None:
    from run import CELLS, REPS, SHAPES, set_threads

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True, help="git revision to compare against")
    p.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    p.add_argument("--shapes", nargs="+", default=["seeds", "small", "long"], choices=SHAPES)
    p.add_argument("--scale", type=float, default=2.0, help="repetitions: harness's x scale")
    p.add_argument("--adam", action="store_true", help="each step ends with an Adam update")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            extract(a.base, Path(tmp))
        except subprocess.CalledProcessError as err:
            p.error(f"--base {a.base!r}: git archive failed: {err.stderr.decode().strip()}")
        sys.path.insert(0, tmp)
        packages = [
            (importlib.import_module(n + ".layers"), importlib.import_module(n + ".optimizers"))
            for n in ("rnnkit_base", "rnnkit")
        ]
        print(f"cell shape: {a.base} / working tree, training step (ms), ratio")
        with set_threads(1):
            for kind in a.cells:
                for name in a.shapes:
                    steps, batch, n_in, units = SHAPES[name]
                    rng = np.random.default_rng(0)
                    x = rng.standard_normal((batch, steps, n_in)).astype(np.float32)
                    dy = rng.standard_normal((batch, steps, units)).astype(np.float32) / 100
                    fns, weights = [], None
                    for layers, optimizers in packages:
                        layer = getattr(layers, kind)(units, return_sequences=True)
                        layer.ensure_built((steps, n_in))
                        if weights is None:
                            weights = layer.get_weights()
                        layer.set_weights(weights)

                        opt = optimizers.Adam(learning_rate=1e-4) if a.adam else None

                        def step(layer=layer, x=x, dy=dy, opt=opt):
                            layer.forward(x, training=True)
                            layer.backward(dy)
                            if opt is not None:
                                names = list(layer.params)
                                opt.apply(
                                    [layer.params[k] for k in names],
                                    [layer.grads[k] for k in names],
                                )

                        for _ in range(3):
                            step()
                        fns.append(step)
                    times = ([], [])
                    for i in range(max(3, round(REPS[name] * a.scale))):
                        for k in (0, 1) if i % 2 == 0 else (1, 0):
                            t0 = time.perf_counter()
                            fns[k]()
                            times[k].append(time.perf_counter() - t0)
                    old, new = (float(np.median(t)) * 1e3 for t in times)
                    print(f"{kind} {name}: {old:.3f} / {new:.3f} ms, {old / new:.3f}", flush=True)


if __name__ == "__main__":
    main()

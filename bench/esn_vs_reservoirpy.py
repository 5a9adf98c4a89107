"""Echo state network on Mackey-Glass (τ = 17): rnnkit against reservoirpy, one process.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python bench/esn_vs_reservoirpy.py \\
        --units 500 --seeds 10 [--plot docs/img/esn_mackey_glass.png] [--json out.json]

The issue's settings for both libraries: leak rate 0.3, spectral radius 1.25, input
scaling 1, ridge 1e-7, 3,000 teacher-forced training steps, washout 100, the series
scaled to [-1, 1]. Both read the same series, rnnkit's own Mackey-Glass
(RK4, dt = 0.1, sampled every 1.0, the first ``--discard`` samples dropped), and are
scored by the same function (rnnkit.models.esn.nrmse: RMSE over the range of the true
window, reservoirpy's default normalisation):

* one-step: from the zero state, read s_0 … s_3499 teacher-forced and forecast
  s_1 … s_3500; score the 500 forecasts after the training part (s_3001 … s_3500);
* free-running: from the zero state, read the training inputs s_0 … s_2999, then
  close the loop for 84 steps (each output becomes the next input); score against
  s_3000 … s_3083;
* fit time: wall time of building the reservoir (with its spectral radius) and
  fitting the readout on the 3,000 steps, per seed.

The reservoirs differ in their random draws (rnnkit: W standard normal with 10 %
connectivity, W_in and bias uniform in [-1, 1] and dense; reservoirpy 0.4.2 defaults:
W normal with 10 % connectivity, W_in Bernoulli ±1 with 10 % input connectivity, no
bias), so the main comparison is of two ESN implementations with the same
hyperparameters, not of identical networks. ``--same-weights`` adds reservoirpy run
on rnnkit's own reservoir matrices, which checks the two implementations against each
other (their figures should then agree closely). Without reservoirpy installed,
rnnkit's figures are printed alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from rnnkit.datasets.tasks import mackey_glass, scale_to_range
from rnnkit.models.esn import EchoStateNetwork, nrmse

SETTINGS = dict(leak_rate=0.3, spectral_radius=1.25, input_scaling=1.0, ridge=1e-7, washout=100)
TRAIN, ONE_STEP, FREE = 3000, 500, 84


def series(discard: int) -> np.ndarray:
    raw = mackey_glass(TRAIN + ONE_STEP + 1, tau=17.0, discard=discard)
    return scale_to_range(raw)[:, None]


def run_rnnkit(s: np.ndarray, units: int, seed: int) -> dict:
    t0 = time.perf_counter()
    esn = EchoStateNetwork(units=units, seed=seed, **SETTINGS)
    esn.fit(s[:TRAIN], s[1 : TRAIN + 1])
    fit_s = time.perf_counter() - t0
    one = esn.predict(s[: TRAIN + ONE_STEP])[TRAIN:]  # forecasts of s_3001 … s_3500
    esn.run(s[:TRAIN])
    free = esn.generate(FREE)  # forecasts of s_3000 … s_3083
    return {
        "fit_s": fit_s,
        "one_step": nrmse(s[TRAIN + 1 : TRAIN + ONE_STEP + 1], one),
        "free": nrmse(s[TRAIN : TRAIN + FREE], free),
        "free_curve": free[:, 0],
    }


def run_reservoirpy(s: np.ndarray, units: int, seed: int, same_weights: bool = False) -> dict:
    """reservoirpy's own reservoir, or (``same_weights``) rnnkit's weights of the same
    seed handed to reservoirpy (its column convention: W·x, so the transposes)."""
    from reservoirpy.nodes import Reservoir, Ridge

    t0 = time.perf_counter()
    if same_weights:
        esn = EchoStateNetwork(units=units, seed=seed, **SETTINGS).initialize(1)
        reservoir = Reservoir(lr=SETTINGS["leak_rate"], W=esn.W.T, Win=esn.W_in.T, bias=esn.bias)
    else:
        reservoir = Reservoir(
            units,
            lr=SETTINGS["leak_rate"],
            sr=SETTINGS["spectral_radius"],
            input_scaling=SETTINGS["input_scaling"],
            seed=seed,
        )
    readout = Ridge(ridge=SETTINGS["ridge"])
    model = reservoir >> readout
    model.fit(s[:TRAIN], s[1 : TRAIN + 1], warmup=SETTINGS["washout"])
    fit_s = time.perf_counter() - t0

    reservoir.reset()
    one = model.run(s[: TRAIN + ONE_STEP])[TRAIN:]
    reservoir.reset()
    teacher = model.run(s[:TRAIN])
    y = teacher[-1]  # forecast of s_3000
    free = np.empty((FREE, 1))
    for t in range(FREE):
        free[t] = y
        y = model.step(y)
    return {
        "fit_s": fit_s,
        "one_step": nrmse(s[TRAIN + 1 : TRAIN + ONE_STEP + 1], one),
        "free": nrmse(s[TRAIN : TRAIN + FREE], free),
        "free_curve": free[:, 0],
    }


def summary(values) -> str:
    v = np.asarray(values, dtype=float)
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return f"median {med:.3g}  IQR [{q1:.3g}, {q3:.3g}]  range [{v.min():.3g}, {v.max():.3g}]"


def stats(values) -> dict:
    v = np.asarray(values, dtype=float)
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return {"median": med, "q1": q1, "q3": q3, "min": v.min(), "max": v.max()}


def plot(s, curves: dict, path: str, units: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(9, 5.4), gridspec_kw={"height_ratios": [2, 1]})
    t = np.arange(TRAIN - 150, TRAIN + FREE)
    axes[0].plot(t, s[t, 0], color="k", linewidth=1.2, label="Mackey-Glass (τ = 17), scaled")
    tf = np.arange(TRAIN, TRAIN + FREE)
    for label, curve in curves.items():
        axes[0].plot(tf, curve, "--", linewidth=1.1, label=f"{label}: 84 steps free-running")
        axes[1].semilogy(tf - TRAIN + 1, np.abs(curve - s[tf, 0]) + 1e-12, label=label)
    axes[0].axvline(TRAIN - 0.5, color="gray", linestyle=":", linewidth=0.8)
    axes[0].set_xlabel("time step (training ends at the dotted line)")
    axes[0].legend(fontsize=8, loc="lower left")
    axes[0].set_title(f"ESN, {units} units, seed 0: closed-loop forecast against the truth")
    axes[1].set_xlabel("steps ahead")
    axes[1].set_ylabel("|error|")
    axes[1].grid(True, alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--units", type=int, nargs="+", default=[500])
    p.add_argument("--seeds", type=int, default=10, help="seeds 0 … N-1 (default 10)")
    p.add_argument("--discard", type=int, default=200, help="transient samples dropped")
    p.add_argument("--plot", default=None, help="PNG of seed 0's free run (first --units)")
    p.add_argument("--json", default=None, help="write the per-seed figures here")
    p.add_argument("--no-reservoirpy", action="store_true", help="rnnkit alone")
    p.add_argument(
        "--same-weights",
        action="store_true",
        help="also run reservoirpy on rnnkit's reservoir weights (a cross-check of the "
        "update, the readout and the closed loop: the figures should agree)",
    )
    args = p.parse_args(argv)

    s = series(args.discard)
    libs = {"rnnkit": run_rnnkit}
    if not args.no_reservoirpy:
        try:
            import reservoirpy

            libs[f"reservoirpy {reservoirpy.__version__}"] = run_reservoirpy
            if args.same_weights:
                libs[f"reservoirpy {reservoirpy.__version__}, rnnkit's weights"] = (
                    lambda s, units, seed: run_reservoirpy(s, units, seed, same_weights=True)
                )
        except ImportError:
            print("reservoirpy is not installed: rnnkit's figures alone", file=sys.stderr)
    print(
        f"Mackey-Glass tau=17, {TRAIN} training steps, washout {SETTINGS['washout']}, "
        f"{args.seeds} seeds, numpy {np.__version__}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )
    report = {"settings": SETTINGS, "discard": args.discard, "results": {}}
    for units in args.units:
        curves = {}
        for name, fn in libs.items():
            rows = [fn(s, units, seed) for seed in range(args.seeds)]
            curves[name] = rows[0]["free_curve"]
            report["results"][f"{name}/{units}"] = {
                key: {"per_seed": [r[key] for r in rows], **stats([r[key] for r in rows])}
                for key in ("one_step", "free", "fit_s")
            }
            print(f"\n{name}, {units} units")
            print(f"  one-step NRMSE       {summary([r['one_step'] for r in rows])}")
            print(f"  84-step free NRMSE   {summary([r['free'] for r in rows])}")
            print(f"  fit time (s)         {summary([r['fit_s'] for r in rows])}")
        if args.plot and units == args.units[0]:
            plot(s, curves, args.plot, units)
            print(f"\nwrote {args.plot}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())

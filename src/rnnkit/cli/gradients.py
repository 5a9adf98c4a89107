"""``rnnkit gradients``: how fast does the gradient vanish or explode through time?

    rnnkit gradients --cell rnn|lstm|gru --activation tanh|relu \\
        --init glorot|orthogonal|identity --steps 200 [--units 64] [--seed 0] [--out DIR]
    rnnkit gradients --model RUN/model.rnnkit [--data X.npy [--targets Y.npy]] [--layer NAME]

Draws |dL/dh_t| and the Jacobian-product norm ‖dh_T/dh_t‖ against the distance T - t
(log scale) for a freshly initialised layer on random input, or for a saved model on
its data, and prints the fitted per-step factor of each curve. The numbers come from
:mod:`rnnkit.diagnostics`; this module only parses options and prints.
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np


def add_gradients(sub) -> None:
    """Register the ``gradients`` subcommand on an argparse subparsers object."""
    from ..diagnostics import ACTIVATION_CHOICES, CELL_CHOICES, INIT_CHOICES
    from .main import _positive_int

    p = sub.add_parser(
        "gradients",
        help="plot how |dL/dh_t| and dh_T/dh_t decay or grow over time steps",
        description="Measure the gradient flow through a recurrent layer: the norm of "
        "dL/dh_t from backpropagation through time and the Frobenius norm of the Jacobian "
        "product dh_T/dh_t, against the distance T - t. Writes a PNG (log scale) and a "
        "JSON file and prints the fitted per-step decay (< 1) or growth (> 1) factor.",
    )
    p.add_argument("--cell", choices=CELL_CHOICES, default="rnn", help="default rnn")
    p.add_argument("--activation", choices=ACTIVATION_CHOICES, default="tanh")
    p.add_argument(
        "--init",
        choices=tuple(INIT_CHOICES),
        default="glorot",
        help="recurrent initializer (identity with relu is the IRNN); default glorot",
    )
    p.add_argument(
        "--gain",
        type=_positive_number,
        default=1.0,
        help="multiply the initial recurrent weights by this (default 1)",
    )
    p.add_argument(
        "--steps",
        type=_positive_int,
        default=200,
        help=f"sequence length T (default 200, at most {MAX_STEPS:,})",
    )
    p.add_argument(
        "--units", type=_positive_int, default=64, help=f"default 64, at most {MAX_UNITS:,}"
    )
    p.add_argument("--features", type=_positive_int, default=1, help="input features")
    p.add_argument("--batch", type=_positive_int, default=16, help="sequences in the batch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default=None, help="a saved model (rnnkit.models.load_model)")
    p.add_argument(
        "--data", default=None, help="input batch for --model, a .npy array (samples, T, ...)"
    )
    p.add_argument(
        "--targets",
        default=None,
        help="targets for --data (.npy); without them only the Jacobian product is measured",
    )
    p.add_argument("--layer", default=None, help="recurrent layer to measure (default: first)")
    p.add_argument("--out", default=None, help="output folder (default runs/gradients-<time>)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the report in a non-empty --out folder (refused otherwise)",
    )
    p.set_defaults(func=_cmd_gradients)


#: The longest sequence ``rnnkit gradients`` measures: each step costs one Jacobian
#: product of the state size squared, so T = 10**8 would run for days.
MAX_STEPS = 100_000
#: The widest fresh layer it measures: an LSTM's Jacobian is (2 units)^2 per step.
MAX_UNITS = 1024


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _load_npy(path: str, argument: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{argument}: no such file {path!r}")
    try:
        # memory-mapped: a header that declares more than the file holds is refused
        # here instead of allocating it; only the rows used are then copied
        loaded = np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{argument}: {path!r} is not a readable .npy array ({exc})") from None
    if not isinstance(loaded, np.ndarray):  # an .npz archive
        loaded.close()
        raise ValueError(f"{argument}: {path!r} is not a readable .npy array (an .npz archive)")
    if loaded.ndim == 0:
        raise ValueError(f"{argument}: {path!r} holds a scalar, expected an array of samples")
    return loaded


def _from_saved_model(args):
    from ..diagnostics import recurrent_layers
    from ..layers import Embedding
    from ..models import load_model

    model = load_model(args.model)
    layers = recurrent_layers(model)
    if not layers:
        raise ValueError(f"--model: {args.model!r} has no recurrent layer")
    if args.layer is None:
        layer = layers[0]
    else:
        named = [layer for layer in layers if layer.name == args.layer]
        if not named:
            raise ValueError(
                f"--layer: expected one of {[layer.name for layer in layers]}, got {args.layer!r}"
            )
        layer = named[0]
    if args.data is not None:
        x = np.array(_load_npy(args.data, "--data")[: args.batch])
    elif isinstance(model.layers[0], Embedding):
        raise ValueError("--data: a model that starts with an Embedding needs token ids")
    else:
        shape = model._input_shape
        steps = shape[0] if shape[0] is not None else args.steps
        x = np.random.default_rng(args.seed).normal(size=(args.batch, steps) + tuple(shape[1:]))
    y = None
    if args.targets is not None:
        if args.data is None:
            raise ValueError("--targets: give the inputs with --data too")
        if model.loss is None:
            raise ValueError(f"--targets: {args.model!r} was saved without a loss (not compiled)")
        y = np.array(_load_npy(args.targets, "--targets")[: args.batch])
    return model, x, y, layer


def _cmd_gradients(args) -> int:
    from .. import diagnostics, runs

    if args.model is None:
        if args.data is not None or args.targets is not None or args.layer is not None:
            raise ValueError("--data, --targets and --layer need --model")
    elif args.gain != 1:
        raise ValueError("--gain applies to a fresh layer, not to --model")
    if args.steps > MAX_STEPS:
        raise ValueError(f"--steps: at most {MAX_STEPS:,}, got {args.steps:,}")
    if args.model is None and args.units > MAX_UNITS:
        raise ValueError(f"--units: at most {MAX_UNITS:,}, got {args.units:,}")
    if args.out is not None:
        runs.check_out_dir(args.out, args.overwrite)
    if args.model is None:
        state = args.units * (2 if args.cell == "lstm" else 1)
        # float64: the batch, every step's cached gates and states for BPTT, and the
        # Jacobian product with its per-step factor
        runs.ensure_fits(
            8 * args.batch * args.steps * (args.features + 8 * args.units) + 8 * 3 * state**2,
            f"a {args.cell} of {args.units} units over {args.steps:,} steps, batch {args.batch}",
            "--steps, --units or --batch",
        )
        model, x, y = diagnostics.fresh_probe_model(
            args.cell,
            args.activation,
            args.init,
            args.units,
            args.steps,
            args.features,
            args.batch,
            args.seed,
            args.gain,
        )
        layer = None
        what = (
            f"fresh {args.cell.upper() if args.cell != 'rnn' else 'SimpleRNN'}({args.units}, "
            f"{args.activation}), recurrent init {args.init}"
            + (f" x {args.gain:g}" if args.gain != 1 else "")
            + f", seed {args.seed}"
        )
    else:
        model, x, y, layer = _from_saved_model(args)
        what = f"model {args.model}"
    report = diagnostics.decay_report(model, x, y, layer=layer)
    report["setting"] = {
        k: getattr(args, k)
        for k in (
            "cell",
            "activation",
            "init",
            "gain",
            "units",
            "steps",
            "features",
            "batch",
            "seed",
        )
    } | {"model": args.model, "data": args.data, "targets": args.targets}

    out = (
        runs.new_run_dir(prefix="gradients")
        if args.out is None
        else runs.prepare_out_dir(args.out, args.overwrite)
    )
    png = os.path.join(out, "gradient_decay.png")
    title = f"{what}\nlayer {report['layer']}, T = {report['steps']}"
    written = diagnostics.plot_decay(report, png, title=title)
    runs.write_json(os.path.join(out, "gradients.json"), {"kind": "gradients", **report})

    print(f"{what}: layer {report['layer']} ({report['cell']}), T = {report['steps']}")
    radii = ", ".join(f"{k} {v:.3f}" for k, v in report["spectral_radius"].items())
    print(f"spectral radius: {radii}")
    rows = []
    if report["state_grad_norm"] is not None:
        rows.append(("|dL/dh_t|", report["state_grad_norm"], report["state_grad_decay"]))
    else:
        print("|dL/dh_t|: not measured (no targets; give --data and --targets)")
    names = {"h": "|dh_T/dh_t|_F", "c": "|dh_T/dc_t|_F", "state": "|dh_T/d(h,c)_t|_F"}
    for key, values in report["jacobian"].items():
        rows.append((names[key], values, report["jacobian_decay"][key]))
    for label, values, fit in rows:
        first, last = values[-1], values[0]
        factor = "n/a (fewer than two positive norms)" if fit is None else f"{fit['factor']:.4f}"
        print(
            f"{label:<20} per-step factor {factor}   norm at distance 0: {first:.3e}, at "
            f"{report['steps'] - 1}: {last:.3e}"
        )
    if written is None:
        from .. import plotting

        plotting.notice_if_missing()
    print(f"wrote {written or '(no matplotlib: no PNG)'} and {os.path.join(out, 'gradients.json')}")
    return 0


__all__ = ["add_gradients"]

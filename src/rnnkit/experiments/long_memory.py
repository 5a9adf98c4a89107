"""Long-range memory benchmarks: which recurrent models learn dependencies T steps back?

The table of the gradients guide (docs/gradients.md): a tanh RNN (Glorot or
orthogonal recurrent weights), the IRNN (ReLU, identity; Le et al. 2015), an LSTM and
a GRU, each trained with and without gradient clipping by global norm, on the adding
problem (or the copy-memory task) for several lengths T. Each row says whether the
model solved the task (adding: test MSE < 0.01, as Le et al.; copy: test
cross-entropy below 10 % of the memoryless baseline), after how many updates (the
first evaluation below the threshold; training stops there), and the final test loss.

Run it as a module (``--help`` lists the options)::

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python -m rnnkit.experiments.long_memory \\
        --task adding --steps 50 100 --max-updates 3000 --out runs/long_memory

or draw the clipping figure (one exploding run with and without clipping)::

    python -m rnnkit.experiments.long_memory --clipping-demo docs/img/clipping.png

The training data is a fixed set drawn from one seed and the test set from an
independent stream (:func:`rnnkit.datasets.tasks.adding_problem_split`); every model of
a row sees the same data in the same order and starts from the same global seed.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from collections.abc import Callable

import numpy as np

from .. import backend, optimizers
from ..datasets import tasks
from ..layers import GRU, LSTM, Dense, SimpleRNN
from ..models import Sequential
from ..utils.io import atomic_write

MODELS = ("tanh_glorot", "tanh_orthogonal", "irnn", "lstm", "gru")
TASKS = ("adding", "copy")
COPY_SOLVED_FRACTION = 0.1


@dataclasses.dataclass
class LongMemoryConfig:
    """Settings of :func:`run`.

    Attributes:
        task: ``"adding"`` or ``"copy"``.
        steps: the lengths T to try (adding: the sequence length; copy: the delay).
        models: names from :data:`MODELS`.
        clipping: for each model, train without (False) and/or with (True) clipping.
        clipnorm: the global-norm cap used when clipping (Pascanu et al. 2013).
        units: recurrent units.
        optimizer: ``"adam"``, ``"sgd"``, ``"rmsprop"`` …
        learning_rate: step size.
        batch_size: samples per update.
        max_updates: cap on the optimizer updates per run.
        eval_every: evaluate on the test set every this many updates.
        n_train, n_test: data set sizes.
        seed: data and weights.
    """

    task: str = "adding"
    steps: tuple[int, ...] = (50, 100)
    models: tuple[str, ...] = MODELS
    clipping: tuple[bool, ...] = (False, True)
    clipnorm: float = 1.0
    units: int = 32
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    batch_size: int = 32
    max_updates: int = 3000
    eval_every: int = 100
    n_train: int = 10000
    n_test: int = 1000
    seed: int = 0

    def validate(self) -> LongMemoryConfig:
        """Check every field; returns self.

        Raises:
            ValueError: naming the field, the expected and the received value.
        """
        if self.task not in TASKS:
            raise ValueError(
                f"Received an invalid value for argument task, expected one of {list(TASKS)}, "
                f"got {self.task!r}."
            )
        unknown = [m for m in self.models if m not in MODELS]
        if unknown or not self.models:
            raise ValueError(
                f"Received an invalid value for argument models, expected names from "
                f"{list(MODELS)}, got {list(self.models)!r}."
            )
        for name in ("units", "batch_size", "max_updates", "eval_every", "n_train", "n_test"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"Received an invalid value for argument {name}, expected a positive "
                    f"integer, got {value!r}."
                )
        if not self.steps or any(
            isinstance(t, bool) or not isinstance(t, int) or t < 2 for t in self.steps
        ):
            raise ValueError(
                f"Received an invalid value for argument steps, expected integers >= 2, got "
                f"{list(self.steps)!r}."
            )
        for name in ("clipnorm", "learning_rate"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(
                    f"Received an invalid value for argument {name}, expected a positive "
                    f"number, got {value!r}."
                )
        if not self.clipping:
            raise ValueError("Received an invalid value for argument clipping: an empty list.")
        return self


def build_model(name: str, task: str, steps: int, units: int) -> Sequential:
    """One benchmark model: a recurrent layer and a linear (adding) or softmax (copy)
    read-out.

    Args:
        name: one of :data:`MODELS`.
        task: ``"adding"`` or ``"copy"``.
        steps: T (adding: sequence length; copy: delay).
        units: recurrent units.

    Returns:
        an uncompiled Sequential model.

    Raises:
        ValueError: an unknown model name.
    """
    if task == "adding":
        shape, seq, head = (steps, 2), False, Dense(1)
    else:
        shape, seq, head = (steps + 20, 10), True, Dense(10, activation="softmax")
    common = {"input_shape": shape, "return_sequences": seq}
    layers = {
        "tanh_glorot": lambda: SimpleRNN(
            units, activation="tanh", recurrent_initializer="glorot_uniform", **common
        ),
        "tanh_orthogonal": lambda: SimpleRNN(
            units, activation="tanh", recurrent_initializer="orthogonal", **common
        ),
        "irnn": lambda: SimpleRNN(
            units, activation="relu", recurrent_initializer="identity", **common
        ),
        "lstm": lambda: LSTM(units, **common),
        "gru": lambda: GRU(units, **common),
    }
    if name not in layers:
        raise ValueError(
            f"Received an invalid value for argument name, expected one of {list(MODELS)}, "
            f"got {name!r}."
        )
    return Sequential([layers[name](), head])


def make_data(task: str, steps: int, n_train: int, n_test: int, seed: int):
    """((x_train, y_train), (x_test, y_test)) for the task, test from its own stream."""
    if task == "adding":
        return tasks.adding_problem_split(n_train, n_test, steps, seed)
    return tasks.copy_memory_split(n_train, n_test, steps, seed=seed)


def solved_threshold(task: str, steps: int) -> float:
    """The test loss below which the task counts as solved."""
    if task == "adding":
        return tasks.ADDING_SOLVED_MSE
    return COPY_SOLVED_FRACTION * tasks.copy_memory_baseline(steps)


def baseline_loss(task: str, steps: int) -> float:
    """The test loss of the best memoryless strategy."""
    if task == "adding":
        return tasks.ADDING_BASELINE_MSE
    return tasks.copy_memory_baseline(steps)


def train_run(
    model_name: str,
    steps: int,
    clip: bool,
    config: LongMemoryConfig,
    data=None,
    trace: bool = False,
    save_dir=None,
) -> dict:
    """Train one model on one length; stop when solved or after ``max_updates``.

    Args:
        model_name: one of :data:`MODELS`.
        steps: T.
        clip: cap the global gradient norm at ``config.clipnorm``.
        config: the settings.
        data: the output of :func:`make_data` (drawn here when None).
        trace: also return the training loss and the (pre-clipping) global gradient
            norm of every update.
        save_dir: if given, save the trained model there as
            ``<task>_T<steps>_<model>_<clip|noclip>.rnnkit``, with the first 64 test
            samples as ``<task>_T<steps>_x.npy`` / ``_y.npy`` (for ``rnnkit gradients
            --model ... --data ... --targets ...``).

    Returns:
        a row: task, steps, model, clip, solved, updates_to_solve (None if not
        solved), final_test_loss, best_test_loss, updates, diverged, max_grad_norm,
        seconds (and ``trace`` when asked).
    """
    config.validate()
    if data is None:
        data = make_data(config.task, steps, config.n_train, config.n_test, config.seed)
    (x_tr, y_tr), (x_te, y_te) = data
    backend.set_random_seed(config.seed)
    model = build_model(model_name, config.task, steps, config.units)
    opt_kwargs = {"learning_rate": config.learning_rate}
    if clip:
        opt_kwargs["global_clipnorm"] = config.clipnorm
    optimizers.get(config.optimizer)  # a clear error for an unknown name
    optimizer = optimizers.deserialize(
        {"class_name": config.optimizer.lower(), "config": opt_kwargs}
    )
    loss = "mse" if config.task == "adding" else "sparse_categorical_crossentropy"
    model.compile(optimizer=optimizer, loss=loss)
    threshold = solved_threshold(config.task, steps)
    order_rng = np.random.default_rng(config.seed + 1)
    n, bs = len(x_tr), config.batch_size
    order, cursor = order_rng.permutation(n), 0
    losses, norms = [], []
    best = final = math.inf
    solved_at = None
    diverged = False
    start = time.perf_counter()
    update = 0
    while update < config.max_updates:
        if cursor + bs > n:
            order, cursor = order_rng.permutation(n), 0
        idx = np.sort(order[cursor : cursor + bs])
        cursor += bs
        batch_loss = model.train_on_batch(x_tr[idx], y_tr[idx])
        update += 1
        grad_norm = optimizers.global_norm(model.gradients())
        losses.append(float(batch_loss))
        norms.append(grad_norm)
        if not (math.isfinite(batch_loss) and math.isfinite(grad_norm)):
            diverged, final = True, math.nan
            break
        if update % config.eval_every == 0 or update == config.max_updates:
            final = float(model.evaluate(x_te, y_te, batch_size=500))
            if not math.isfinite(final):
                diverged = True
                break
            best = min(best, final)
            if final < threshold:
                solved_at = update
                break
    finite_norms = [g for g in norms if math.isfinite(g)]
    row = {
        "task": config.task,
        "steps": steps,
        "model": model_name,
        "clip": clip,
        "solved": solved_at is not None,
        "updates_to_solve": solved_at,
        "final_test_loss": final,
        "best_test_loss": best if math.isfinite(best) else None,
        "updates": update,
        "diverged": diverged,
        "max_grad_norm": max(finite_norms) if finite_norms else None,
        "seconds": time.perf_counter() - start,
    }
    if trace:
        row["trace"] = {"loss": losses, "grad_norm": norms}
    if save_dir is not None:
        os.makedirs(save_dir, exist_ok=True)
        stem = os.path.join(save_dir, f"{config.task}_T{steps}")
        model.save(f"{stem}_{model_name}_{'clip' if clip else 'noclip'}.rnnkit")
        for suffix, arr in (("x", x_te[:64]), ("y", y_te[:64])):
            with atomic_write(f"{stem}_{suffix}.npy") as f:  # never half a file
                np.save(f, arr)
    return row


def run(
    config: LongMemoryConfig, out_dir=None, echo: Callable | None = print, save_dir=None
) -> dict:
    """The whole table: every T × model × clipping setting of ``config``.

    Args:
        config: the settings.
        out_dir: write ``long_memory.json`` (config and rows, rewritten after every
            run) there, if given.
        echo: prints one line per finished run (None for silence).
        save_dir: save every trained model there (see :func:`train_run`).

    Returns:
        ``{"config": ..., "threshold": ..., "rows": [...]}``.
    """
    from ..runs import environment, write_json

    config.validate()
    results = {
        "config": dataclasses.asdict(config),
        "environment": environment(),
        "rows": [],
    }
    for steps in config.steps:
        data = make_data(config.task, steps, config.n_train, config.n_test, config.seed)
        for name in config.models:
            for clip in config.clipping:
                row = train_run(name, steps, clip, config, data, save_dir=save_dir)
                results["rows"].append(row)
                if echo is not None:
                    echo(format_row(row))
                if out_dir is not None:
                    write_json(os.path.join(out_dir, "long_memory.json"), results)
    return results


def format_row(row: dict) -> str:
    solved = f"yes @ {row['updates_to_solve']}" if row["solved"] else "no"
    final = "diverged" if row["diverged"] else f"{row['final_test_loss']:.4f}"
    return (
        f"T={row['steps']:<4} {row['model']:<16} clip={'yes' if row['clip'] else 'no ':<3}  "
        f"solved: {solved:<12} final test loss {final:<9} updates {row['updates']:<5} "
        f"({row['seconds']:.0f} s)"
    )


def format_table(rows: list[dict]) -> str:
    """A Markdown table of the rows."""
    lines = [
        "| T | model | clipping | solved | updates to solve | final test loss | updates run "
        "| max grad norm | time (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        final = "diverged" if r["diverged"] else f"{r['final_test_loss']:.4f}"
        gmax = "" if r["max_grad_norm"] is None else f"{r['max_grad_norm']:.3g}"
        lines.append(
            f"| {r['steps']} | {r['model']} | {'global norm' if r['clip'] else 'none'} | "
            f"{'yes' if r['solved'] else 'no'} | {r['updates_to_solve'] or '–'} | {final} | "
            f"{r['updates']} | {gmax} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines)


# ---- the clipping figure --------------------------------------------------------
def clipping_demo(
    path,
    model_name: str = "irnn",
    steps: int = 100,
    updates: int = 400,
    optimizer: str = "sgd",
    learning_rate: float = 0.01,
    clipnorm: float = 1.0,
    units: int = 32,
    seed: int = 0,
) -> dict:
    """Train the same model from the same start twice, without and with clipping by
    global norm, and plot the per-update training loss and gradient norm.

    Returns:
        ``{"no_clip": row, "clip": row, "png": path or None}`` (rows with traces).
    """
    from ..plotting import _pyplot, _save

    config = LongMemoryConfig(
        steps=(steps,),
        models=(model_name,),
        clipnorm=clipnorm,
        units=units,
        optimizer=optimizer,
        learning_rate=learning_rate,
        max_updates=updates,
        eval_every=updates,
        n_train=4000,
        n_test=500,
        seed=seed,
    ).validate()
    data = make_data("adding", steps, config.n_train, config.n_test, seed)
    runs = {
        label: train_run(model_name, steps, clip, config, data, trace=True)
        for label, clip in (("no_clip", False), ("clip", True))
    }
    plt = _pyplot()
    png = None
    if plt is not None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
        for label, row in runs.items():
            name = "no clipping" if label == "no_clip" else f"global norm clipped at {clipnorm:g}"
            loss = np.asarray(row["trace"]["loss"], dtype=float)
            gnorm = np.asarray(row["trace"]["grad_norm"], dtype=float)
            loss = np.where(np.isfinite(loss), loss, np.nan)
            gnorm = np.where(np.isfinite(gnorm), gnorm, np.nan)
            x = np.arange(1, len(loss) + 1)
            if row["diverged"]:
                name += f" (NaN at update {len(loss)})"
            style = {"marker": "x"} if len(loss) < 20 else {}
            axes[0].semilogy(x, loss, label=name, linewidth=0.9, **style)
            axes[1].semilogy(x, gnorm, label=name, linewidth=0.9, **style)
        axes[0].axhline(tasks.ADDING_BASELINE_MSE, color="gray", linestyle="--", linewidth=0.8)
        axes[0].set_title("training loss (MSE); dashed: predict 1.0")
        axes[1].set_title("global gradient norm before clipping")
        axes[0].set_ylabel("mean squared error (log scale)")
        axes[1].set_ylabel("L2 norm of all gradients (log scale)")
        for ax in axes:
            ax.set_xlabel("update")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(
            f"{model_name}, adding problem T = {steps}, {optimizer} lr {learning_rate:g}",
            fontsize=10,
        )
        png = _save(fig, path)
        plt.close(fig)
    return {**runs, "png": png}


# ---- command line ---------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    d = LongMemoryConfig()
    p = argparse.ArgumentParser(
        prog="python -m rnnkit.experiments.long_memory",
        description="Long-range memory benchmark table (adding problem / copy memory), or "
        "the clipping figure.",
    )
    p.add_argument("--task", choices=TASKS, default=d.task)
    p.add_argument("--steps", type=int, nargs="+", default=list(d.steps), help="lengths T")
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(d.models))
    p.add_argument(
        "--clipping",
        choices=("both", "none", "global"),
        default="both",
        help="train without clipping, with global-norm clipping, or both (default)",
    )
    p.add_argument("--clipnorm", type=float, default=d.clipnorm)
    p.add_argument("--units", type=int, default=d.units)
    p.add_argument("--optimizer", default=d.optimizer)
    p.add_argument("--learning-rate", type=float, default=d.learning_rate)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--max-updates", type=int, default=d.max_updates)
    p.add_argument("--eval-every", type=int, default=d.eval_every)
    p.add_argument("--n-train", type=int, default=d.n_train)
    p.add_argument("--n-test", type=int, default=d.n_test)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--out", default=None, help="folder for long_memory.json")
    p.add_argument("--save-models", default=None, metavar="DIR", help="save trained models")
    p.add_argument(
        "--clipping-demo",
        metavar="PNG",
        default=None,
        help="instead of the table, draw one run of the first --models entry with and "
        "without clipping (SGD by default) to this PNG",
    )
    p.add_argument("--demo-updates", type=int, default=400, help="updates per demo run")
    p.add_argument("--demo-optimizer", default="sgd", help="optimizer of the demo (sgd)")
    p.add_argument("--demo-learning-rate", type=float, default=0.01)
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.clipping_demo is not None:
            out = clipping_demo(
                args.clipping_demo,
                model_name=args.models[0],
                steps=args.steps[0],
                updates=args.demo_updates,
                optimizer=args.demo_optimizer,
                learning_rate=args.demo_learning_rate,
                clipnorm=args.clipnorm,
                units=args.units,
                seed=args.seed,
            )
            for label in ("no_clip", "clip"):
                row = out[label]
                print(
                    f"{label:<8} diverged={row['diverged']} updates={row['updates']} "
                    f"final test MSE={row['final_test_loss']:.4f} "
                    f"max grad norm={row['max_grad_norm']:.3g}"
                )
            print(f"wrote {out['png']}")
            return 0
        clipping = {"both": (False, True), "none": (False,), "global": (True,)}[args.clipping]
        config = LongMemoryConfig(
            task=args.task,
            steps=tuple(args.steps),
            models=tuple(args.models),
            clipping=clipping,
            clipnorm=args.clipnorm,
            units=args.units,
            optimizer=args.optimizer,
            learning_rate=args.learning_rate,
            batch_size=args.batch_size,
            max_updates=args.max_updates,
            eval_every=args.eval_every,
            n_train=args.n_train,
            n_test=args.n_test,
            seed=args.seed,
        )
        results = run(config, out_dir=args.out, save_dir=args.save_models)
    except (ValueError, TypeError) as exc:
        print(f"long_memory: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    print()
    print(format_table(results["rows"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

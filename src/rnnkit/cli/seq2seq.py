"""``rnnkit seq2seq train`` and ``rnnkit seq2seq run``."""

from __future__ import annotations

import argparse


def register(sub, positive_int) -> None:
    from ..datasets.seq2seq import MAX_EXAMPLES
    from ..experiments.seq2seq import TASKS, Seq2SeqConfig
    from ..generation import MAX_BEAM_WIDTH

    s2s = sub.add_parser("seq2seq", help="sequence-to-sequence tasks: every sequence shape")
    s2s_sub = s2s.add_subparsers(dest="seq2seq_command", metavar="SEQ2SEQ_COMMAND")
    s2s_sub.required = True
    t = s2s_sub.add_parser(
        "train",
        help="train a model on a generated task",
        description="Generate the task's data (test set disjoint from the "
        "training set), train, report exact match, write a run folder.",
    )
    d = Seq2SeqConfig()
    # options that decide the run default to None, so that with --resume a typed
    # option can be told from a default (and refused if it differs from the run's)
    t.add_argument("--task", choices=TASKS, default=None, help="required for a new run")
    t.add_argument(
        "--n-train",
        type=positive_int,
        default=None,
        help=f"training examples ({d.n_train}; with --n-test at most {MAX_EXAMPLES:,})",
    )
    t.add_argument("--n-test", type=positive_int, default=None, help=f"default {d.n_test}")
    t.add_argument("--units", type=positive_int, default=None, help=f"default {d.units}")
    t.add_argument("--embed-dim", type=positive_int, default=None, help=f"default {d.embed_dim}")
    t.add_argument("--epochs", type=positive_int, default=None, help=f"default {d.epochs}")
    t.add_argument("--batch-size", type=positive_int, default=None, help=f"default {d.batch_size}")
    t.add_argument("--lr", type=float, default=None, help=f"default {d.learning_rate}")
    t.add_argument("--patience", type=positive_int, default=None, help=f"default {d.patience}")
    t.add_argument("--seed", type=int, default=None, help=f"default {d.seed}")
    t.add_argument("--out", default=None, help="run folder (default runs/seq2seq-<task>-<time>)")
    t.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run in a non-empty --out folder (refused otherwise)",
    )
    t.add_argument(
        "--resume",
        default=None,
        metavar="RUN_FOLDER",
        help="continue an interrupted run exactly, from its last checkpoint (its options "
        "are restored; an option that differs from the run's is refused)",
    )
    t.add_argument(
        "-q", "--quiet", action="store_true", help="no progress output (the results stay)"
    )
    t.set_defaults(func=_train)

    r = s2s_sub.add_parser(
        "run",
        help="apply a trained run to an input",
        description="Decode one input with the model of an 'rnnkit seq2seq train' run.",
    )
    r.add_argument("run_folder", help="a folder written by 'rnnkit seq2seq train'")
    r.add_argument("text", help='the source, e.g. "Tuesday, March 3, 1987" (digits: an index)')
    r.add_argument(
        "--beam", type=int, default=0, help=f"beam width, at most {MAX_BEAM_WIDTH} (0: greedy)"
    )
    r.add_argument(
        "--heatmap",
        default=None,
        help="PNG path for the attention weights (attention models; needs matplotlib; "
        "default RUN_FOLDER/attention.png when matplotlib is installed)",
    )
    r.set_defaults(func=_run)


#: CLI option -> Seq2SeqConfig field
OPTIONS = {
    "--task": "task",
    "--n-train": "n_train",
    "--n-test": "n_test",
    "--units": "units",
    "--embed-dim": "embed_dim",
    "--epochs": "epochs",
    "--batch-size": "batch_size",
    "--lr": "learning_rate",
    "--patience": "patience",
    "--seed": "seed",
}


def _train(args: argparse.Namespace) -> int:
    from .. import plotting, runs
    from ..experiments import seq2seq
    from .main import CLIError, given_options, resume_out

    given = given_options(args, OPTIONS)
    if args.resume is not None:
        resume_out(args)
        saved = runs.open_run(args.resume, "seq2seq", "rnnkit seq2seq train --resume")
        cfg = runs.config_from(seq2seq.Seq2SeqConfig, saved, f"{args.resume}/config.json")
        runs.check_resume_options(given, cfg, args.resume)
        out = args.resume
    else:
        if args.task is None:
            raise CLIError("seq2seq train needs --task (or --resume RUN_FOLDER)")
        cfg = seq2seq.Seq2SeqConfig(**{name: value for name, value in given.values()})
        out = args.out
        if out is not None:
            runs.check_out_dir(out, args.overwrite)
    cfg.check()
    plotting.notice_if_missing()
    results = seq2seq.train(
        cfg,
        out_dir=out,
        verbose=runs.progress_verbosity(args.quiet),
        echo=(lambda *a, **k: None) if args.quiet else print,
        resume=args.resume is not None,
        overwrite=args.overwrite,
    )
    return _report(cfg.task, results)


def _report(task, results) -> int:
    line = f"{task}: exact match {results['exact_match']:.4f} on {results['n_test']} test"
    if "per_step_accuracy" in results:
        line += f", per-step accuracy {results['per_step_accuracy']:.4f}"
    print(f"{line} examples, {results['epochs_run']} epochs, {results['train_seconds']:.0f} s")
    for src, out, tgt in results["examples"]:
        print(f"  {src!r:>28} -> {out!r} (target {tgt!r})")
    print(f"run folder: {results['run_dir']}")
    return 0


def _run(args: argparse.Namespace) -> int:
    import os
    import sys

    from .. import plotting, runs
    from ..experiments import seq2seq
    from .main import CLIError

    config = runs.open_run(args.run_folder, "seq2seq", "rnnkit seq2seq run")
    attention = config.get("task") == "dates"
    if args.heatmap is not None:  # an explicit picture: refuse what cannot draw it
        if not attention:
            raise CLIError(
                f"--heatmap: the {config.get('task')!r} model of {args.run_folder!r} has no "
                f"attention (only the dates task does)"
            )
        plotting.require("--heatmap")
        heatmap = args.heatmap
    elif attention and plotting.available():
        heatmap = os.path.join(args.run_folder, "attention.png")
    else:
        heatmap = None
        if attention:
            plotting.notice_if_missing()
    print(seq2seq.run_on_text(args.run_folder, args.text, beam=args.beam, heatmap=heatmap))
    if heatmap is not None and os.path.exists(heatmap):
        print(f"attention heat map: {heatmap}", file=sys.stderr)
    return 0

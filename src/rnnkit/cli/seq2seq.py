"""``rnnkit seq2seq train`` and ``rnnkit seq2seq run``."""

from __future__ import annotations

import argparse


def register(sub, positive_int) -> None:
    from ..experiments.seq2seq import TASKS

    s2s = sub.add_parser("seq2seq", help="sequence-to-sequence tasks: every sequence shape")
    s2s_sub = s2s.add_subparsers(dest="seq2seq_command", metavar="SEQ2SEQ_COMMAND")
    s2s_sub.required = True
    t = s2s_sub.add_parser(
        "train",
        help="train a model on a generated task",
        description="Generate the task's data (test set disjoint from the "
        "training set), train, report exact match, write a run folder.",
    )
    t.add_argument("--task", choices=TASKS, default=None)
    t.add_argument("--n-train", type=positive_int, default=20000)
    t.add_argument("--n-test", type=positive_int, default=2000)
    t.add_argument("--units", type=positive_int, default=128)
    t.add_argument("--embed-dim", type=positive_int, default=32)
    t.add_argument("--epochs", type=positive_int, default=30)
    t.add_argument("--batch-size", type=positive_int, default=64)
    t.add_argument("--lr", type=float, default=0.003)
    t.add_argument("--patience", type=positive_int, default=3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default=None)
    t.add_argument(
        "--resume",
        default=None,
        metavar="RUN_FOLDER",
        help="continue an interrupted run exactly, from its last checkpoint",
    )
    t.add_argument("-q", "--quiet", action="store_true")
    t.set_defaults(func=_train)

    r = s2s_sub.add_parser("run", help="apply a trained run to an input")
    r.add_argument("run_folder")
    r.add_argument("text", help='the source, e.g. "Tuesday, March 3, 1987" (digits: an index)')
    r.add_argument("--beam", type=positive_int, default=0, help="beam width (0: greedy)")
    r.add_argument(
        "--heatmap",
        default=None,
        help="PNG path for the attention weights (attention models; default "
        "RUN_FOLDER/attention.png)",
    )
    r.set_defaults(func=_run)


def _train(args: argparse.Namespace) -> int:
    from ..experiments import seq2seq
    from ..runs import read_json

    if args.resume is not None:
        cfg = seq2seq.Seq2SeqConfig(**read_json(f"{args.resume}/config.json"))
        results = seq2seq.train(
            cfg, out_dir=args.resume, verbose=0 if args.quiet else 1, resume=True
        )
        return _report(args.task or cfg.task, results)
    if args.task is None:
        raise ValueError("seq2seq train needs --task (or --resume RUN_FOLDER).")
    cfg = seq2seq.Seq2SeqConfig(
        task=args.task,
        n_train=args.n_train,
        n_test=args.n_test,
        units=args.units,
        embed_dim=args.embed_dim,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        patience=args.patience,
        seed=args.seed,
    )
    results = seq2seq.train(cfg, out_dir=args.out, verbose=0 if args.quiet else 1)
    return _report(args.task, results)


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

    from ..experiments import seq2seq

    heatmap = args.heatmap or os.path.join(args.run_folder, "attention.png")
    print(seq2seq.run_on_text(args.run_folder, args.text, beam=args.beam, heatmap=heatmap))
    if os.path.exists(heatmap) and seq2seq.has_attention(args.run_folder):
        print(f"attention heat map: {heatmap}", file=sys.stderr)
    return 0

"""``rnnkit lm train`` and ``rnnkit lm generate``."""

from __future__ import annotations

import argparse


def register(sub, positive_int, fraction) -> None:
    lm = sub.add_parser("lm", help="train and sample language models (characters or words)")
    lm_sub = lm.add_subparsers(dest="lm_command", metavar="LM_COMMAND")
    lm_sub.required = True

    t = lm_sub.add_parser(
        "train",
        help="train a language model on a text file",
        description="Stateful truncated BPTT over a text corpus; writes a run "
        "folder with the best model, tokenizer, metrics and curves.",
    )
    from ..experiments.lm import LMConfig  # the defaults live in one place

    d = LMConfig()
    t.add_argument("--corpus", required=True, help="a UTF-8 text file, or reuters-modapte")
    t.add_argument("--level", choices=["char", "word"], default=d.level)
    t.add_argument("--cell", choices=["lstm", "gru"], default=d.cell)
    t.add_argument("--layers", type=positive_int, default=d.layers)
    t.add_argument("--units", type=positive_int, default=d.units)
    t.add_argument("--embed-dim", type=positive_int, default=d.embed_dim)
    t.add_argument("--dropout", type=float, default=d.dropout, help="after each recurrent layer")
    t.add_argument("--window", type=positive_int, default=d.window, help="BPTT window (steps)")
    t.add_argument("--batch-size", type=positive_int, default=d.batch_size, help="parallel streams")
    t.add_argument("--epochs", type=positive_int, default=d.epochs)
    t.add_argument("--lr", type=float, default=d.learning_rate)
    t.add_argument("--clipnorm", type=float, default=d.clipnorm, help="global gradient-norm cap")
    t.add_argument(
        "--schedule",
        choices=["none", "cosine", "plateau"],
        default=d.schedule,
        help="learning rate per epoch (cosine: from --lr to 0 over --epochs)",
    )
    t.add_argument(
        "--num-words", type=positive_int, default=d.num_words, help="word-level vocabulary"
    )
    t.add_argument("--val-fraction", type=fraction, default=d.val_fraction)
    t.add_argument("--seed", type=int, default=d.seed)
    t.add_argument(
        "--tie-weights",
        action="store_true",
        help="share the embedding matrix with the output layer",
    )
    t.add_argument(
        "--init",
        choices=["keras", "torch"],
        default=d.init,
        help="initialise as Keras (rnnkit's default) or as PyTorch does",
    )
    t.add_argument(
        "--time-budget",
        type=float,
        default=d.time_budget_minutes,
        metavar="MINUTES",
        help="stop before an epoch that would end after this many minutes of training",
    )
    t.add_argument(
        "--threads",
        type=positive_int,
        default=d.threads,
        help="BLAS threads inside the recurrent loops (default 1: safe on a busy machine; "
        "use the number of cores on an idle one)",
    )
    t.add_argument("--out", default=None, help="run folder (default runs/lm-<level>-<time>)")
    t.add_argument(
        "--resume",
        default=None,
        metavar="RUN_FOLDER",
        help="continue an interrupted run exactly from its last checkpoint",
    )
    t.add_argument("-q", "--quiet", action="store_true")
    t.set_defaults(func=_train)

    g = lm_sub.add_parser("generate", help="generate text from a trained run")
    g.add_argument("run_folder")
    g.add_argument("--prompt", default="\n")
    g.add_argument("--length", type=positive_int, default=500)
    g.add_argument("--temperature", type=float, default=0.8)
    g.add_argument("--top-k", type=positive_int, default=None)
    g.add_argument("--top-p", type=float, default=None)
    g.add_argument("--greedy", action="store_true")
    g.add_argument("--beam", type=positive_int, default=0, help="beam width (0: sample)")
    g.add_argument("--seed", type=int, default=None)
    g.set_defaults(func=_generate)


def _train(args: argparse.Namespace) -> int:
    from ..experiments import lm
    from ..runs import read_json

    if args.resume:
        cfg = lm.LMConfig(**read_json(f"{args.resume}/config.json"))
        out = args.resume
    else:
        cfg = lm.LMConfig(
            corpus=args.corpus,
            level=args.level,
            num_words=args.num_words,
            cell=args.cell,
            layers=args.layers,
            units=args.units,
            embed_dim=args.embed_dim,
            dropout=args.dropout,
            window=args.window,
            batch_size=args.batch_size,
            epochs=args.epochs,
            learning_rate=args.lr,
            clipnorm=args.clipnorm,
            schedule=args.schedule,
            val_fraction=args.val_fraction,
            seed=args.seed,
            tie_weights=args.tie_weights,
            init=args.init,
            time_budget_minutes=args.time_budget,
            threads=args.threads,
        )
        out = args.out
    results = lm.train(cfg, out_dir=out, verbose=0 if args.quiet else 1, resume=bool(args.resume))
    print(
        f"best validation loss {results['val_loss_nats']:.4f} nats/token "
        f"({results['val_bits_per_token']:.3f} bits, perplexity "
        f"{results['val_perplexity']:.2f}) at epoch {results['best_epoch']}, "
        f"{results['train_seconds']:.0f} s"
    )
    print(f"run folder: {results['run_dir']}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from ..experiments import lm

    print(
        lm.generate_text(
            args.run_folder,
            args.prompt,
            args.length,
            args.temperature,
            args.top_k,
            args.top_p,
            args.seed,
            args.greedy,
            args.beam,
        )
    )
    return 0

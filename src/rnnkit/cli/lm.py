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
    from ..generation import MAX_BEAM_WIDTH

    d = LMConfig()
    # every option that decides the run defaults to None here, so that with --resume
    # an option the user typed can be told from a default (and refused if it differs)
    t.add_argument(
        "--corpus",
        default=None,
        help="a text file (UTF-8 unless --encoding), or reuters-modapte; required for a new run",
    )
    t.add_argument(
        "--encoding",
        default=None,
        help=f"the corpus file's encoding, read strictly (default {d.encoding})",
    )
    t.add_argument("--level", choices=["char", "word"], default=None, help=f"default {d.level}")
    t.add_argument("--cell", choices=["lstm", "gru"], default=None, help=f"default {d.cell}")
    t.add_argument("--layers", type=positive_int, default=None, help=f"default {d.layers}")
    t.add_argument("--units", type=positive_int, default=None, help=f"default {d.units}")
    t.add_argument("--embed-dim", type=positive_int, default=None, help=f"default {d.embed_dim}")
    t.add_argument(
        "--dropout", type=float, default=None, help=f"after each recurrent layer ({d.dropout})"
    )
    t.add_argument(
        "--window", type=positive_int, default=None, help=f"BPTT window (steps, {d.window})"
    )
    t.add_argument(
        "--batch-size", type=positive_int, default=None, help=f"parallel streams ({d.batch_size})"
    )
    t.add_argument("--epochs", type=positive_int, default=None, help=f"default {d.epochs}")
    t.add_argument("--lr", type=float, default=None, help=f"default {d.learning_rate}")
    t.add_argument(
        "--clipnorm", type=float, default=None, help=f"global gradient-norm cap ({d.clipnorm})"
    )
    t.add_argument(
        "--schedule",
        choices=["none", "cosine", "plateau"],
        default=None,
        help=f"learning rate per epoch (cosine: from --lr to 0 over --epochs; {d.schedule})",
    )
    t.add_argument(
        "--num-words",
        type=positive_int,
        default=None,
        help=f"word-level vocabulary ({d.num_words})",
    )
    t.add_argument("--val-fraction", type=fraction, default=None, help=f"default {d.val_fraction}")
    t.add_argument("--seed", type=int, default=None, help=f"default {d.seed}")
    t.add_argument(
        "--tie-weights",
        action="store_true",
        default=None,
        help="share the embedding matrix with the output layer",
    )
    t.add_argument(
        "--init",
        choices=["keras", "torch"],
        default=None,
        help="initialise as Keras (rnnkit's default) or as PyTorch does",
    )
    t.add_argument(
        "--time-budget",
        type=float,
        default=None,
        metavar="MINUTES",
        help="stop before an epoch that would end after this many minutes of training",
    )
    t.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="BLAS threads inside the recurrent loops (default 1: safe on a busy machine; "
        "use the number of cores on an idle one)",
    )
    t.add_argument(
        "--data",
        default=None,
        metavar="DIR",
        help="the Reuters-21578 archive or its folder, for --corpus reuters-modapte (default: "
        "$RNNKIT_DATA_DIR, the cache, or a download)",
    )
    t.add_argument("--out", default=None, help="run folder (default runs/lm-<level>-<time>)")
    t.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run in a non-empty --out folder (refused otherwise)",
    )
    t.add_argument(
        "--resume",
        default=None,
        metavar="RUN_FOLDER",
        help="continue an interrupted run exactly from its last checkpoint (its options are "
        "restored; an option that differs from the run's is refused)",
    )
    t.add_argument(
        "-q", "--quiet", action="store_true", help="no progress output (the summary stays)"
    )
    t.set_defaults(func=_train)

    g = lm_sub.add_parser(
        "generate",
        help="generate text from a trained run",
        description="Continue a prompt with the best model of an 'rnnkit lm train' run.",
    )
    g.add_argument("run_folder", help="a folder written by 'rnnkit lm train'")
    g.add_argument("--prompt", default="\n")
    g.add_argument(
        "--length",
        type=positive_int,
        default=500,
        help="tokens to generate (default 500, at most 1,000,000)",
    )
    g.add_argument("--temperature", type=float, default=0.8)
    g.add_argument("--top-k", type=positive_int, default=None)
    g.add_argument("--top-p", type=float, default=None)
    g.add_argument("--greedy", action="store_true")
    g.add_argument(
        "--beam",
        type=int,
        default=0,
        help=f"beam width, at most {MAX_BEAM_WIDTH} (default 0: sample)",
    )
    g.add_argument("--seed", type=int, default=None)
    g.set_defaults(func=_generate)


#: CLI option -> LMConfig field
OPTIONS = {
    "--corpus": "corpus",
    "--encoding": "encoding",
    "--level": "level",
    "--cell": "cell",
    "--layers": "layers",
    "--units": "units",
    "--embed-dim": "embed_dim",
    "--dropout": "dropout",
    "--window": "window",
    "--batch-size": "batch_size",
    "--epochs": "epochs",
    "--lr": "learning_rate",
    "--clipnorm": "clipnorm",
    "--schedule": "schedule",
    "--num-words": "num_words",
    "--val-fraction": "val_fraction",
    "--seed": "seed",
    "--tie-weights": "tie_weights",
    "--init": "init",
    "--time-budget": "time_budget_minutes",
    "--threads": "threads",
}


def _train(args: argparse.Namespace) -> int:
    from .. import plotting, runs
    from ..datasets._files import DownloadError
    from ..experiments import lm
    from .main import CLIError, data_error, given_options, resume_out

    given = given_options(args, OPTIONS)
    if args.resume:
        resume_out(args)
        saved = runs.open_run(args.resume, "lm", "rnnkit lm train --resume")
        cfg = runs.config_from(lm.LMConfig, saved, f"{args.resume}/config.json")
        # the thread count changes the speed, never the numbers: it may differ
        threads = given.pop("--threads", None)
        runs.check_resume_options(given, cfg, args.resume)
        if threads is not None:
            cfg.threads = threads[1]
        out = args.resume
    else:
        if args.corpus is None:
            raise CLIError("lm train needs --corpus FILE (or --resume RUN_FOLDER)")
        cfg = lm.LMConfig(**{name: value for name, value in given.values()})
        out = args.out
        if out is not None:
            runs.check_out_dir(out, args.overwrite)
    cfg.check()
    plotting.notice_if_missing()
    echo = (lambda *a, **k: None) if args.quiet else print
    try:
        results = lm.train(
            cfg,
            out_dir=out,
            verbose=runs.progress_verbosity(args.quiet),
            resume=bool(args.resume),
            echo=echo,
            overwrite=args.overwrite,
            data_path=args.data,
        )
    except DownloadError as exc:
        raise data_error(exc) from None
    except FileNotFoundError as exc:
        if "path=" in str(exc) or "RNNKIT_DATA_DIR" in str(exc):
            raise data_error(exc) from None
        raise
    if results.get("rank", 0) != 0:  # under mpiexec, rank 0 alone reports
        return 0
    stopped = results.get("stopped_by_time_budget")
    if stopped is not None and args.quiet:  # the reason training ended is a result
        print(
            f"time budget of {cfg.time_budget_minutes:g} min reached: training stopped after "
            f"epoch {stopped} of {cfg.epochs}"
        )
    print(
        f"best validation loss {results['val_loss_nats']:.4f} nats/token "
        f"({results['val_bits_per_token']:.3f} bits, perplexity "
        f"{results['val_perplexity']:.2f}) at epoch {results['best_epoch']}, "
        f"{results['train_seconds']:.0f} s"
    )
    print(f"run folder: {results['run_dir']}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from .. import runs
    from ..experiments import lm

    runs.open_run(args.run_folder, "lm", "rnnkit lm generate")
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

"""``rnnkit`` — command-line entry point.

Commands:
  rnnkit reuters [options]              train and evaluate the Reuters topic classifier
  rnnkit predict RUN_FOLDER [TEXT|-]    top-3 topics of a story, from a trained run

Every command exits with status 2 and a one-line message on bad input, never a
traceback.
"""

from __future__ import annotations

import argparse
import sys
import time

from .. import __version__
from .gradients import add_gradients


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value


def _add_reuters(sub) -> None:
    from ..experiments.reuters import MODELS, SETTINGS

    p = sub.add_parser(
        "reuters",
        help="train and evaluate the Reuters-21578 topic classifier (the main job)",
        description="Train a recurrent topic classifier on Reuters-21578, evaluate it once on "
        "the test split, and write a run folder (config, metrics, plots, model).",
    )
    p.add_argument(
        "--model",
        choices=MODELS,
        default=None,
        help="model preset (default: the setting's best recurrent model)",
    )
    p.add_argument(
        "--setting",
        choices=sorted(SETTINGS),
        default="seeds",
        help="data setting: the notes' (seeds), all stories (full), or ModApte",
    )
    p.add_argument("--num-words", type=_positive_int, default=None, help="vocabulary size")
    p.add_argument(
        "--maxlen",
        type=_positive_int,
        default=None,
        help="keep only stories shorter than this (Keras's maxlen)",
    )
    p.add_argument("--test-split", type=_fraction, default=None, help="test fraction")
    p.add_argument("--epochs", type=_positive_int, default=None, help="maximum epochs")
    p.add_argument("--batch-size", type=_positive_int, default=None)
    p.add_argument("--seed", type=int, default=0, help="random seed (weights, shuffling, dropout)")
    p.add_argument(
        "--seed-rnn-epochs",
        type=_positive_int,
        default=None,
        help="epochs for the notes' SimpleRNN baseline trained beside the model",
    )
    p.add_argument("--no-baseline", action="store_true", help="skip the notes' SimpleRNN baseline")
    p.add_argument(
        "--pretrained-embeddings",
        choices=("none", "ppmi"),
        default=None,
        help="start the embedding from word vectors learnt without labels (ppmi: PPMI + SVD "
        "over the training and the unlabelled stories) or at random (none); default: the "
        "setting's (ppmi for seeds and full, none for modapte)",
    )
    p.add_argument(
        "--freeze-embeddings",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep pretrained vectors fixed during training (default: the setting's, "
        "frozen for seeds and full)",
    )
    p.add_argument(
        "--embed-dim", type=_positive_int, default=None, help="embedding (and vector) size"
    )
    p.add_argument(
        "--linear-baseline",
        action="store_true",
        help="also score a TF-IDF + linear SVM (needs scikit-learn)",
    )
    p.add_argument(
        "--data",
        default=None,
        help="Reuters-21578 archive or folder (default: $RNNKIT_DATA_DIR, the cache, "
        "or a download)",
    )
    p.add_argument("--out", default=None, help="run folder (default: runs/reuters-<time>)")
    p.add_argument(
        "--resume",
        default=None,
        metavar="RUN_FOLDER",
        help="continue an interrupted run exactly, from its last checkpoint",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_reuters)


def _cmd_reuters(args) -> int:
    import dataclasses

    from ..experiments import reuters as job

    overrides = {
        "setting": args.setting,
        "num_words": args.num_words,
        "maxlen": args.maxlen,
        "test_split": args.test_split,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "seed_rnn_epochs": args.seed_rnn_epochs,
        "model": args.model,
        "pretrained_embeddings": args.pretrained_embeddings,
        "freeze_embeddings": args.freeze_embeddings,
        "embed_dim": args.embed_dim,
    }
    defaults = job.ReutersConfig()
    cfg = dataclasses.replace(defaults, **{k: v for k, v in overrides.items() if v is not None})
    out = args.out
    if args.resume is not None:
        from ..runs import read_json

        saved = read_json(f"{args.resume}/config.json")
        known = {f.name for f in dataclasses.fields(job.ReutersConfig)}
        # run folders from before pretrained vectors existed: resume them as they began
        saved.setdefault("pretrained_embeddings", "none")
        saved.setdefault("freeze_embeddings", False)
        cfg = job.ReutersConfig(**{k: v for k, v in saved.items() if k in known})
        out = args.resume
    start = time.perf_counter()
    results = job.run(
        cfg,
        out_dir=out,
        verbose=0 if args.quiet else 1,
        path=args.data,
        with_seed_baseline=not args.no_baseline,
        echo=print,
        resume=args.resume is not None,
    )
    if args.linear_baseline:
        from ..experiments.baselines import tfidf_linear_svm

        resolved = cfg.resolved()
        data = job.load_split(resolved, args.data)
        t0 = time.perf_counter()
        pred = tfidf_linear_svm(
            data["x_train"], data["y_train"], data["x_test"], data["multilabel"]
        )
        figures = (
            job.metrics.multilabel_report(data["y_test"], pred)
            if data["multilabel"]
            else job.metrics.classification_report(data["y_test"], pred, len(data["labels"]))
        )
        figures.update(train_seconds=time.perf_counter() - t0, epochs_run=0)
        results["rows"].append({"model": "tfidf+linear svm", **figures})
        job.runs.write_json(f"{results['run_dir']}/metrics.json", results)
    print()
    print(job.format_table(results))
    print(f"\nrun folder: {results['run_dir']}  (total {time.perf_counter() - start:.0f} s)")
    return 0


def _add_predict(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="top-3 topics of a story from a trained Reuters run",
        description="Print the top topics with probabilities for the text of a story, given as "
        "an argument, a file (--file), or standard input ('-').",
    )
    p.add_argument("run_folder", help="a folder written by 'rnnkit reuters'")
    p.add_argument("text", nargs="?", default=None, help="the story's text, or '-' for stdin")
    p.add_argument("--file", default=None, help="read the story from this file")
    p.add_argument("--top", type=_positive_int, default=3, help="how many topics (default 3)")
    p.set_defaults(func=_cmd_predict)


def _cmd_predict(args) -> int:
    from ..experiments.reuters import predict_topics

    if args.file is not None and args.text is not None:
        raise CLIError("give the text or --file, not both")
    if args.file is not None:
        try:
            with open(args.file, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError as exc:
            raise CLIError(f"cannot read {args.file}: {exc.strerror}") from None
    elif args.text is None or args.text == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise CLIError("no text: pass the story as an argument, with --file, or on stdin")
        text = sys.stdin.read()
    else:
        text = args.text
    for topic, prob in predict_topics(args.run_folder, [text], top=args.top)[0]:
        print(f"{topic:<16}{prob:.3f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Recurrent neural networks from their equations, in NumPy.",
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_reuters(sub)
    _add_predict(sub)
    from . import lm

    lm.register(sub, _positive_int, _fraction)
    from . import seq2seq

    seq2seq.register(sub, _positive_int)
    add_gradients(sub)
    from . import export

    export.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
    except (CLIError, ValueError, TypeError, FileNotFoundError, ImportError, OSError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"rnnkit {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""``rnnkit`` — command-line entry point (also ``python -m rnnkit``).

Commands:
  rnnkit reuters [options]              train and evaluate the Reuters topic classifier
  rnnkit predict RUN_FOLDER [TEXT|-]    top-3 topics of a story, from a trained run
  rnnkit lm train|generate ...          language models
  rnnkit seq2seq train|run ...          sequence-to-sequence tasks
  rnnkit gradients ...                  gradient flow through time

Options may come before or after the positional arguments. Every command exits with
status 2 and a one-line message on bad input, never a traceback (``RNNKIT_DEBUG=1``
prints the traceback too).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import time
import traceback

from .. import __version__
from .gradients import add_gradients


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with suggestions: a misspelt option or command is shown with the
    closest known one, under the usage of the (sub)command it was given to."""

    def error(self, message):
        unknown = re.match(r"unrecognized arguments: (.*)", message)
        choice = re.match(r"argument .*: invalid choice: '([^']*)' \(choose from (.*)\)", message)
        hints = []
        if unknown:
            options = [o for a in self._actions for o in a.option_strings if o.startswith("--")]
            for token in unknown.group(1).split():
                if token.startswith("-"):
                    name = token.split("=", 1)[0]
                    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
                    if close:
                        hints.append(f"{name}: did you mean {close[0]}?")
        elif choice:
            options = re.findall(r"'([^']*)'", choice.group(2))
            close = difflib.get_close_matches(choice.group(1), options, n=1, cutoff=0.6)
            if close:
                hints.append(f"did you mean {close[0]!r}?")
        if hints:
            message = f"{message} ({'; '.join(hints)})"
        super().error(message)


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
        default=None,
        help="data setting: the notes' (seeds, the default), all stories (full), or ModApte",
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
    p.add_argument(
        "--seed", type=int, default=None, help="random seed (weights, shuffling, dropout; 0)"
    )
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
        metavar="DIR",
        help="Reuters-21578 archive or a folder holding reuters21578.tar.gz (default: "
        "$RNNKIT_DATA_DIR, the cache, or a download)",
    )
    p.add_argument("--out", default=None, help="run folder (default: runs/reuters-<time>)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run in a non-empty --out folder (refused otherwise)",
    )
    p.add_argument(
        "--resume",
        default=None,
        metavar="RUN_FOLDER",
        help="continue an interrupted run exactly, from its last checkpoint (its options "
        "are restored; an option that differs from the run's is refused)",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no progress output (the results table stays)"
    )
    p.set_defaults(func=_cmd_reuters)


#: CLI option -> ReutersConfig field
_REUTERS_OPTIONS = {
    "--model": "model",
    "--setting": "setting",
    "--num-words": "num_words",
    "--maxlen": "maxlen",
    "--test-split": "test_split",
    "--epochs": "epochs",
    "--batch-size": "batch_size",
    "--seed": "seed",
    "--seed-rnn-epochs": "seed_rnn_epochs",
    "--pretrained-embeddings": "pretrained_embeddings",
    "--freeze-embeddings": "freeze_embeddings",
    "--embed-dim": "embed_dim",
}


def given_options(args, options: dict) -> dict:
    """``{"--option": (field, value)}`` for the options the user typed (argparse
    defaults are None for every option that maps to a config field)."""
    found = {}
    for option, name in options.items():
        value = getattr(args, option.lstrip("-").replace("-", "_"))
        if value is not None:
            found[option] = (name, value)
    return found


def resume_out(args) -> None:
    """``--out`` with ``--resume`` must name the same folder (or be left out)."""
    if args.out is not None and os.path.abspath(args.out) != os.path.abspath(args.resume):
        raise CLIError(f"--out {args.out!r} and --resume {args.resume!r} name different folders")
    if args.overwrite:
        raise CLIError("--overwrite starts a new run; it cannot be combined with --resume")


def data_error(exc: Exception) -> CLIError:
    """A data loader's 'not found' message, in the command line's words."""
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    message = message.replace("pass path= to a local copy", "pass --data DIR (a local copy)")
    message = message.replace("path=", "--data ")
    return CLIError(message)


def _estimate_reuters_bytes(cfg) -> int:
    """An upper estimate of a Reuters model's training memory: the embedding (the
    collection has about 31,000 distinct words, ModApte's tokenizer about 35,000), its
    gradient and two Adam slots in float32, and the PPMI vectors and SVD workspace."""
    words = min(cfg.num_words, 50_000)
    embed = cfg.embed_dim * words
    recurrent = 2 * 4 * (cfg.embed_dim + cfg.units + 1) * cfg.units
    return 16 * (embed + recurrent) + 32 * embed


def _cmd_reuters(args) -> int:
    from .. import plotting, runs
    from ..datasets._files import DownloadError
    from ..experiments import reuters as job

    given = given_options(args, _REUTERS_OPTIONS)
    if args.resume is not None:
        resume_out(args)
        saved = runs.open_run(args.resume, "reuters", "rnnkit reuters --resume")
        # run folders from before pretrained vectors existed: resume them as they began
        saved.setdefault("pretrained_embeddings", "none")
        saved.setdefault("freeze_embeddings", False)
        cfg = runs.config_from(job.ReutersConfig, saved, f"{args.resume}/config.json")
        cfg = cfg.resolved()
        runs.check_resume_options(given, cfg, args.resume)
        out = args.resume
    else:
        cfg = job.ReutersConfig(**{name: value for name, value in given.values()}).resolved()
        out = args.out
        if out is not None:
            runs.check_out_dir(out, args.overwrite)
    runs.ensure_fits(
        _estimate_reuters_bytes(cfg),
        f"a {cfg.embed_dim}-wide embedding of up to {min(cfg.num_words, 50_000)} words",
        "--embed-dim",
    )
    if args.linear_baseline:
        try:
            import sklearn  # noqa: F401
        except ImportError:
            raise CLIError(
                "--linear-baseline needs scikit-learn: pip install 'rnnkit[sklearn]' "
                "(checked before training)"
            ) from None
    plotting.notice_if_missing()
    verbose = runs.progress_verbosity(args.quiet)
    echo = (lambda *a, **k: None) if args.quiet else print
    start = time.perf_counter()
    try:
        results = job.run(
            cfg,
            out_dir=out,
            verbose=verbose,
            path=args.data,
            with_seed_baseline=not args.no_baseline,
            echo=echo,
            resume=args.resume is not None,
            overwrite=args.overwrite,
        )
    except DownloadError as exc:
        raise data_error(exc) from None
    except FileNotFoundError as exc:
        if "path=" in str(exc) or "RNNKIT_DATA_DIR" in str(exc):
            raise data_error(exc) from None
        raise
    if results.get("rank", 0) != 0:  # under mpiexec, rank 0 alone reports
        return 0
    if args.linear_baseline:
        from ..experiments.baselines import tfidf_linear_svm

        data = job.load_split(cfg, args.data)
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
        run_dir = results.pop("run_dir")
        job.runs.write_json(f"{run_dir}/metrics.json", results)
        results["run_dir"] = run_dir
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
    p.add_argument(
        "--encoding", default="utf-8", help="the encoding of --file (default utf-8, strict)"
    )
    p.add_argument("--top", type=_positive_int, default=3, help="how many topics (default 3)")
    p.set_defaults(func=_cmd_predict)


def _cmd_predict(args) -> int:
    from .. import runs
    from ..experiments.reuters import predict_topics

    runs.open_run(args.run_folder, "reuters", "rnnkit predict")
    if args.file is not None and args.text is not None:
        raise CLIError("give the text or --file, not both")
    if args.file is not None:
        text = runs.read_text(args.file, args.encoding, "--file")
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
    """The ``rnnkit`` argument parser with every subcommand registered."""
    parser = _Parser(
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


def _leaf(parser: argparse.ArgumentParser, argv: list[str]):
    """The innermost subcommand parser that ``argv`` names, the names on the way to
    it and the tokens after them; None when argv names no complete command (help,
    --version, a missing or unknown command: the top parser reports those)."""
    current, rest, names = parser, list(argv), []
    while True:
        subs = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            return current, names, rest
        if not rest or rest[0].startswith("-") or rest[0] not in subs[0].choices:
            return None
        names.append((subs[0].dest, rest[0]))
        current, rest = subs[0].choices[rest[0]], rest[1:]


def _message(exc: BaseException) -> str:
    """One line for any exception a command raises."""
    if isinstance(exc, MemoryError):
        return "out of memory: the sizes asked for do not fit on this machine; use smaller ones"
    if isinstance(exc, KeyError):
        key = exc.args[0] if exc.args else "?"
        return f"a required field is missing: {key!r}"
    if isinstance(exc, OSError) and exc.strerror:
        where = f" {exc.filename!r}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = " ".join(str(exc).split()) if str(exc) else type(exc).__name__
    if not isinstance(exc, (CLIError, ValueError, TypeError, OSError, ImportError)):
        text = f"{type(exc).__name__}: {text} (RNNKIT_DEBUG=1 shows the traceback)"
    return text


def main(argv=None) -> int:
    """Run the ``rnnkit`` command line; returns the exit status.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).

    Returns:
        0 on success, 2 on bad input or any error (one line on stderr), 130 when
        interrupted.

    Example:
        >>> main(["predict", "runs/reuters-1", "--top", "2", "oil prices rose"])  # doctest: +SKIP
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    found = _leaf(parser, argv)
    if found is None:
        args = parser.parse_args(argv)
    else:
        # a leaf has no subcommands: options may then come before or after positionals
        leaf, names, rest = found
        args = leaf.parse_intermixed_args(rest)
        for dest, name in names:
            setattr(args, dest, name)
    command = " ".join(name for _, name in found[1]) if found else args.command
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``| head``): not an error to report
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the exit's flush cannot fail
        return 141
    except Exception as exc:  # every error reaches the user as one line, exit 2
        if os.environ.get("RNNKIT_DEBUG"):
            traceback.print_exc()
        print(f"rnnkit {command}: error: {_message(exc)}", file=sys.stderr)
        _stop_other_ranks()
        return 2


def _stop_other_ranks() -> None:
    """Under ``mpiexec`` with several ranks, end them all after this rank's error (the
    others would wait for it in their next all-reduce); nothing otherwise."""
    from ..distributed import mpi  # (imports no MPI outside mpiexec)

    mpi.abort_others(2)


if __name__ == "__main__":
    sys.exit(main())

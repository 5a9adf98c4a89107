"""Language models: train on a text corpus (characters or words) with stateful
truncated BPTT, and generate from a run folder.

Training follows Zaremba et al. (2014): the token stream is cut into ``batch_size``
parallel streams; each batch is the next window of ``window`` steps of every stream;
recurrent layers are stateful, so the state carries across windows while the
gradient stops at window edges (k1 = k2 = window); states reset every epoch.
Validation uses the last ``val_fraction`` of the text (nanoGPT's split for tiny
Shakespeare: first 90 % train, last 10 % validation).
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import backend, initializers, optimizers, plotting, runs
from ..callbacks import (
    BackupAndRestore,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    ResetStates,
    TimeBudget,
    cosine_decay,
)
from ..distributed import mpi
from ..generation import beam_search, generate
from ..layers import GRU, LSTM, Dense, Dropout, Embedding, TiedDense
from ..layers.recurrent import RNN
from ..models import Sequential, load_model
from ..preprocessing.sequence import stream_windows
from ..preprocessing.text import Tokenizer, tokenizer_from_json


@dataclass
class LMConfig:
    """Everything that decides a language-model run (saved as config.json)."""

    corpus: str = ""
    level: str = "char"  # "char" or "word"
    num_words: int | None = 10000  # word level: vocabulary size (rarer words -> <unk>)
    cell: str = "lstm"
    # the defaults: tiny Shakespeare's best validation loss <= 1.45 in under an hour
    # on 2 CPU cores (docs/language-models.md has the run)
    layers: int = 2
    units: int = 512
    embed_dim: int = 64
    dropout: float = 0.3
    window: int = 100
    batch_size: int = 64
    epochs: int = 20
    learning_rate: float = 2e-3
    clipnorm: float | None = 5.0
    schedule: str = "cosine"  # "none", "cosine" or "plateau"
    val_fraction: float = 0.1
    seed: int = 0
    tie_weights: bool = False  # output layer shares the embedding matrix
    init: str = "keras"  # "keras" or "torch": whose default initialisation (see build_model)
    time_budget_minutes: float | None = None  # stop before an epoch that would overrun
    threads: int | None = None  # BLAS threads inside the recurrent loops; None: rnnkit's policy
    encoding: str = "utf-8"  # of the corpus file, read strictly

    def check(self) -> LMConfig:
        if self.level not in ("char", "word"):
            raise ValueError(f"level must be 'char' or 'word', got {self.level!r}.")
        if self.cell not in ("lstm", "gru"):
            raise ValueError(f"cell must be 'lstm' or 'gru', got {self.cell!r}.")
        if self.schedule not in ("none", "cosine", "plateau"):
            raise ValueError(
                f"schedule must be 'none', 'cosine' or 'plateau', got {self.schedule!r}."
            )
        if self.init not in ("keras", "torch"):
            raise ValueError(f"init must be 'keras' or 'torch', got {self.init!r}.")
        if self.time_budget_minutes is not None and not self.time_budget_minutes > 0:
            raise ValueError(
                f"time_budget_minutes must be positive, got {self.time_budget_minutes!r}."
            )
        if self.threads is not None and (isinstance(self.threads, bool) or self.threads < 1):
            raise ValueError(f"threads must be a positive int, got {self.threads!r}.")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction!r}.")
        return self


def read_corpus(path, encoding: str = "utf-8") -> str:
    """The text of a corpus file, decoded strictly (see :func:`rnnkit.runs.read_text`):
    a latin-1 or UTF-16 file read as UTF-8 is an error naming the file and the first
    bad byte's offset, never text with replacement characters or NULs.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an empty file, an undecodable byte or a NUL character.
    """
    text = runs.read_text(path, encoding, "corpus file")
    if not text.strip():
        raise ValueError(f"Corpus file {str(path)!r} is empty.")
    return text


REUTERS_CORPUS = "reuters-modapte"


def corpus_texts(cfg: LMConfig, data_path=None) -> tuple[str, str]:
    """(training text, validation text). ``--corpus reuters-modapte`` reads the bodies
    of the ModApte training stories for training and its test stories for evaluation;
    any other value is a file, split by characters (last ``val_fraction`` held out).
    ``data_path``: where the Reuters archive is (default: $RNNKIT_DATA_DIR, the cache)."""
    if cfg.corpus == REUTERS_CORPUS:
        from ..datasets import reuters

        data = reuters.load_modapte(data_path)
        return "\n".join(data.train_texts), "\n".join(data.test_texts)
    text = read_corpus(cfg.corpus, cfg.encoding)
    cut = int(len(text) * (1 - cfg.val_fraction))
    return text[:cut], text[cut:]


def bigram_perplexity(train_ids, test_ids, vocab: int, discount: float = 0.75) -> float:
    """Perplexity of an interpolated Kneser-Ney bigram model (absolute discounting
    ``discount``, continuation unigrams) fitted on ``train_ids`` and scored on
    ``test_ids`` — the smoothed baseline for a word-level language model.

    P(w | v) = max(c(v, w) - d, 0) / c(v) + d · N1+(v, ·) / c(v) · P_cont(w), with
    P_cont(w) = N1+(·, w) / N1+(·, ·); an unseen history falls back to P_cont, and
    P_cont is mixed with a uniform floor so that every id has mass.
    """
    train_ids = np.asarray(train_ids, np.int64)
    test_ids = np.asarray(test_ids, np.int64)
    pairs = train_ids[:-1] * vocab + train_ids[1:]
    unique_pairs, counts = np.unique(pairs, return_counts=True)
    prev, nxt = unique_pairs // vocab, unique_pairs % vocab
    history_count = np.bincount(train_ids[:-1], minlength=vocab).astype(float)
    followers = np.bincount(prev, minlength=vocab).astype(float)  # N1+(v, .)
    continuation = np.bincount(nxt, minlength=vocab).astype(float)  # N1+(., w)
    p_cont = 0.99 * continuation / continuation.sum() + 0.01 / vocab
    lookup = dict(zip(unique_pairs.tolist(), counts.tolist()))
    v, w = test_ids[:-1], test_ids[1:]
    c_vw = np.array([lookup.get(int(a) * vocab + int(b), 0) for a, b in zip(v, w)], float)
    c_v = history_count[v]
    seen = c_v > 0
    safe = np.where(seen, c_v, 1.0)
    p = np.where(
        seen,
        np.maximum(c_vw - discount, 0) / safe + discount * followers[v] / safe * p_cont[w],
        p_cont[w],
    )
    return float(np.exp(-np.mean(np.log(p))))


def make_tokenizer(cfg: LMConfig, text: str) -> Tokenizer:
    if cfg.level == "char":
        tok = Tokenizer(char_level=True, filters="", lower=False)
    else:
        tok = Tokenizer(num_words=cfg.num_words, oov_token="<unk>")
    tok.fit_on_texts([text])
    return tok


def vocab_size(tok: Tokenizer) -> int:
    n = len(tok.word_index) + 1  # id 0 is never a token
    return min(n, tok.num_words) if tok.num_words else n


def _torch_inits(fan_in: int, recurrent: bool = True) -> dict:
    """PyTorch's default initialisation of nn.LSTM / nn.GRU / nn.Linear with ``fan_in``
    inputs (hidden size for the recurrent layers): every weight and bias U(-k, k),
    k = 1/sqrt(fan_in). (PyTorch's recurrent layers hold two bias vectors, b_ih + b_hh,
    each so drawn; rnnkit holds their sum as one, drawn once from U(-k, k).)"""
    k = 1.0 / math.sqrt(fan_in)
    names = ["kernel_initializer", "bias_initializer"]
    if recurrent:
        names.append("recurrent_initializer")
    return {name: initializers.RandomUniform(-k, k) for name in names}


def build_model(cfg: LMConfig, vocab: int, batch_size: int | None = None) -> Sequential:
    """Embedding -> ``layers`` x (LSTM or GRU, stateful, each followed by Dropout) ->
    softmax over the vocabulary (or the embedding matrix again, with ``tie_weights``).

    ``cfg.init``: ``"keras"`` (rnnkit's defaults: embedding U(±0.05), Glorot-uniform
    kernels, orthogonal recurrent kernels, LSTM forget-gate bias 1) or ``"torch"``
    (PyTorch's defaults, for side-by-side comparisons: embedding N(0, 1), everything
    else U(±1/sqrt(fan_in)), no forget-gate bias). Initialisation matters early on:
    on tiny Shakespeare PyTorch's starts faster and Keras's ends lower
    (docs/language-models.md)."""
    backend.set_random_seed(cfg.seed)
    cell = LSTM if cfg.cell == "lstm" else GRU
    torch_init = cfg.init == "torch"
    emb_init = initializers.RandomNormal(0.0, 1.0) if torch_init else "uniform"
    layers = [Embedding(vocab, cfg.embed_dim, embeddings_initializer=emb_init)]
    for _ in range(cfg.layers):
        kwargs = _torch_inits(cfg.units) if torch_init else {}
        if torch_init and cfg.cell == "lstm":
            kwargs["unit_forget_bias"] = False
        layers.append(cell(cfg.units, return_sequences=True, stateful=True, **kwargs))
        if cfg.dropout:
            layers.append(Dropout(cfg.dropout))
    if cfg.tie_weights:  # project to the embedding size if needed, then share E
        if cfg.units != cfg.embed_dim:
            kwargs = _torch_inits(cfg.units, recurrent=False) if torch_init else {}
            layers.append(Dense(cfg.embed_dim, **kwargs))
        layers.append(TiedDense(layers[0], activation="softmax"))
    else:
        kwargs = _torch_inits(cfg.units, recurrent=False) if torch_init else {}
        layers.append(Dense(vocab, activation="softmax", **kwargs))
    model = Sequential(layers)
    model.build((None,))
    opt = optimizers.Adam(learning_rate=cfg.learning_rate, global_clipnorm=cfg.clipnorm)
    model.compile(opt, "sparse_categorical_crossentropy")
    return model


def training_bytes(cfg: LMConfig, vocab: int) -> int:
    """An estimate of the memory training needs: the weights, their gradients and two
    Adam slots, plus one batch's activations (each layer's gates and states over the
    window, and the softmax over the vocabulary with its gradient)."""
    gates = 4 if cfg.cell == "lstm" else 3
    params = vocab * cfg.embed_dim
    size_in = cfg.embed_dim
    for _ in range(cfg.layers):
        params += gates * (size_in + cfg.units + 1) * cfg.units
        size_in = cfg.units
    params += (cfg.units + 1) * vocab
    steps = cfg.batch_size * cfg.window
    activations = steps * (cfg.layers * (gates + 3) * cfg.units + 3 * vocab + cfg.embed_dim)
    itemsize = np.dtype(backend.floatx()).itemsize
    return int(itemsize * (4 * params + 2 * activations))


def check_fits(cfg: LMConfig, vocab: int) -> None:
    """Refuse, before building anything, a model that cannot fit in memory.

    Raises:
        ValueError: the estimate of :func:`training_bytes` exceeds what this process
            may allocate.
    """
    runs.ensure_fits(
        training_bytes(cfg, vocab),
        f"a {cfg.layers}-layer {cfg.cell.upper()} of {cfg.units} units over a {vocab}-token "
        f"vocabulary ({cfg.embed_dim}-wide embedding, batches of {cfg.batch_size} x "
        f"{cfg.window} steps)",
        "--units, --embed-dim, --batch-size or --window",
    )


def train(
    cfg: LMConfig,
    out_dir=None,
    verbose: int = 1,
    resume: bool = False,
    echo=print,
    overwrite: bool = False,
    data_path=None,
) -> dict:
    """Train a language model; writes a run folder and returns its metrics.

    Args:
        cfg: the run's settings.
        out_dir: the run folder (default ``runs/lm-<level>-<time>``); a new run refuses
            a folder that holds files unless ``overwrite``.
        verbose: 0 silent, 1 a progress bar, 2 one line per epoch.
        resume: continue the interrupted run in ``out_dir`` from its last checkpoint.
        echo: where the information lines go.
        overwrite: replace the run in a non-empty ``out_dir``.
        data_path: the Reuters archive, for ``corpus="reuters-modapte"``.

    Returns:
        The metrics (also in metrics.json), with ``run_dir``; ``stopped_by_time_budget``
        is the last epoch run when the time budget ended training, else None.

    Raises:
        ValueError: bad settings, an unreadable corpus, a model too big for memory.
        rnnkit.runs.RunFolderError: ``out_dir`` is another kind of run or is not empty;
            nothing in it is changed.
    """
    cfg.check()
    # under ``mpiexec -n N`` (N > 1) the ranks train one model data-parallel; rank 0
    # alone prints and writes the run folder, the others write into a private folder
    data_parallel = mpi.active()
    root = data_parallel is None or data_parallel.rank() == 0
    if not root:
        echo, verbose = (lambda *args, **kwargs: None), 0
    if resume:
        runs.open_run(out_dir, "lm", "resume")
        runs.check_resumable(out_dir, cfg.epochs)
    elif out_dir is not None and root:
        runs.check_out_dir(out_dir, overwrite)
    train_text, val_text = corpus_texts(cfg, data_path)
    tok = make_tokenizer(cfg, train_text)
    vocab = vocab_size(tok)
    train_ids = np.array(tok.texts_to_sequences([train_text])[0])
    val_ids = np.array(tok.texts_to_sequences([val_text])[0])
    x, y = stream_windows(train_ids, cfg.batch_size, cfg.window)
    try:
        vx, vy = stream_windows(val_ids, cfg.batch_size, cfg.window)
    except ValueError:
        raise ValueError(
            f"The validation part ({len(val_ids)} tokens) is shorter than one window per "
            f"stream ({cfg.batch_size} x {cfg.window}); use a longer corpus or a smaller "
            f"--batch-size/--window."
        ) from None
    check_fits(cfg, vocab)
    if not root:
        run_dir = Path(tempfile.mkdtemp(prefix="rnnkit-rank-"))
    elif resume:
        run_dir = Path(out_dir)
        stored = run_dir / "tokenizer.json"
        if stored.is_file() and stored.read_text(encoding="utf-8") != tok.to_json():
            raise ValueError(
                f"The corpus {cfg.corpus!r} no longer gives the vocabulary stored in {stored}: "
                f"it changed since the run began, so the run cannot be resumed exactly."
            )
    elif out_dir is not None:
        run_dir = runs.prepare_out_dir(out_dir, overwrite)
    else:
        run_dir = runs.new_run_dir("runs", f"lm-{cfg.level}")
    if not resume:  # a resumed run keeps the files it began with
        runs.write_config(run_dir, "lm", dataclasses.asdict(cfg))
        runs.write_text(run_dir / "tokenizer.json", tok.to_json())
    echo(
        f"corpus {cfg.corpus}: {len(train_ids):,} training and {len(val_ids):,} validation "
        f"tokens, vocabulary {vocab}"
    )
    model = build_model(cfg, vocab)
    callbacks = [ResetStates(), ModelCheckpoint(run_dir / "model.rnnkit", save_best_only=True)]
    if data_parallel is None:
        callbacks.append(BackupAndRestore(run_dir / "checkpoints", keep=2))
    budget = None
    if cfg.time_budget_minutes is not None:
        budget = TimeBudget(cfg.time_budget_minutes * 60.0)
        callbacks.append(budget)
    if cfg.schedule == "cosine":
        callbacks.append(LearningRateScheduler(cosine_decay(cfg.learning_rate, cfg.epochs)))
    elif cfg.schedule == "plateau":
        callbacks.append(ReduceLROnPlateau(factor=0.5, patience=1, min_lr=1e-5))
    saved_threads = RNN.blas_threads
    if cfg.threads is not None:
        RNN.blas_threads = cfg.threads
    elif data_parallel is not None:  # the host's cores shared among its ranks
        backend.set_num_threads(max(1, (os.cpu_count() or 1) // data_parallel.local_size()))
    fit_kwargs = dict(
        batch_size=cfg.batch_size,
        epochs=cfg.epochs,
        shuffle=False,
        validation_data=(vx, vy),
        callbacks=callbacks,
        verbose=verbose,
        resume=True if resume else None,
    )
    start = time.perf_counter()
    try:
        if data_parallel is None:
            history = model.fit(x, y, **fit_kwargs)
        else:  # each rank trains its own share of the parallel streams
            history = data_parallel.fit(
                model,
                x,
                y,
                checkpoint_dir=run_dir / "checkpoints",
                keep_checkpoints=2,
                **fit_kwargs,
            )
    finally:
        RNN.blas_threads = saved_threads
    seconds = time.perf_counter() - start
    runs.check_trained(history.history, run_dir)
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    nats = float(val[best])
    results = {
        "best_epoch": best + 1,
        "val_loss_nats": nats,
        "val_perplexity": math.exp(nats),
        "val_bits_per_token": nats / math.log(2),
        "train_seconds": seconds,
        "epochs_run": len(val),
        "tokens_per_epoch": int(x.size),
        "environment": runs.environment(),
    }
    stopped = None
    if budget is not None and budget.stopped_epoch is not None and len(val) < cfg.epochs:
        stopped = budget.stopped_epoch + 1
        echo(
            f"time budget of {cfg.time_budget_minutes:g} min reached: training stopped after "
            f"epoch {stopped} of {cfg.epochs}"
        )
    results["stopped_by_time_budget"] = stopped
    results["ended_by"] = "time_budget" if stopped is not None else "epochs"
    if cfg.level == "word":  # the smoothed baseline on exactly the same tokens
        results["bigram_val_perplexity"] = bigram_perplexity(train_ids, val_ids, vocab)
    runs.write_json(run_dir / "history.json", history.history)
    runs.write_json(run_dir / "metrics.json", results)
    level = "character" if cfg.level == "char" else "word"
    plotting.learning_curves(
        {k: v for k, v in history.history.items() if "loss" in k},
        run_dir / "learning_curves.png",
        title=f"{level}-level {cfg.cell.upper()} language model, {cfg.corpus}",
        labels={"loss": f"cross-entropy (nats per {level})"},
    )
    results["run_dir"] = str(run_dir)
    if not root:  # (its private folder: rank 0 wrote the run folder)
        shutil.rmtree(run_dir, ignore_errors=True)
        results["run_dir"] = None
    results["rank"] = 0 if data_parallel is None else data_parallel.rank()
    return results


#: the most tokens one ``generate_text`` call produces
MAX_LENGTH = 1_000_000


def generate_text(
    run_dir,
    prompt: str,
    length: int = 500,
    temperature: float = 0.8,
    top_k=None,
    top_p=None,
    seed=None,
    greedy=False,
    beam: int = 0,
) -> str:
    """Continue ``prompt`` with the best model of a run folder.

    Unknown characters (or words) of the prompt are dropped with a notice on stderr;
    a prompt with nothing known left is an error. ``length`` is at most
    :data:`MAX_LENGTH` tokens and ``beam`` at most :data:`rnnkit.generation.MAX_BEAM_WIDTH`.

    Raises:
        ValueError: a bad length, beam width or prompt; a folder that is not a
            language-model run (nothing in it is changed).
    """
    from ..generation import MAX_BEAM_WIDTH

    run_dir = Path(run_dir)
    if isinstance(length, bool) or not isinstance(length, int) or not 0 < length <= MAX_LENGTH:
        raise ValueError(
            f"Received an invalid value for argument length, expected an int in "
            f"[1, {MAX_LENGTH}], got {length!r}."
        )
    if isinstance(beam, bool) or not isinstance(beam, int) or not 0 <= beam <= MAX_BEAM_WIDTH:
        raise ValueError(
            f"Received an invalid value for argument beam, expected an int in "
            f"[0, {MAX_BEAM_WIDTH}] (0: sample), got {beam!r}."
        )
    config = runs.open_run(run_dir, "lm", "generate")
    cfg = runs.config_from(LMConfig, config, run_dir / "config.json")
    tok = tokenizer_from_json(runs.read_text(run_dir / "tokenizer.json", what="tokenizer"))
    model = load_model(run_dir / "model.rnnkit")
    if cfg.level == "char":
        known = [c for c in prompt if c in tok.word_index]
        if len(known) < len(prompt):
            unknown = sorted(set(prompt) - set(known))
            print(f"rnnkit: dropped characters not in the vocabulary: {unknown}", file=sys.stderr)
        ids = [tok.word_index[c] for c in known]
    else:
        ids = [i for i in tok.texts_to_sequences([prompt])[0] if i != tok.word_index["<unk>"]]
    if not ids:
        raise ValueError("The prompt has no token from the model's vocabulary.")
    if beam:
        out = beam_search(model, ids, length, beam_width=beam)[0][0]
    else:
        out = generate(
            model,
            ids,
            length,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            greedy=greedy,
            seed=seed,
        )
    sep = "" if cfg.level == "char" else " "
    return prompt + sep + tok.sequences_to_texts([out])[0]

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
import sys
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


def read_corpus(path) -> str:
    """The text of a corpus file (UTF-8, undecodable bytes replaced).

    Raises:
        FileNotFoundError / ValueError: missing or empty file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Corpus file {str(path)!r} not found.")
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise ValueError(f"Corpus file {str(path)!r} is empty.")
    return text


REUTERS_CORPUS = "reuters-modapte"


def corpus_texts(cfg: LMConfig) -> tuple[str, str]:
    """(training text, validation text). ``--corpus reuters-modapte`` reads the bodies
    of the ModApte training stories for training and its test stories for evaluation;
    any other value is a file, split by characters (last ``val_fraction`` held out)."""
    if cfg.corpus == REUTERS_CORPUS:
        from ..datasets import reuters

        data = reuters.load_modapte()
        return "\n".join(data.train_texts), "\n".join(data.test_texts)
    text = read_corpus(cfg.corpus)
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


def train(cfg: LMConfig, out_dir=None, verbose: int = 1, resume: bool = False, echo=print) -> dict:
    """Train a language model; writes a run folder and returns its metrics."""
    cfg.check()
    train_text, val_text = corpus_texts(cfg)
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
    run_dir = Path(out_dir) if out_dir else runs.new_run_dir("runs", f"lm-{cfg.level}")
    run_dir.mkdir(parents=True, exist_ok=True)
    runs.write_json(run_dir / "config.json", dataclasses.asdict(cfg))
    (run_dir / "tokenizer.json").write_text(tok.to_json(), encoding="utf-8")
    echo(
        f"corpus {cfg.corpus}: {len(train_ids):,} training and {len(val_ids):,} validation "
        f"tokens, vocabulary {vocab}"
    )
    model = build_model(cfg, vocab)
    callbacks = [
        ResetStates(),
        ModelCheckpoint(run_dir / "model.rnnkit", save_best_only=True),
        BackupAndRestore(run_dir / "checkpoints", keep=2),
    ]
    if cfg.time_budget_minutes is not None:
        callbacks.append(TimeBudget(cfg.time_budget_minutes * 60.0))
    if cfg.schedule == "cosine":
        callbacks.append(LearningRateScheduler(cosine_decay(cfg.learning_rate, cfg.epochs)))
    elif cfg.schedule == "plateau":
        callbacks.append(ReduceLROnPlateau(factor=0.5, patience=1, min_lr=1e-5))
    saved_threads = RNN.blas_threads
    if cfg.threads is not None:
        RNN.blas_threads = cfg.threads
    start = time.perf_counter()
    try:
        history = model.fit(
            x,
            y,
            batch_size=cfg.batch_size,
            epochs=cfg.epochs,
            shuffle=False,
            validation_data=(vx, vy),
            callbacks=callbacks,
            verbose=verbose,
            resume=True if resume else None,
        )
    finally:
        RNN.blas_threads = saved_threads
    seconds = time.perf_counter() - start
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
    if cfg.level == "word":  # the smoothed baseline on exactly the same tokens
        results["bigram_val_perplexity"] = bigram_perplexity(train_ids, val_ids, vocab)
    runs.write_json(run_dir / "history.json", history.history)
    runs.write_json(run_dir / "metrics.json", results)
    plotting.learning_curves(
        {k: v for k, v in history.history.items() if "loss" in k},
        run_dir / "learning_curves.png",
        title=f"{cfg.level} LM",
    )
    results["run_dir"] = str(run_dir)
    return results


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
    a prompt with nothing known left is an error.
    """
    run_dir = Path(run_dir)
    cfg = LMConfig(
        **{
            k: v
            for k, v in runs.read_json(run_dir / "config.json").items()
            if k in {f.name for f in dataclasses.fields(LMConfig)}
        }
    )
    tok = tokenizer_from_json((run_dir / "tokenizer.json").read_text(encoding="utf-8"))
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

"""Every sequence shape, on tasks with exact ground truth (no download):

* ``addition`` — many-to-many ("535+61" -> "596"): Keras's addition_rnn recipe, an
  LSTM encoder, RepeatVector and an LSTM decoder, the input reversed;
* ``dates`` — many-to-many, translation-style: an encoder-decoder with Bahdanau
  attention and teacher forcing; greedy or beam decoding;
* ``digits`` — one-to-many (captioning in miniature): an 8x8 digit image sets the
  decoder's initial state and it spells the digit's name;
* ``tagging`` — many-to-many aligned: a bidirectional LSTM tags each character B / I /
  O (beginning of a number, inside one, outside).

Decoding runs through :mod:`rnnkit.generation` (the one decoding loop) with a decoder
step function built from the trained layers: each output character costs one cell
step, never a re-run of the prefix.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import backend, optimizers, plotting, runs
from ..callbacks import EarlyStopping
from ..datasets import seq2seq as data
from ..generation import beam_search, greedy_batch
from ..layers import (
    LSTM,
    BahdanauAttention,
    Bidirectional,
    Concatenate,
    Dense,
    Embedding,
    RepeatVector,
    TimeDistributed,
)
from ..models import Input, Model, Sequential, load_model

TASKS = ("addition", "dates", "digits", "tagging")
START, END = 1, 2  # CharTable ids of the start and end marks


@dataclass
class Seq2SeqConfig:
    task: str = "dates"
    n_train: int = 20000
    n_test: int = 2000
    units: int = 128
    embed_dim: int = 32
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 0.003
    patience: int = 3
    seed: int = 0

    def check(self) -> Seq2SeqConfig:
        """Validate the settings, and refuse sizes that cannot fit before any work.

        Raises:
            ValueError: an unknown task, a non-positive size, too many examples
                (:data:`rnnkit.datasets.seq2seq.MAX_EXAMPLES`), or a model too big for
                this machine's memory.
        """
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}.")
        for name in ("n_train", "n_test", "units", "embed_dim", "epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        if self.n_train + self.n_test > data.MAX_EXAMPLES:
            raise ValueError(
                f"n_train + n_test = {self.n_train + self.n_test:,} is more than the "
                f"{data.MAX_EXAMPLES:,} examples a task generates; ask for fewer."
            )
        runs.ensure_fits(
            self.training_bytes(),
            f"the {self.task} model of {self.units} units with a {self.embed_dim}-wide "
            f"embedding, trained on {self.n_train} examples",
            "--units, --embed-dim, --batch-size or --n-train",
        )
        return self

    def training_bytes(self) -> int:
        """An estimate of training memory: up to three LSTMs (encoder both ways and
        the decoder) with gradients and two Adam slots, one batch's activations over
        up to 40 steps, and the examples (strings and encoded arrays)."""
        u, e = self.units, self.embed_dim
        params = 3 * 4 * (e + 2 * u + 1) * u + 128 * (e + 2 * u)
        activations = self.batch_size * 40 * (12 * u + e)
        examples = (self.n_train + self.n_test) * (200 + 80 * 8)
        return 4 * (4 * params + 3 * activations) + examples


# ---- data -------------------------------------------------------------------------
def make_data(cfg: Seq2SeqConfig) -> dict:
    """Train/test pairs, the character tables and encoded arrays for the task."""
    if cfg.task == "addition":
        train, test = data.addition(cfg.n_train, cfg.n_test, seed=cfg.seed)
        src_len, tgt_len = 7, 4  # "999+999", "1998"
        table = data.CharTable("0123456789+ ")
        enc = lambda pairs: table.encode([s[::-1] for s, _ in pairs], src_len)  # noqa: E731
        tgt = lambda pairs: table.encode([t.ljust(tgt_len) for _, t in pairs], tgt_len)  # noqa: E731
        return {
            "train": train,
            "test": test,
            "src": table,
            "tgt": table,
            "src_len": src_len,
            "tgt_len": tgt_len,
            "x": enc(train),
            "y": tgt(train),
            "x_test": enc(test),
        }
    if cfg.task == "tagging":
        train, test = data.number_tagging(cfg.n_train, cfg.n_test, seed=cfg.seed)
        src = data.CharTable("".join(s for s, _ in train) + "0123456789", unknown="?")
        tgt = data.CharTable("BIO")
        length = max(len(s) for s, _ in train + test)
        return {
            "train": train,
            "test": test,
            "src": src,
            "tgt": tgt,
            "src_len": length,
            "tgt_len": length,
            "x": src.encode([s for s, _ in train], length),
            "y": tgt.encode([t for _, t in train], length),
            "x_test": src.encode([s for s, _ in test], length),
        }
    if cfg.task == "digits":
        images, labels = _digits()
        rng = np.random.default_rng(cfg.seed)
        order = rng.permutation(len(images))
        cut = int(len(images) * 0.8)
        tgt = data.CharTable("".join(data.DIGIT_NAMES))
        names = [data.DIGIT_NAMES[d] for d in labels]
        tgt_len = max(len(n) for n in names) + 2
        y_all = tgt.encode(names, tgt_len, start=True, end=True)
        tr, te = order[:cut], order[cut:]
        return {
            "train": [(None, names[i]) for i in tr],
            "test": [(None, names[i]) for i in te],
            "src": None,
            "tgt": tgt,
            "src_len": 64,
            "tgt_len": tgt_len,
            "x": images[tr],
            "y": y_all[tr],
            "x_test": images[te],
        }
    train, test = data.dates(cfg.n_train, cfg.n_test, seed=cfg.seed)
    src = data.CharTable("".join(s for s, _ in train), unknown="?")
    tgt = data.CharTable("0123456789-")
    src_len = max(len(s) for s, _ in train + test) + 2
    tgt_len = 12  # START + 10 characters + END
    return {
        "train": train,
        "test": test,
        "src": src,
        "tgt": tgt,
        "src_len": src_len,
        "tgt_len": tgt_len,
        "x": src.encode([s for s, _ in train], src_len),
        "y": tgt.encode([t for _, t in train], tgt_len, start=True, end=True),
        "x_test": src.encode([s for s, _ in test], src_len),
    }


def _digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError(
            "The digits task reads scikit-learn's bundled 8x8 digits: pip install "
            "'rnnkit[sklearn]'."
        ) from None
    d = load_digits()
    return (d.data / 16.0).astype(np.float32), d.target


# ---- models -----------------------------------------------------------------------
def build_model(cfg: Seq2SeqConfig, d: dict):
    """The task's model, compiled; for decoder models also the layers a decoder step
    needs (``model.decoder_parts``)."""
    backend.set_random_seed(cfg.seed)
    u, e = cfg.units, cfg.embed_dim
    opt = optimizers.Adam(cfg.learning_rate, global_clipnorm=5.0)
    loss = "sparse_categorical_crossentropy"
    n_src = len(d["src"]) if d["src"] is not None else 0
    n_tgt = len(d["tgt"])
    if cfg.task == "addition":
        model = Sequential(
            [
                Embedding(n_src, e, input_shape=(d["src_len"],)),
                LSTM(u),
                RepeatVector(d["tgt_len"]),
                LSTM(u, return_sequences=True),
                TimeDistributed(Dense(n_tgt, activation="softmax")),
            ]
        )
        model.compile(opt, loss, ["accuracy"])
        return model
    if cfg.task == "tagging":
        model = Sequential(
            [
                Embedding(n_src, e, mask_zero=True, input_shape=(None,)),
                Bidirectional(LSTM(u // 2, return_sequences=True)),
                TimeDistributed(Dense(n_tgt, activation="softmax")),
            ]
        )
        model.compile(opt, loss, ["accuracy"])
        return model
    dec_in = Input((None,), name="decoder_in")
    dec_emb, dec_rnn = Embedding(n_tgt, e), LSTM(u, return_sequences=True)
    out_dense = TimeDistributed(Dense(n_tgt, activation="softmax"))
    if cfg.task == "digits":
        image = Input((64,), name="image")
        init_h, init_c = Dense(u, activation="tanh"), Dense(u, activation="tanh")
        seq = dec_rnn(dec_emb(dec_in), initial_state=[init_h(image), init_c(image)])
        model = Model([image, dec_in], out_dense(seq))
        model.decoder_parts = {
            "init": (init_h, init_c),
            "emb": dec_emb,
            "rnn": dec_rnn,
            "out": out_dense.layer,
        }
    else:  # dates
        src_in = Input((None,), name="source")
        enc_emb = Embedding(n_src, e, mask_zero=True)
        enc_rnn = Bidirectional(LSTM(u // 2, return_sequences=True, return_state=True))
        enc_seq, hf, cf, hb, cb = enc_rnn(enc_emb(src_in))
        h0 = Concatenate()([hf, hb])
        c0 = Concatenate()([cf, cb])
        dec_seq = dec_rnn(dec_emb(dec_in), initial_state=[h0, c0])
        attention = BahdanauAttention(u)
        context = attention([dec_seq, enc_seq])
        merged = Concatenate()([dec_seq, context])
        model = Model([src_in, dec_in], out_dense(merged))
        model.decoder_parts = {
            "enc_emb": enc_emb,
            "enc_rnn": enc_rnn,
            "emb": dec_emb,
            "rnn": dec_rnn,
            "attention": attention,
            "out": out_dense.layer,
        }
    model.compile(opt, loss, ["accuracy"])
    return model


def _parts(model, task):
    """Find the decoder's layers in a (possibly reloaded) model by their roles."""
    if hasattr(model, "decoder_parts"):
        return model.decoder_parts
    layers = model.layers
    embs = [l for l in layers if isinstance(l, Embedding)]
    lstms = [l for l in layers if type(l).__name__ == "LSTM"]
    dense = [l for l in layers if isinstance(l, TimeDistributed)][-1].layer
    if task == "digits":
        inits = [l for l in layers if isinstance(l, Dense)][:2]
        return {"init": tuple(inits), "emb": embs[0], "rnn": lstms[-1], "out": dense}
    return {
        "enc_emb": embs[0],
        "enc_rnn": [l for l in layers if isinstance(l, Bidirectional)][0],
        "emb": embs[1],
        "rnn": lstms[-1],
        "attention": [l for l in layers if isinstance(l, BahdanauAttention)][0],
        "out": dense,
    }


def decoder_step(model, task, source):
    """A step function for :mod:`rnnkit.generation` and the initial states for
    ``source`` (a batch of encoded sources or images)."""
    p = _parts(model, task)
    if task == "digits":
        h0 = p["init"][0].forward(source)
        c0 = p["init"][1].forward(source)
        states = [[h0, c0]]
    else:
        mask = source != 0
        enc_seq, hf, cf, hb, cb = p["enc_rnn"].forward(p["enc_emb"].forward(source), mask=mask)
        states = [[np.concatenate([hf, hb], -1), np.concatenate([cf, cb], -1)], enc_seq, mask]

    def step(tokens, st):
        x = p["emb"].params["embeddings"][np.asarray(tokens)]
        h, rnn_states = p["rnn"].step(x, st[0])
        if task != "digits":
            context = p["attention"].forward([h, st[1]], mask=st[2])
            step.weights.append(p["attention"].attention_weights.copy())
            h = np.concatenate([h, context], axis=-1)
        return p["out"].forward(h), [rnn_states] + list(st[1:])

    step.weights = []
    return step, states


def decode(model, task, d, sources, beam: int = 0) -> list[str]:
    """Output strings for encoded sources (greedy for a batch, or beam search)."""
    if task == "addition":
        probs = model.predict(sources, batch_size=512)
        return [d["tgt"].decode(row).strip() for row in np.argmax(probs, -1)]
    if task == "tagging":
        probs = model.predict(sources, batch_size=512)
        lengths = (sources != 0).sum(axis=1)  # one tag per source character
        return [d["tgt"].decode(row[:n]) for row, n in zip(np.argmax(probs, -1), lengths)]
    length = d["tgt_len"] - 1
    if beam:
        outs = []
        for i in range(len(sources)):
            step, states = decoder_step(model, task, sources[i : i + 1])
            ids = beam_search(
                lambda t, s, _st=states, _f=step: _f(t, s if s is not None else _st),
                [START],
                length,
                beam_width=beam,
                stop_id=END,
            )[0][0]
            outs.append(d["tgt"].decode(ids))
        return outs
    step, states = decoder_step(model, task, sources)
    ids = greedy_batch(step, np.full(len(sources), START), length, states, stop_id=END)
    return [d["tgt"].decode(row) for row in ids]


# ---- training and evaluation --------------------------------------------------------
def train(
    cfg: Seq2SeqConfig,
    out_dir=None,
    verbose: int = 1,
    echo=print,
    resume: bool = False,
    overwrite: bool = False,
) -> dict:
    """Train on the task, evaluate exact match on the disjoint test set, write a run
    folder; checkpoints every epoch in ``<run folder>/checkpoints`` (``resume=True``
    continues an interrupted run exactly). A new run refuses an ``out_dir`` that holds
    files unless ``overwrite``.

    Raises:
        ValueError: bad settings or sizes that cannot fit (see :meth:`Seq2SeqConfig.check`).
        rnnkit.runs.RunFolderError: ``out_dir`` is another kind of run or is not empty;
            nothing in it is changed.
    """
    cfg.check()
    if resume:
        runs.open_run(out_dir, "seq2seq", "resume")
        runs.check_resumable(out_dir, cfg.epochs)
    elif out_dir is not None:
        runs.check_out_dir(out_dir, overwrite)
    d = make_data(cfg)
    model = build_model(cfg, d)
    if cfg.task in ("addition", "tagging"):
        x, y, weights = d["x"], d["y"], None
        if cfg.task == "tagging":
            weights = (d["x"] != 0).astype(np.float32)  # padding steps do not count
    else:  # teacher forcing: the decoder reads the target shifted right
        x = [d["x"], d["y"][:, :-1]]
        y = d["y"][:, 1:]
        weights = np.concatenate([np.ones((len(y), 1)), (y[:, :-1] != 0)], 1).astype(np.float32)
    echo(f"task {cfg.task}: {len(d['train'])} training and {len(d['test'])} test examples")
    stop = EarlyStopping(monitor="val_loss", patience=cfg.patience, restore_best_weights=True)
    if resume:
        run_dir = Path(out_dir)
    elif out_dir is not None:
        run_dir = runs.prepare_out_dir(out_dir, overwrite)
    else:
        run_dir = runs.new_run_dir("runs", f"seq2seq-{cfg.task}")
    if not resume:  # a resumed run keeps the config it began with
        runs.write_config(run_dir, "seq2seq", dataclasses.asdict(cfg))
    start = time.perf_counter()
    history = model.fit(
        x,
        y,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        verbose=verbose,
        validation_split=0.05,
        callbacks=[stop],
        sample_weight=weights,
        checkpoint_dir=run_dir / "checkpoints",
        resume=True if resume else None,
    )
    seconds = time.perf_counter() - start
    runs.check_trained(history.history, run_dir)
    outputs = decode(model, cfg.task, d, d["x_test"])
    targets = [t for _, t in d["test"]]
    exact = float(np.mean([o == t for o, t in zip(outputs, targets)]))
    results = {
        "task": cfg.task,
        "exact_match": exact,
        "train_seconds": seconds,
        "epochs_run": len(history.history["loss"]),
        "ended_by": "early_stopping" if stop.stopped_epoch else "epochs",
        "n_train": len(d["train"]),
        "n_test": len(d["test"]),
        "environment": runs.environment(),
    }
    if cfg.task == "tagging":
        hits = [a == b for o, t in zip(outputs, targets) for a, b in zip(o, t)]
        results["per_step_accuracy"] = float(np.mean(hits))
    model.save(run_dir / "model.rnnkit")
    runs.write_json(
        run_dir / "vocab.json",
        {
            "src": None if d["src"] is None else d["src"].to_list(),
            "src_unknown": None if d["src"] is None else d["src"].unknown,
            "tgt": d["tgt"].to_list(),
            "src_len": d["src_len"],
            "tgt_len": d["tgt_len"],
        },
    )
    runs.write_json(run_dir / "metrics.json", results)
    runs.write_json(run_dir / "history.json", history.history)
    plotting.learning_curves(
        history.history,
        run_dir / "learning_curves.png",
        title=f"sequence to sequence, {cfg.task} task: learning curves",
        labels={
            "loss": "cross-entropy (nats per output token)",
            "accuracy": "per-token accuracy (fraction)",
        },
    )
    results["run_dir"] = str(run_dir)
    results["examples"] = list(zip([s for s, _ in d["test"][:5]], outputs[:5], targets[:5]))
    return results


def has_attention(run_dir) -> bool:
    """Whether a run folder's model has attention (the dates task).

    Raises:
        rnnkit.runs.RunFolderError: not a sequence-to-sequence run folder.
    """
    return runs.open_run(run_dir, "seq2seq", "seq2seq run").get("task") == "dates"


def run_on_text(run_dir, text: str, beam: int = 0, heatmap=None) -> str:
    """Apply a trained run to one input (a source string; for ``digits``, an index into
    scikit-learn's digits images). Writes the attention heat map for attention models
    when ``heatmap`` is a path."""
    run_dir = Path(run_dir)
    config = runs.open_run(run_dir, "seq2seq", "seq2seq run")
    cfg = runs.config_from(Seq2SeqConfig, config, run_dir / "config.json")
    vocab = runs.read_fields(
        run_dir / "vocab.json",
        {
            "tgt": list,
            "tgt_len": int,
            "src_len": int,
            "src": (list, type(None)),
            "src_unknown": (str, type(None)),
        },
    )
    model = load_model(run_dir / "model.rnnkit")
    tgt = data.CharTable.from_list(vocab["tgt"])
    d = {"tgt": tgt, "tgt_len": vocab["tgt_len"]}
    if cfg.task == "digits":
        images, labels = _digits()
        try:
            index = int(text)
        except ValueError:
            raise ValueError(f"For the digits task give an image index, got {text!r}.") from None
        if not 0 <= index < len(images):
            raise ValueError(f"Image index must be in [0, {len(images)}), got {index}.")
        return decode(model, cfg.task, d, images[index : index + 1], beam)[0]
    if not text:
        raise ValueError("The input is empty.")
    src = data.CharTable.from_list(vocab["src"], unknown=vocab["src_unknown"])
    source = text[::-1] if cfg.task == "addition" else text
    if cfg.task == "tagging":
        length = max(len(text), 1)
    else:
        length = vocab["src_len"]
    encoded = src.encode([source], length)
    if cfg.task != "dates":
        return decode(model, cfg.task, d, encoded)[0]
    step, states = decoder_step(model, cfg.task, encoded)
    ids = greedy_batch(step, np.array([START]), vocab["tgt_len"] - 1, states, stop_id=END)
    out = tgt.decode(ids[0])
    if heatmap is not None and step.weights:
        weights = np.concatenate([w for w in step.weights], axis=0)
        plotting.attention_heatmap(
            weights,
            text,
            out,
            heatmap,
            title=f"attention of the dates model: {text!r} -> {out!r}",
        )
    if beam:
        out = decode(model, cfg.task, d, encoded, beam)[0]
    return out

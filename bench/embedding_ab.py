"""Before / after the row-sparse embedding gradient, in one process, interleaved.

The classifier of bench/embedding_classifier.py (Embedding(30000, 64, mask_zero) +
LSTM(64) + softmax; Adam, global norm clipped) trains an epoch twice per repetition:
once with ``DenseGradEmbedding`` (the backward before the change, line for line: a
dense (30000, 64) gradient made and scattered into with ``np.add.at``, which the norm,
the clipping and Adam then read whole) and once with ``rnnkit.layers.Embedding``
(the rows used only; Adam's dense-semantics pass over the table reads no gradient for
the rest). The same weights, data and batches; one thread; medians, their ratio
(before / after: above 1, the change is faster) and the quartiles of the paired ratios:

    PYTHONPATH=src python bench/embedding_ab.py
    PYTHONPATH=src python bench/embedding_ab.py --reps 3 --samples 512   # a smoke test
    PYTHONPATH=src python bench/embedding_ab.py --optimizer lazy_adam     # after: LazyAdam
    PYTHONPATH=src python bench/embedding_ab.py --parts   # the table's share of one step

``--parts`` times only what a training step does with the table, per step, on one
batch of the classifier's ids (32 x 100): the embedding's backward, the gradient norm
(the training step's and global clipping's), and the optimizer's update of the table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))


def dense_grad_embedding():
    from rnnkit.layers import Embedding

    class DenseGradEmbedding(Embedding):
        """Embedding with the dense gradient it had before the row-sparse one."""

        def backward(self, dy):
            emb = self.params["embeddings"]
            grad = np.zeros_like(emb)
            np.add.at(grad, self._ids.ravel(), dy.reshape(-1, self.output_dim))
            self.grads["embeddings"] = grad
            return None

    return DenseGradEmbedding


def table_step(embedding, optimizer, ids, dy):
    """What a training step does with the embedding table alone: backward, the global
    norm twice (the step's report and the clipping), the clipped update."""
    from rnnkit import optimizers

    def step():
        embedding.backward(dy)
        grads = embedding.gradients()
        optimizers.global_norm(grads)
        optimizer.apply([embedding.params["embeddings"]], grads)

    return step


def parts(a, ec, timing) -> None:
    from rnnkit import layers, optimizers

    x, _ = ec.load(ec.BATCH, a.maxlen)
    rng = np.random.default_rng(0)
    sides = []
    for cls, opt in (
        (dense_grad_embedding(), "adam"),
        (layers.Embedding, a.optimizer),
    ):
        emb = cls(ec.VOCAB, ec.EMBED, mask_zero=True)
        emb(x)
        dy = rng.standard_normal((len(x), a.maxlen, ec.EMBED)).astype(np.float32) * 1e-3
        kind = optimizers.LazyAdam if opt == "lazy_adam" else optimizers.Adam
        sides.append(table_step(emb, kind(ec.LEARNING_RATE, global_clipnorm=ec.CLIP), x, dy))
    out = timing(sides[1], sides[0], a.reps * 5)
    used = len(np.unique(x))
    q = out["spread"]
    print(
        f"one step's work on the ({ec.VOCAB}, {ec.EMBED}) table, batch {len(x)} x {a.maxlen} "
        f"ids ({used} rows used), {a.threads} thread(s), {a.reps * 5} reps:\n"
        f"  before (dense gradient, Adam):     {out['torch'] * 1e3:.2f} ms\n"
        f"  after (row-sparse, {a.optimizer}): {out['rnnkit'] * 1e3:.2f} ms\n"
        f"  before / after: {out['ratio']:.2f} (paired-ratio quartiles {q[0]:.2f}-{q[1]:.2f})"
    )


def main(argv=None) -> None:
    import embedding_classifier as ec
    from run import set_threads, timing

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=7, help="timed epochs of each (after a warm-up)")
    p.add_argument("--samples", type=int, default=ec.SAMPLES)
    p.add_argument("--maxlen", type=int, default=ec.MAXLEN)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--optimizer",
        choices=["adam", "lazy_adam"],
        default="adam",
        help="the optimizer of the 'after' model (before: always Adam)",
    )
    p.add_argument("--parts", action="store_true", help="only the table's work of one step")
    a = p.parse_args(argv)
    if a.parts:
        with set_threads(a.threads):
            parts(a, ec, timing)
        return
    x, y = ec.load(a.samples, a.maxlen)
    with set_threads(a.threads):
        before = ec.rnnkit_model(dense_grad_embedding())
        after = ec.rnnkit_model()
        if a.optimizer == "lazy_adam":
            from rnnkit import optimizers

            after.compile(
                optimizer=optimizers.LazyAdam(ec.LEARNING_RATE, global_clipnorm=ec.CLIP),
                loss="sparse_categorical_crossentropy",
            )
        before.fit(x[:2], y[:2], epochs=1, verbose=0)  # builds both, then same weights
        after.fit(x[:2], y[:2], epochs=1, verbose=0)
        after.set_weights(before.get_weights())
        t0 = time.perf_counter()
        # timing(a, b): a = "rnnkit" slot = after, b = "torch" slot = before
        out = timing(ec.rnnkit_epoch(after, x, y), ec.rnnkit_epoch(before, x, y), a.reps)
        took = time.perf_counter() - t0
    steps = -(-len(x) // ec.BATCH)
    q = out.get("spread")
    print(
        f"epoch of {len(x)} wires x {a.maxlen} ids ({steps} steps), {a.threads} thread(s), "
        f"{a.reps} reps (took {took:.0f} s):\n"
        f"  before (dense gradient):       {out['torch']:.3f} s\n"
        f"  after ({a.optimizer}, row-sparse): {out['rnnkit']:.3f} s\n"
        f"  before / after: {out['ratio']:.2f}"
        + (f" (paired-ratio quartiles {q[0]:.2f}-{q[1]:.2f})" if q else "")
        + f"; saved per step: {(out['torch'] - out['rnnkit']) / steps * 1e3:.2f} ms"
    )


if __name__ == "__main__":
    main()

"""Early learning of the language-model race's rnnkit model under PyTorch's settings.

    PYTHONPATH=src python bench/lm_early.py --corpus ../shared/data/tinyshakespeare/input.txt \\
        --variant {keras,eps,bias,both} [--seed 0] [--epochs 2]

The model and settings of bench/lm_speed.py (1 LSTM layer of 512, embedding 64, batch 64,
windows of 100, Adam 2e-3, clipnorm 5, dropout 0.2, ``--init torch``), one BLAS thread,
validation loss after each epoch (156 steps). Variants:
``keras``: rnnkit's Adam (Keras's form, ε = 1e-7 on √v) and one bias vector drawn from
U(±1/√H), as in the race so far; ``eps``: Adam in PyTorch's form (ε = 1e-8 on √v̂,
``epsilon_form="torch"``); ``bias``: the LSTM bias drawn as PyTorch's b_ih + b_hh (the
sum of two U(±1/√H)); ``both``.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from threadpoolctl import threadpool_limits

from rnnkit import optimizers
from rnnkit.experiments import lm
from rnnkit.preprocessing.sequence import stream_windows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", required=True)
    p.add_argument("--variant", choices=["keras", "eps", "bias", "both"], default="keras")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=2)
    a = p.parse_args()
    cfg = lm.LMConfig(corpus=a.corpus, layers=1, schedule="none", init="torch", units=512,
                      embed_dim=64, dropout=0.2, window=100, batch_size=64,
                      learning_rate=2e-3, clipnorm=5.0, seed=a.seed)
    train_text, val_text = lm.corpus_texts(cfg)
    tok = lm.make_tokenizer(cfg, train_text + val_text)
    x, y = stream_windows(np.array(tok.texts_to_sequences([train_text])[0]), 64, 100)
    vx, vy = stream_windows(np.array(tok.texts_to_sequences([val_text])[0]), 64, 100)
    model = lm.build_model(cfg, lm.vocab_size(tok))
    if a.variant in ("bias", "both"):
        bias = model.layers[1].cell.params["bias"]
        k = 1 / math.sqrt(cfg.units)
        rng = np.random.default_rng(a.seed + 99)
        bias[...] = rng.uniform(-k, k, bias.shape) + rng.uniform(-k, k, bias.shape)
    if a.variant in ("eps", "both"):
        opt = optimizers.Adam(learning_rate=2e-3, epsilon=1e-8, epsilon_form="torch",
                              global_clipnorm=5.0)
        model.compile(opt, "sparse_categorical_crossentropy")
    losses = []
    with threadpool_limits(1):
        for _ in range(a.epochs):
            model.reset_states()
            model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
            losses.append(float(model.evaluate(vx, vy, batch_size=64)))
    steps = len(x) // 64
    print(f"{a.variant} seed {a.seed}: validation loss after "
          + ", ".join(f"{(i + 1) * steps} steps {v:.4f}" for i, v in enumerate(losses)))


if __name__ == "__main__":
    main()

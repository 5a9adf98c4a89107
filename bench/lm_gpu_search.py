"""Choose the character-LM default config cheaply: rnnkit's model rebuilt in PyTorch and
trained on a GPU, for a fixed number of epochs per config, to learn which schedule and
regularisation reach the lowest validation loss in the number of epochs that 60 minutes of
2 CPU cores afford rnnkit. Only the choice is made here; the reported figures come from
rnnkit's own run (docs/language-models.md).

The model mirrors ``rnnkit.experiments.lm.build_model``: Embedding -> LSTM x layers (each
followed by Dropout) -> Dense softmax; Adam with a global-norm clip; cosine decay per
epoch; stateful windows (Zaremba batching); states reset every epoch. ``--init keras``
initialises as rnnkit does (embedding U(+-0.05), Glorot-uniform kernels, orthogonal
recurrent kernels, forget-gate bias 1), ``--init torch`` keeps PyTorch's defaults.

    python bench/lm_gpu_search.py --corpus input.txt --layers 2 --hidden 512 \\
        --dropout 0.3 --epochs 20 --schedule cosine
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--corpus", required=True)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--final-lr", type=float, default=0.0)
    p.add_argument("--schedule", choices=["none", "cosine"], default="cosine")
    p.add_argument("--init", choices=["keras", "torch"], default="keras")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default="")
    return p.parse_args()


def streams(ids, batch, window):
    n = (len(ids) - 1) // (batch * window) * window
    x = ids[: batch * n].view(batch, n)
    y = ids[1 : batch * n + 1].view(batch, n)
    return [(x[:, i : i + window], y[:, i : i + window]) for i in range(0, n, window)]


class Net(torch.nn.Module):
    def __init__(self, vocab, a):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, a.embed)
        self.rnns = torch.nn.ModuleList(
            torch.nn.LSTM(a.embed if i == 0 else a.hidden, a.hidden, batch_first=True)
            for i in range(a.layers)
        )
        self.drop = torch.nn.Dropout(a.dropout)
        self.out = torch.nn.Linear(a.hidden, vocab)
        if a.init == "keras":
            torch.nn.init.uniform_(self.emb.weight, -0.05, 0.05)
            for r in self.rnns:
                H = r.hidden_size
                torch.nn.init.xavier_uniform_(r.weight_ih_l0)  # (4H, I): fan sums match Keras
                torch.nn.init.orthogonal_(r.weight_hh_l0)  # (4H, H)
                torch.nn.init.zeros_(r.bias_ih_l0)
                torch.nn.init.zeros_(r.bias_hh_l0)
                with torch.no_grad():
                    r.bias_ih_l0[H : 2 * H] = 1.0  # PyTorch gate order i, f, g, o
            torch.nn.init.xavier_uniform_(self.out.weight)
            torch.nn.init.zeros_(self.out.bias)

    def forward(self, x, states):
        h = self.emb(x)
        new = []
        for r, s in zip(self.rnns, states):
            h, s = r(h, s)
            new.append(s)
            h = self.drop(h)
        return self.out(h), new


def main():
    a = parse()
    torch.manual_seed(a.seed)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    text = open(a.corpus, encoding="utf-8").read()
    n = int(0.9 * len(text))
    chars = sorted(set(text[:n]))
    index = {c: i + 1 for i, c in enumerate(chars)}
    vocab = len(chars) + 1
    enc = lambda s: torch.tensor([index.get(c, 0) for c in s], dtype=torch.long, device=dev)  # noqa: E731
    train, val = streams(enc(text[:n]), 64, 100), streams(enc(text[n:]), 64, 100)
    net = Net(vocab, a).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    lossf = torch.nn.CrossEntropyLoss()
    curve = []
    t0 = time.time()
    for epoch in range(a.epochs):
        if a.schedule == "cosine":
            lr = a.final_lr + 0.5 * (a.lr - a.final_lr) * (1 + math.cos(math.pi * epoch / a.epochs))
            for g in opt.param_groups:
                g["lr"] = lr
        net.train()
        states = [None] * a.layers
        for x, y in train:
            states = [None if s is None else tuple(t.detach() for t in s) for s in states]
            out, states = net(x, states)
            loss = lossf(out.reshape(-1, vocab), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
        net.eval()
        total = count = 0
        states = [None] * a.layers
        with torch.no_grad():
            for x, y in val:
                out, states = net(x, states)
                total += lossf(out.reshape(-1, vocab), y.reshape(-1)).item() * y.numel()
                count += y.numel()
        curve.append(round(total / count, 4))
    print(
        json.dumps(
            {
                "name": a.name,
                "args": vars(a),
                "val": curve,
                "best": min(curve),
                "best_epoch": curve.index(min(curve)) + 1,
                "seconds": round(time.time() - t0),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()

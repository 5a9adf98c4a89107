"""PyTorch twins of rnnkit models, layer by layer, for bench/run.py.

``ReutersTwin`` is the default ``rnnkit reuters`` model (rnnkit.experiments.reuters.
build_model with the default ReutersConfig):

    rnnkit                                      PyTorch twin
    Embedding(vocab, E, mask_zero=True)         nn.Embedding(vocab, E, padding_idx=0)
      (frozen when the config freezes it)       (requires_grad=False likewise)
    SpatialDropout1D(p)                         nn.Dropout1d(p) over (batch, features, time)
    Bidirectional(GRU(128, return_sequences))   nn.GRU(bidirectional=True) on a packed
                                                sequence (padded steps skipped, as the mask
                                                makes rnnkit carry the state over them)
    GlobalMaxAveragePooling1D()                 max and mean over the unpadded steps
    Dropout(q)                                  nn.Dropout(q)
    Dense(n_classes, softmax) + sparse CE       nn.Linear + cross_entropy (fused softmax)

with the sizes and rates of the config (vocab: the embedding's input_dim after the
config's rare-word restriction), trained with Adam at the same learning rate and the
same global gradient-norm cap.
"""

from __future__ import annotations

import torch


def trim(x: torch.Tensor) -> torch.Tensor:
    """Drop trailing steps that are padding in every row (what rnnkit's fit does)."""
    used = torch.nonzero(x.any(dim=0)).flatten()
    keep = int(used[-1]) + 1 if used.numel() else 1
    return x[:, :keep]


class ReutersTwin(torch.nn.Module):
    def __init__(self, cfg, n_classes: int):
        super().__init__()
        cell = torch.nn.GRU if cfg.model.endswith("gru") else torch.nn.LSTM
        vocabulary = int(cfg.extra.get("input_dim", cfg.num_words))
        self.embedding = torch.nn.Embedding(vocabulary, cfg.embed_dim, padding_idx=0)
        # the default job keeps pretrained word vectors fixed: so does the twin (the
        # vectors' values do not change the timing, so both start from random ones)
        frozen = bool(getattr(cfg, "freeze_embeddings", False)) and (
            getattr(cfg, "pretrained_embeddings", "none") != "none"
        )
        self.embedding.weight.requires_grad_(not frozen)
        self.spatial_dropout = torch.nn.Dropout1d(cfg.spatial_dropout)
        self.rnn = cell(
            cfg.embed_dim, cfg.units, batch_first=True, bidirectional=cfg.model.startswith("bi")
        )
        self.dropout = torch.nn.Dropout(cfg.dropout)
        width = cfg.units * (2 if cfg.model.startswith("bi") else 1)
        self.out = torch.nn.Linear(2 * width, n_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        valid = ids != 0
        lengths = valid.sum(1).clamp(min=1)
        e = self.spatial_dropout(self.embedding(ids).transpose(1, 2)).transpose(1, 2)
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            e, lengths, batch_first=True, enforce_sorted=False
        )
        y, _ = self.rnn(packed)
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(
            y, batch_first=True, total_length=ids.shape[1]
        )
        m = valid.unsqueeze(-1)
        y_max = y.masked_fill(~m, float("-inf")).amax(1)
        y_mean = (y * m).sum(1) / lengths.unsqueeze(-1)
        return self.out(self.dropout(torch.cat([y_max, y_mean], 1)))

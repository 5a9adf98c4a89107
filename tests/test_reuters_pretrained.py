"""The Reuters job's word vectors learnt without labels (pretrained_embeddings="ppmi")."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rnnkit.datasets import reuters
from rnnkit.experiments import reuters as job
from tests.conftest import require_data


@pytest.fixture(scope="module")
def seeds_data():
    require_data("reuters21578.tar.gz")
    return job.load_split(job.ReutersConfig().resolved())


def test_unlabelled_stories_hold_no_labelled_story():
    require_data("reuters21578.tar.gz")
    texts = job.unlabelled_texts("seeds")
    assert 8000 < len(texts) < 10000
    word_index = reuters.get_word_index()
    # every labelled wire of the Keras-style data, as id sequences (test ones included)
    (x_train, _), (x_test, _) = reuters.load_data(test_split=0.2)
    labelled = {tuple(s[1:21]) for s in list(x_train) + list(x_test)}
    unlabelled = {
        tuple(word_index[w] + 3 for w in reuters.tokenize(t)[:20] if w in word_index) for t in texts
    }
    assert not labelled & unlabelled


def test_modapte_unlabelled_stories_are_not_test_stories():
    require_data("reuters21578.tar.gz")
    texts = job.unlabelled_texts("modapte")
    assert 6000 < len(texts) < 10000
    assert not set(texts) & set(reuters.load_modapte().test_texts)


def test_vectors_cover_the_model_vocabulary(seeds_data):
    cfg = job.ReutersConfig(pretrained_embeddings="ppmi", embed_dim=16).resolved()
    data = job.restrict_vocabulary(seeds_data, cfg.min_word_count)
    vectors = job.pretrained_vectors(cfg, data)
    assert vectors.shape == (data["input_dim"], 16)
    norms = np.linalg.norm(vectors, axis=1)
    assert norms[0] == 0  # padding
    assert np.mean(np.isclose(norms[3:], 1.0, atol=1e-4)) > 0.99
    ids = data["vocab"]["word_ids"]
    # numbers of the same kind of report share contexts: "profit" and "loss" are
    # closer to each other than to "wheat"
    profit, loss, wheat = (vectors[ids[w]] for w in ("profit", "loss", "wheat"))
    assert profit @ loss > profit @ wheat + 0.2


@pytest.mark.parametrize("freeze", [True, False])
def test_training_starts_from_the_vectors(seeds_data, freeze):
    small = {**seeds_data, "x_train": seeds_data["x_train"][:200]}
    small["y_train"] = seeds_data["y_train"][:200]
    cfg = job.ReutersConfig(
        pretrained_embeddings="ppmi",
        freeze_embeddings=freeze,
        embed_dim=16,
        units=8,
        epochs=1,
        patience=0,
    ).resolved()
    out = job.train_and_evaluate(cfg, small)
    restricted = job.restrict_vocabulary(small, cfg.min_word_count)
    cfg = dataclasses.replace(cfg, extra={"input_dim": restricted["input_dim"]})
    vectors = job.pretrained_vectors(cfg, restricted)
    weights = out["model"].layers[0].params["embeddings"]
    found = np.linalg.norm(vectors, axis=1) > 0
    change = np.abs(weights[found] - vectors[found]).max()
    if freeze:
        assert change == 0
    else:
        assert 0 < change < 0.5  # fine-tuned from the vectors, not from a random start
    assert out["figures"]["vector_seconds"] > 0


def test_bad_option_names_the_argument():
    with pytest.raises(ValueError, match="argument pretrained_embeddings"):
        job.ReutersConfig(pretrained_embeddings="glove").resolved()


def test_cli_flags_reach_the_config(monkeypatch):
    from rnnkit.cli.main import main

    seen = {}

    class Stop(BaseException):  # (main turns every Exception into exit 2)
        pass

    def fake_run(cfg, **kwargs):
        seen["cfg"] = cfg.resolved()
        raise Stop

    monkeypatch.setattr(job, "run", fake_run)
    with pytest.raises(Stop):
        main(["reuters", "-q"])  # the seeds setting's defaults: frozen 256-wide vectors
    cfg = seen["cfg"]
    assert (cfg.pretrained_embeddings, cfg.freeze_embeddings, cfg.embed_dim) == ("ppmi", True, 256)
    with pytest.raises(Stop):
        main(["reuters", "--setting", "full", "-q"])
    assert seen["cfg"].pretrained_embeddings == "ppmi" and seen["cfg"].freeze_embeddings
    with pytest.raises(Stop):
        main(["reuters", "--setting", "modapte", "-q"])
    cfg = seen["cfg"]
    assert (cfg.pretrained_embeddings, cfg.freeze_embeddings, cfg.embed_dim) == ("ppmi", True, 256)
    with pytest.raises(Stop):
        main(["reuters", "--pretrained-embeddings", "none", "--no-freeze-embeddings", "-q"])
    assert seen["cfg"].pretrained_embeddings == "none" and not seen["cfg"].freeze_embeddings
    with pytest.raises(Stop):
        args = ["--setting", "modapte", "--pretrained-embeddings", "none"]
        main(["reuters", *args, "--no-freeze-embeddings", "--embed-dim", "64", "-q"])
    cfg = seen["cfg"]
    assert (cfg.pretrained_embeddings, cfg.freeze_embeddings, cfg.embed_dim) == ("none", False, 64)


def test_vocabulary_from_unlabelled_text_keeps_more_words(seeds_data):
    extra = job.encode_texts(seeds_data["vocab"], job.unlabelled_texts("seeds"))
    plain = job.restrict_vocabulary(seeds_data, 2)
    wider = job.restrict_vocabulary(seeds_data, 2, extra)
    assert wider["input_dim"] > 2 * plain["input_dim"]
    # every word kept on training counts alone is kept, under the same or a new id
    assert set(plain["vocab"]["word_ids"]) <= set(wider["vocab"]["word_ids"])
    # fewer test tokens become OOV (id 2)
    oov = [sum(t == 2 for s in d["x_test"] for t in s) for d in (plain, wider)]
    assert oov[1] < oov[0]


def test_vocabulary_from_unlabelled_text_needs_vectors(seeds_data):
    cfg = job.ReutersConfig(vocab_from_unlabelled=True, pretrained_embeddings="none", epochs=1)
    with pytest.raises(ValueError, match="argument vocab_from_unlabelled"):
        job.train_and_evaluate(cfg, seeds_data)
    tok_data = {**seeds_data, "vocab": {"kind": "tokenizer", "tokenizer": "{}"}}
    with pytest.raises(ValueError, match="argument extra_sequences"):
        job.restrict_vocabulary(tok_data, 2, [[3, 4]])


def test_recurrent_layers_pretrained_as_language_models():
    """pretrain_recurrent trains a next-word model per direction (its loss falls) and
    leaves its recurrent weights in the classifier's forward and backward layers."""
    rng = np.random.default_rng(0)
    # a stream with structure a model can learn: ids cycle 3, 4, ..., 12 with some noise
    seqs = [[1] + [3 + (k + i) % 10 for i in range(30)] for k in range(40)]
    unlabelled = [[1] + [3 + int(v) for v in (np.arange(40) + k) % 10] for k in range(60)]
    data = {"x_train": seqs, "input_dim": 13}
    cfg = job.ReutersConfig(
        embed_dim=8, units=6, pretrain_lm_epochs=4,
        extra={"input_dim": 13, "lm_window": 10, "lm_batch_size": 16, "lm_learning_rate": 0.03},
    ).resolved()
    model = job.build_model(cfg, n_classes=3, seq_len=31)
    model.build((None, 31))
    bi = model.layers[2]
    before = [w.copy() for w in bi.forward_layer.get_weights()]
    losses = job.pretrain_recurrent(model, cfg, data, unlabelled=unlabelled)
    assert set(losses) == {"forward", "backward"}
    for curve in losses.values():
        assert len(curve) == 4 and curve[-1] < 0.5 * curve[0]
    after_f, after_b = bi.forward_layer.get_weights(), bi.backward_layer.get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(before, after_f))
    assert any(not np.allclose(a, b) for a, b in zip(after_f, after_b))
    # the classifier still trains from there
    x = job.encode(cfg, seqs)
    y = rng.integers(0, 3, len(seqs))
    hist = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(hist.history["loss"][0])


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
def test_pretrain_lm_epochs_must_be_a_non_negative_int(bad):
    with pytest.raises(ValueError, match="pretrain_lm_epochs"):
        job.ReutersConfig(pretrain_lm_epochs=bad).resolved()

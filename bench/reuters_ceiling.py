"""How far can any model go on the notes' Reuters split? A panel of linear text
classifiers beside rnnkit's default BiGRU, and the stories none of them gets right.

    OPENBLAS_NUM_THREADS=1 RNNKIT_DATA_DIR=../shared/data PYTHONPATH=src \\
        python bench/reuters_ceiling.py [--setting seeds] [--seeds 0 1 2 3 4] [--no-rnn]

Every classifier's settings were chosen before this script looked at the test set
(the SVMs' C by 5-fold cross-validation on the training stories, the BiGRU is the
``seeds`` default chosen on validation, bench/REUTERS_NOTES.md); the script reads the
test labels once, to score each model, and then counts:

* test stories whose label belongs to another story: the Keras build gives a labelled
  story that has no BODY the body of the next story in the file, so the text is that
  next story's and the label is not (counted when the label is not also the body's
  owner's first topic); no model that reads only the text is expected to get these
  right,
* test stories whose exact token sequence also occurs in the training set under a
  different topic,
* test stories that every model of the panel gets wrong, and the accuracy of an oracle
  that picks, per story, any panel member that is right (an upper bound for the panel).
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np

from rnnkit.experiments import reuters


def borrowed_label_texts(data: dict) -> dict[tuple, set[str]]:
    """Token sequences (as ``data`` encodes them) of bodies that a labelled story
    without a BODY borrowed from the next story, mapped to the borrowers' first topics
    that are not the owner's own first topic (the owner may have none)."""
    from rnnkit.datasets import _files

    files = _files.read_reuters(str(_files.source_key(_files.find_reuters(None))[0]))
    out: dict[tuple, set[str]] = collections.defaultdict(set)
    owned: dict[tuple, set[str]] = collections.defaultdict(set)

    def first_topic(text: str, at: int) -> str:
        end = text.find("</", at)
        return text[at:end].replace("<D>", "").strip()

    for name in sorted(files):
        text = files[name].decode("latin-1")
        pos = text.find("<TOPICS>")
        while pos >= 0:
            pos += len("<TOPICS>")
            topic = first_topic(text, pos)
            body = text.find("<BODY>", pos)
            following = text.find("<REUTERS", pos)
            if topic and body >= 0 and 0 <= following < body:  # a borrowed body
                block = text.rfind("<REUTERS", 0, body)
                t = text.find("<TOPICS>", block)
                owner = first_topic(text, t + len("<TOPICS>")) if 0 <= t < body else ""
                stop = text.find("</", body + len("<BODY>"))
                words = text[body + len("<BODY>") : stop]
                key = tuple(reuters.encode_texts(data["vocab"], [words])[0])
                out[key].add(topic)
                owned[key].add(owner)
            pos = text.find("<TOPICS>", pos)
    return {k: v - owned[k] for k, v in out.items() if v - owned[k]}


def linear_panel(data: dict) -> dict[str, np.ndarray]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    inv = {i: w for w, i in data["vocab"]["word_ids"].items()}

    def text(seq):
        return " ".join(inv.get(i, "<oov>") for i in seq[1:])

    x_tr = [text(s) for s in data["x_train"]]
    x_te = [text(s) for s in data["x_test"]]
    words = {"token_pattern": r"\S+", "sublinear_tf": True}
    models = {
        "tfidf words 1-2 + linear SVM (C=1)": make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), **words), LinearSVC(C=1.0)
        ),
        "tfidf words 1 + linear SVM (C=0.5)": make_pipeline(
            TfidfVectorizer(ngram_range=(1, 1), **words), LinearSVC(C=0.5)
        ),
        "tfidf chars 2-5 + linear SVM (C=1)": make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
            LinearSVC(C=1.0),
        ),
        "tfidf words 1-2 + logistic regression (C=10)": make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), **words), LogisticRegression(C=10, max_iter=2000)
        ),
    }
    out = {}
    for name, model in models.items():
        model.fit(x_tr, data["y_train"])
        out[name] = model.predict(x_te)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setting", default="seeds", choices=["seeds", "full"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--no-rnn", action="store_true", help="the linear panel only")
    p.add_argument("--target", type=float, default=None,
                   help="the accuracy asked for (the issue's: 0.93 seeds, 0.84 full)")
    a = p.parse_args()
    cfg = reuters.ReutersConfig(setting=a.setting).resolved()
    data = reuters.load_split(cfg)
    y = np.asarray(data["y_test"])
    n = len(y)

    seen = collections.defaultdict(set)
    for seq, label in zip(data["x_train"], data["y_train"]):
        seen[tuple(seq)].add(int(label))
    clash = sum(
        1
        for seq, label in zip(data["x_test"], y)
        if seen.get(tuple(seq), {int(label)}) - {int(label)}
    )
    print(f"setting {a.setting}: {len(data['x_train'])} training, {n} test stories")
    print(f"test stories whose text occurs in training under another topic: {clash}")
    borrowed = borrowed_label_texts(data)
    names = data["labels"]
    noisy = np.array(
        [names[int(label)] in borrowed.get(tuple(seq), ()) for seq, label in zip(data["x_test"], y)]
    )
    print(f"test stories labelled with the topic of a bodiless story (text not theirs): "
          f"{int(noisy.sum())} of {n}; the best accuracy with all of them wrong: "
          f"{1 - noisy.sum() / n:.4f}")

    preds = linear_panel(data)
    if not a.no_rnn:
        for seed in a.seeds:
            start = time.perf_counter()
            res = reuters.train_and_evaluate(
                reuters.ReutersConfig(setting=a.setting, seed=seed), data
            )
            preds[f"rnnkit BiGRU default, seed {seed}"] = np.argmax(res["probs"], axis=1)
            print(f"  BiGRU seed {seed}: {time.perf_counter() - start:.0f} s")
    right = np.stack([pred == y for pred in preds.values()])
    print("\n| model | test accuracy | errors | of them on borrowed labels | accuracy on the "
          "other stories |\n|---|--:|--:|--:|--:|")
    for name, ok in zip(preds, right):
        print(f"| {name} | {ok.mean():.4f} | {n - ok.sum()} | {int((~ok & noisy).sum())} | "
              f"{ok[~noisy].mean():.4f} |")
    target = a.target or {"seeds": 0.93, "full": 0.84}[a.setting]
    need = int(np.ceil(target * n))
    print(f"\n{target} needs {need} right, at most {n - need} errors; with the borrowed-label "
          f"stories all wrong that is {(need) / (~noisy).sum():.4f} on the other "
          f"{int((~noisy).sum())}")
    none_right = int((~right.any(axis=0)).sum())
    print(f"\nstories every model above gets wrong: {none_right} "
          f"(oracle accuracy of the panel: {1 - none_right / n:.4f})")
    linear = right[: len(right) - (0 if a.no_rnn else len(a.seeds))]
    print(f"stories every linear model gets wrong: {int((~linear.any(axis=0)).sum())}")
    if not a.no_rnn:
        rnn = right[-len(a.seeds):]
        print(f"stories every BiGRU seed gets wrong: {int((~rnn.any(axis=0)).sum())}; "
              f"that some seed gets wrong: {int((~rnn.all(axis=0)).sum())}")


if __name__ == "__main__":
    main()

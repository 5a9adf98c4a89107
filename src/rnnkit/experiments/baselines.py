"""Non-recurrent reference points for the Reuters table (scikit-learn, optional)."""

from __future__ import annotations

import numpy as np


def tfidf_linear_svm(x_train, y_train, x_test, multilabel: bool = False):
    """Word uni+bigram TF-IDF and a linear SVM over id sequences; returns predictions
    (labels, or a 0/1 matrix when multilabel). Needs scikit-learn.

    Raises:
        ImportError: scikit-learn is not installed (``pip install rnnkit[sklearn]``).
    """
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.svm import LinearSVC
    except ImportError:
        raise ImportError(
            "The linear baseline needs scikit-learn: pip install 'rnnkit[sklearn]'."
        ) from None

    def docs(seqs):
        return [" ".join(f"w{i}" for i in s) for s in seqs]

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+", min_df=1)
    a = vec.fit_transform(docs(x_train))
    b = vec.transform(docs(x_test))
    clf = OneVsRestClassifier(LinearSVC(C=1.0)) if multilabel else LinearSVC(C=1.0)
    clf.fit(a, y_train)
    pred = clf.predict(b)
    if multilabel:
        scores = clf.decision_function(b)
        pred = np.asarray(pred, bool)
        pred[np.arange(len(pred)), np.argmax(scores, axis=1)] = True
    return pred

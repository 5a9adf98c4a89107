"""A grid search over units and learning rate of a Reuters topic classifier, its fits run
as trials on a Dask cluster of two local workers (one thread each).

    pip install 'rnnkit[dask]'
    python examples/dask_grid_search.py [--scheduler tcp://HOST:8786]

Without --scheduler it starts a LocalCluster on this machine; with one, it sends the
trials to that cluster (whose workers need rnnkit installed).
"""

import argparse

import numpy as np
from dask.distributed import Client
from sklearn.model_selection import GridSearchCV

from rnnkit.datasets import reuters
from rnnkit.distributed import sweeps
from rnnkit.layers import GRU, Dense, Embedding
from rnnkit.models import Sequential
from rnnkit.optimizers import Adam
from rnnkit.preprocessing.sequence import pad_sequences
from rnnkit.wrappers.scikit_learn import KerasClassifier

NUM_WORDS, MAXLEN = 2000, 50


def build(units=32, learning_rate=1e-3):
    model = Sequential(
        [Embedding(NUM_WORDS, 32, mask_zero=True), GRU(units), Dense(46, activation="softmax")]
    )
    model.compile(Adam(learning_rate), "sparse_categorical_crossentropy", ["accuracy"])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", help="address of a running Dask scheduler")
    parser.add_argument("--stories", type=int, default=600, help="training stories used")
    args = parser.parse_args()

    (x, y), _ = reuters.load_data(num_words=NUM_WORDS, maxlen=MAXLEN, test_split=0.2)
    x = pad_sequences(x[: args.stories], maxlen=MAXLEN, padding="post")
    y = np.asarray(y[: args.stories])
    grid = GridSearchCV(
        KerasClassifier(build_fn=build, epochs=6, batch_size=32, verbose=0, random_state=0),
        {"units": [16, 32], "learning_rate": [3e-3, 1e-2]},
        cv=3,
    )
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        client = Client(sweeps.local_cluster(n_workers=2))
    with client:
        sweeps.search(grid, x, y, client)
    for params, score in zip(grid.cv_results_["params"], grid.cv_results_["mean_test_score"]):
        print(f"{params}  accuracy {score:.4f}")
    print("best:", grid.best_params_)


if __name__ == "__main__":
    main()

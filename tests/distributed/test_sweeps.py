"""Sweeps on a Dask LocalCluster of 2 workers: a grid search of the scikit-learn wrapper on
a Reuters subset, and experiment trials, each equal to the same sweep run serially."""

import os

import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="Dask's scheduler is not installed")
sklearn = pytest.importorskip("sklearn", reason="scikit-learn is not installed")

from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402

import rnnkit  # noqa: E402
from rnnkit.distributed import sweeps  # noqa: E402
from rnnkit.wrappers.scikit_learn import KerasClassifier  # noqa: E402


def build(units=8, learning_rate=1e-2):
    from rnnkit.layers import GRU, Dense, Embedding
    from rnnkit.models import Sequential
    from rnnkit.optimizers import Adam

    model = Sequential(
        [Embedding(500, 8, mask_zero=True), GRU(units), Dense(46, activation="softmax")]
    )
    model.compile(Adam(learning_rate), "sparse_categorical_crossentropy", ["accuracy"])
    return model


def trial(config):
    """A sweep trial as the docs describe it: a config in, metrics out."""
    rnnkit.set_random_seed(config["seed"])
    x = np.random.default_rng(config["seed"]).integers(1, 50, size=(40, 6))
    y = (x[:, 0] > 25).astype(int)
    model = build(units=config["units"])
    history = model.fit(x, y, epochs=2, batch_size=10, verbose=0)
    if config.get("fail"):
        raise ValueError("bad trial on purpose")
    return {"loss": history.history["loss"][-1], "pid": os.getpid()}


@pytest.fixture(scope="module")
def client():
    cluster = sweeps.local_cluster(n_workers=2)
    with cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def reuters_subset():
    from rnnkit.datasets import reuters

    (x, y), _ = reuters.load_data(num_words=500, maxlen=30, test_split=0.2)
    x = rnnkit.preprocessing.sequence.pad_sequences(x[:90], maxlen=30, padding="post")
    return x, np.asarray(y[:90])


def _grid():
    estimator = KerasClassifier(build_fn=build, epochs=2, batch_size=30, verbose=0, random_state=0)
    return GridSearchCV(estimator, {"units": [4, 8], "learning_rate": [1e-2, 3e-2]}, cv=KFold(2))


@pytest.mark.timeout(300)
def test_grid_search_on_dask_equals_serial(client, reuters_subset):
    x, y = reuters_subset
    serial = _grid().fit(x, y)
    on_dask = sweeps.search(_grid(), x, y, client)
    np.testing.assert_allclose(
        on_dask.cv_results_["mean_test_score"],
        serial.cv_results_["mean_test_score"],
        rtol=0,
        atol=0,
    )
    assert on_dask.best_params_ == serial.best_params_
    # the fits really ran on the workers, one thread each
    env = client.run(lambda: os.environ.get("RNNKIT_NUM_THREADS"))
    assert set(env.values()) == {"1"} and len(env) == 2


@pytest.mark.timeout(300)
def test_trials_on_dask_equal_serial(client):
    configs = [{"units": u, "seed": s} for u in (4, 8) for s in (0, 1)]
    results = sweeps.run_trials(trial, configs, client)
    serial = [trial(c) for c in configs]
    assert [r["loss"] for r in results] == [r["loss"] for r in serial]
    assert {r["pid"] for r in results} - {os.getpid()}  # not run in this process


@pytest.mark.timeout(300)
def test_failed_trial_is_named(client):
    configs = [{"units": 4, "seed": 0}, {"units": 4, "seed": 1, "fail": True}]
    with pytest.raises(sweeps.TrialError, match=r"Trial 1 .*'fail': True.*bad trial on purpose"):
        sweeps.run_trials(trial, configs, client)


def _die(config):
    os._exit(3)  # the worker process dies mid-trial


@pytest.mark.timeout(300)
def test_dead_worker_names_the_trial():
    import dask

    # the scheduler (in this process) reads the retry count when it starts
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with sweeps.local_cluster(n_workers=1) as cluster, distributed.Client(cluster) as c:
            with pytest.raises(sweeps.TrialError, match="Trial 0 .*KilledWorker"):
                sweeps.run_trials(_die, [{"seed": 0}], c)


def test_bad_arguments():
    with pytest.raises(ValueError, match="threads"):
        sweeps.trial_environment(0)
    with pytest.raises(ValueError, match="n_workers"):
        sweeps.local_cluster(n_workers=0)
    with pytest.raises(TypeError, match="random_state"):
        KerasClassifier(build_fn=build, random_state="zero")

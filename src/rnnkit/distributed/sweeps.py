"""Sweeps on a Dask cluster: hyperparameter searches and experiment trials.

Two patterns, both on an existing Dask scheduler (a ``dask.distributed.Client``):

1. scikit-learn searches. :class:`rnnkit.wrappers.scikit_learn.KerasClassifier` and
   ``KerasRegressor`` are estimators, so ``GridSearchCV`` / ``RandomizedSearchCV`` run
   their fits as joblib tasks; :func:`search` sends those tasks to the cluster through
   joblib's Dask backend::

       from dask.distributed import Client
       from sklearn.model_selection import GridSearchCV
       from rnnkit.distributed import sweeps

       client = Client(sweeps.local_cluster(n_workers=2))
       grid = GridSearchCV(KerasClassifier(build_fn=build, epochs=3, random_state=0),
                           {"units": [16, 32], "learning_rate": [1e-3, 3e-3]}, cv=3)
       sweeps.search(grid, x, y, client)

2. Any job as a trial: a function that takes a config (a dict) and returns its metrics
   (a dict). :func:`run_trials` maps it over the configs on the cluster and returns the
   metrics in the configs' order::

       def trial(config):
           rnnkit.set_random_seed(config["seed"])
           ...build, fit and evaluate...
           return {"accuracy": acc}

       results = sweeps.run_trials(trial, [{"units": 32, "seed": s} for s in range(4)], client)

Each trial runs single-threaded by default (:func:`trial_environment`), so that the
trials of one machine do not oversubscribe its cores: a worker process started by
:func:`local_cluster` has rnnkit's, BLAS's and OpenMP's thread counts set to one. On a
cluster you start yourself, pass the same variables to the workers (the Dask config key
``distributed.nanny.pre-spawn-environ``, or the workers' environment).

A trial with the same config and seed gives the same result on the cluster as in a
serial loop: every random draw of rnnkit comes from ``rnnkit.set_random_seed`` (or the
wrappers' ``random_state``), never from the process or the worker it runs on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping

_THREAD_VARIABLES = (
    "RNNKIT_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


class TrialError(RuntimeError):
    """A sweep trial failed: ``index`` and ``config`` name it; the cause is chained.

    Args:
        index: the trial's position in the configs.
        config: the trial's config.
        cause: the exception the trial raised (its type and message go in this one's).

    Example:
        >>> from rnnkit.distributed.sweeps import TrialError
        >>> print(TrialError(3, {"units": 8}, ValueError("boom")))
        Trial 3 (config {'units': 8}) failed: ValueError: boom
    """

    def __init__(self, index: int, config, cause: BaseException):
        self.index, self.config = index, config
        super().__init__(
            f"Trial {index} (config {config!r}) failed: {type(cause).__name__}: {cause}"
        )


def _require_distributed():
    try:
        import distributed
    except ImportError:
        raise ImportError(
            "rnnkit.distributed.sweeps needs Dask's scheduler: pip install 'rnnkit[dask]'."
        ) from None
    return distributed


def trial_environment(threads: int = 1) -> dict[str, str]:
    """The environment variables that give each trial ``threads`` threads (default 1).

    Args:
        threads: threads per trial, a positive int.

    Returns:
        A dict of environment variables (rnnkit's, OpenBLAS's, OpenMP's, MKL's, numba's).

    Raises:
        ValueError: ``threads`` is not a positive int.

    Example:
        >>> from rnnkit.distributed.sweeps import trial_environment
        >>> trial_environment(2)["OPENBLAS_NUM_THREADS"]
        '2'
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(
            f"Received an invalid value for argument threads, expected a positive integer, "
            f"got {threads!r}."
        )
    return {name: str(threads) for name in _THREAD_VARIABLES}


def local_cluster(n_workers: int = 2, threads: int = 1, **kwargs):
    """A ``dask.distributed.LocalCluster`` for sweeps on this machine: ``n_workers``
    processes of one task each, every trial with ``threads`` threads.

    Args:
        n_workers: worker processes, a positive int (default 2).
        threads: threads per trial (default 1, see :func:`trial_environment`).
        **kwargs: passed to ``LocalCluster`` (``host`` defaults to the loopback
            address, ``dashboard_address`` to a free port).
    Returns:
        The cluster; close it (or use it as a context manager) when done.
    Raises:
        ImportError: Dask's scheduler is not installed.
        ValueError: a count is not a positive int.

    Example:
        >>> with local_cluster(2) as cluster, Client(cluster) as client:  # doctest: +SKIP
        ...     results = run_trials(trial, configs, client)
    """
    distributed = _require_distributed()
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(
            f"Received an invalid value for argument n_workers, expected a positive integer, "
            f"got {n_workers!r}."
        )
    import dask

    kwargs.setdefault("dashboard_address", ":0")  # any free port: never a fixed one taken
    kwargs.setdefault("host", "127.0.0.1")  # this machine's loopback only
    kwargs.setdefault("processes", True)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": trial_environment(threads)}):
        return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, **kwargs)


def search(estimator, x, y=None, client=None, **fit_params):
    """Fit a scikit-learn search (``GridSearchCV``, ``RandomizedSearchCV``, …) with its
    fits as tasks on the Dask cluster of ``client``, through joblib's Dask backend.

    Args:
        estimator: the search object; its ``n_jobs`` is left as it is (joblib hands the
            tasks to Dask whatever it is).
        x, y: the data, as for ``estimator.fit``.
        client: a ``dask.distributed.Client``; None uses the current default client.
        **fit_params: passed to ``estimator.fit``.

    Returns:
        The fitted estimator.

    Raises:
        ImportError: Dask or joblib is not installed.
        ValueError: there is no client to run on.

    Example:
        >>> import numpy as np
        >>> from dask.distributed import Client
        >>> from sklearn.linear_model import LogisticRegression
        >>> from sklearn.model_selection import GridSearchCV
        >>> from rnnkit.distributed.sweeps import search
        >>> x = np.random.default_rng(0).standard_normal((20, 3))
        >>> y = (x[:, 0] > 0).astype(int)
        >>> grid = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2)
        >>> with Client(processes=False) as client:  # doctest: +SKIP
        ...     sorted(search(grid, x, y, client=client).best_params_)
        ['C']
    """
    distributed = _require_distributed()
    import joblib

    if client is None:
        try:
            client = distributed.get_client()
        except ValueError:
            raise ValueError(
                "search() needs a Dask client: pass client=Client(...) (for this machine, "
                "Client(rnnkit.distributed.sweeps.local_cluster()))."
            ) from None
    with client.as_current(), joblib.parallel_backend("dask"):
        return estimator.fit(x, y, **fit_params)


def run_trials(trial: Callable[[dict], Mapping], configs: Iterable[Mapping], client) -> list[dict]:
    """Run ``trial(config)`` for each config as a task on the cluster.

    Args:
        trial: a function of one config (a dict) that returns the trial's metrics (a
            mapping); it must be importable by the workers (defined in a module, or
            picklable by cloudpickle, as Dask requires).
        configs: the trials' configs, each a mapping.
        client: a ``dask.distributed.Client``.
    Returns:
        The metrics of each trial, as dicts, in the order of ``configs``.
    Raises:
        TypeError: ``trial`` is not callable, a config is not a mapping, or a trial
            returned something other than a mapping.
        TrialError: a trial raised, or its worker died (Dask's ``KilledWorker``); the
            error names the trial's index and config. The other trials are cancelled.
        ImportError: Dask's ``distributed`` is not installed.

    Example:
        >>> from dask.distributed import Client
        >>> from rnnkit.distributed.sweeps import run_trials
        >>> def trial(config):
        ...     return {"score": config["units"] * 2}
        >>> with Client(processes=False) as client:  # doctest: +SKIP
        ...     run_trials(trial, [{"units": 4}, {"units": 8}], client)
        [{'score': 8}, {'score': 16}]
    """
    _require_distributed()
    if not callable(trial):
        raise TypeError(
            f"Received an invalid value for argument trial, expected a callable, got {trial!r}."
        )
    configs = [dict(c) if isinstance(c, Mapping) else c for c in configs]
    for i, config in enumerate(configs):
        if not isinstance(config, dict):
            raise TypeError(f"Config {i} must be a mapping, got {type(config).__name__}.")
    futures = [
        client.submit(trial, config, pure=False, key=f"rnnkit-trial-{i}-{id(configs)}")
        for i, config in enumerate(configs)
    ]
    results = []
    try:
        for i, (config, future) in enumerate(zip(configs, futures)):
            try:
                metrics = future.result()
            except Exception as exc:  # the trial's own error, or KilledWorker
                raise TrialError(i, config, exc) from exc
            if not isinstance(metrics, Mapping):
                raise TypeError(
                    f"Trial {i} (config {config!r}) returned {type(metrics).__name__}; a "
                    f"trial must return a mapping of its metrics."
                )
            results.append(dict(metrics))
    finally:
        with contextlib.suppress(Exception):
            client.cancel([f for f in futures if not f.done()])
    return results

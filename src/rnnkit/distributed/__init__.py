"""Training beyond one process, on engines that clusters already run.

- :mod:`rnnkit.distributed.mpi`: one model trained data-parallel on N MPI ranks
  (mpi4py), gradients summed once per step with one all-reduce on a fused buffer.
- :mod:`rnnkit.distributed.sweeps`: many models — hyperparameter searches and
  experiment sweeps — as trials on a Dask cluster.

Both engines are extras (``pip install rnnkit[mpi]``, ``rnnkit[dask]``); nothing here is
imported by the rest of rnnkit, and importing this package imports neither.
"""

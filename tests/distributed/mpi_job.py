"""A small data-parallel training run for tests/distributed/test_mpi.py, started as
``mpiexec -n N python mpi_job.py OUT MODE``; also run as one plain process (N = 1).

MODE: "train" (writes losses and weights to OUT on rank 0); "resume" (the same with
checkpoints, stopping after the first epoch and resuming); "first" and "continue" (those
two halves in two runs, which may have different numbers of ranks); "raise" (rank 1
raises at its third batch); "kill" (rank 1 SIGKILLs itself); "mismatch" (rank 1 builds
another model); "version" (rank 1 runs another rnnkit version).
"""

import json
import os
import signal
import sys

import numpy as np

import rnnkit
from rnnkit.callbacks import LambdaCallback
from rnnkit.distributed import mpi
from rnnkit.layers import GRU, Dense, Embedding
from rnnkit.models import Sequential


def data():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 30, size=(48, 7))
    x[::3, 5:] = 0  # some padding, masked
    y = (x[:, 0] > 15).astype(int) + (x[:, 1] > 20).astype(int)
    return x, y


def build(units=6):
    rnnkit.set_random_seed(1)
    model = Sequential(
        [Embedding(30, 5, mask_zero=True), GRU(units), Dense(3, activation="softmax")]
    )
    model.compile(rnnkit.optimizers.Adam(0.02), "sparse_categorical_crossentropy", ["accuracy"])
    model.build((None, 7))
    return model


def main(out, mode):
    rnnkit.backend.set_floatx("float64")
    rank = mpi.rank() if os.environ.get("PMI_RANK") is not None else 0
    model = build(units=7 if (mode == "mismatch" and rank == 1) else 6)
    if mode == "version" and rank == 1:  # as if another rnnkit were installed there
        mpi.__version__ = "0.0.0"
    x, y = data()
    callbacks = []
    if mode in ("raise", "kill") and rank == 1:

        def fail(batch, logs):
            if batch == 2:
                if mode == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)
                raise ValueError("bad input on this shard")

        callbacks.append(LambdaCallback(on_train_batch_end=fail))
    kwargs = dict(epochs=3, batch_size=8, verbose=0, callbacks=callbacks)
    ckpt = os.path.join(os.path.dirname(out), "ckpt")
    if mode == "resume":
        mpi.fit(model, x, y, **{**kwargs, "epochs": 1}, checkpoint_dir=ckpt)
        model = build()
        history = mpi.fit(model, x, y, **kwargs, checkpoint_dir=ckpt, resume=True)
    elif mode == "first":  # one epoch, then stop (resumed by "continue")
        history = mpi.fit(model, x, y, **{**kwargs, "epochs": 1}, checkpoint_dir=ckpt)
    elif mode == "continue":
        history = mpi.fit(model, x, y, **kwargs, checkpoint_dir=ckpt, resume=True)
    else:
        history = mpi.fit(model, x, y, **kwargs)
    if rank == 0:
        with open(out, "w") as f:
            json.dump(
                {
                    "loss": history.history["loss"],
                    "accuracy": history.history["accuracy"],
                    "weights": [w.tolist() for w in model.get_weights()],
                },
                f,
            )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

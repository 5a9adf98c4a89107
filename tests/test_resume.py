"""Crash-safe training: checkpoints, exact resumption after a SIGKILL, non-finite
losses, and memory that stays flat over a long run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import rnnkit
from rnnkit.callbacks import BackupAndRestore, Callback
from rnnkit.layers import Dense, SimpleRNN
from rnnkit.models import Sequential, load_model
from rnnkit.models.checkpoint import list_checkpoints
from tests import resume_job

ROOT = Path(__file__).resolve().parents[1]


class Crash(Callback):
    """Raises at a given (epoch, batch): a crash in the middle of an epoch."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch = (epoch, batch), 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt("simulated crash")


def assert_same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_resume_after_a_crash_mid_epoch_is_exact(tmp_path):
    reference = resume_job.build()
    ref_history = resume_job.train(reference, 4)

    crashed = resume_job.build()
    x, y = resume_job.data()
    with pytest.raises(KeyboardInterrupt):
        crashed.fit(
            x,
            y,
            epochs=4,
            batch_size=10,
            validation_split=0.2,
            verbose=0,
            callbacks=[
                rnnkit.callbacks.EarlyStopping(patience=1000, restore_best_weights=True),
                Crash(2, 4),
            ],
            checkpoint_dir=tmp_path,
            checkpoint_every=3,
            keep_checkpoints=2,
        )
    assert len(list_checkpoints(tmp_path)) == 2  # the newest two kept
    resumed = resume_job.build()  # a fresh process would build it the same way
    history = resume_job.train(resumed, 4, checkpoint_dir=tmp_path, resume=True)
    assert_same_weights(reference, resumed)
    assert history.history["loss"] == pytest.approx(ref_history.history["loss"], abs=0)


def test_sigkill_then_resume_gives_identical_weights(tmp_path):
    epochs = 40
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "OPENBLAS_NUM_THREADS": "1",
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.resume_job", str(tmp_path), str(epochs)], cwd=ROOT, env=env
    )
    deadline = time.monotonic() + 120
    while not any(p.name.startswith("ckpt-00001") for p in list_checkpoints(tmp_path)):
        assert child.poll() is None, "the job ended before it could be killed"
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=60) == -signal.SIGKILL
    killed_at = list_checkpoints(tmp_path)[-1].name
    for path in list_checkpoints(tmp_path):  # every checkpoint left behind is whole
        load_model(path)

    resumed = resume_job.build()
    resume_job.train(resumed, epochs, checkpoint_dir=tmp_path, checkpoint_every=1, resume=True)
    reference = resume_job.build()
    resume_job.train(reference, epochs)
    assert_same_weights(reference, resumed)
    assert killed_at < list_checkpoints(tmp_path)[-1].name


def test_backup_and_restore_callback(tmp_path):
    x, y = resume_job.data()
    first = resume_job.build()
    first.fit(x, y, epochs=2, batch_size=10, verbose=0, callbacks=[BackupAndRestore(tmp_path)])
    assert list_checkpoints(tmp_path)[-1].name.startswith("ckpt-00002-0000000-")
    second = resume_job.build()
    history = second.fit(
        x, y, epochs=3, batch_size=10, verbose=0, callbacks=[BackupAndRestore(tmp_path)]
    )
    assert len(history.history["loss"]) == 3  # epochs 1-2 restored, epoch 3 trained
    reference = resume_job.build()
    reference.fit(x, y, epochs=3, batch_size=10, verbose=0)
    assert_same_weights(reference, second)


def test_resume_with_other_data_is_refused(tmp_path):
    x, y = resume_job.data()
    model = resume_job.build()
    model.fit(x, y, epochs=1, batch_size=10, verbose=0, checkpoint_dir=tmp_path)
    refused = resume_job.build()
    before = refused.get_weights()
    with pytest.raises(ValueError, match="same data and arguments"):
        refused.fit(
            x[:50], y[:50], epochs=2, batch_size=10, verbose=0, checkpoint_dir=tmp_path, resume=True
        )
    for a, b in zip(before, refused.get_weights()):  # a refused resume changes nothing
        np.testing.assert_array_equal(a, b)
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        resume_job.build().fit(x, y, epochs=2, verbose=0, resume=tmp_path / "empty")


def exploding_model():
    rnnkit.set_random_seed(0)
    model = Sequential([SimpleRNN(4, input_shape=(5, 2)), Dense(1)])
    model.compile(rnnkit.optimizers.SGD(lr=3e3), "mse")  # diverges within a few steps
    return model


def test_nonfinite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 5, 2)) * 5
    y = rng.standard_normal((40, 1)) * 1e3
    model = exploding_model()
    with np.errstate(all="ignore"):
        with pytest.raises(FloatingPointError, match=r"epoch \d+, batch \d+.*intact") as err:
            model.fit(
                x,
                y,
                epochs=50,
                batch_size=10,
                shuffle=False,
                verbose=0,
                checkpoint_dir=tmp_path,
                checkpoint_every=1,
            )
    checkpoints = list_checkpoints(tmp_path)
    assert checkpoints, "it diverged before the first checkpoint: the test lost its point"
    assert all(np.isfinite(w).all() for w in load_model(checkpoints[-1]).get_weights())
    assert all(np.isfinite(w).all() for w in model.get_weights())  # never updated with NaN
    epoch, batch = map(int, re.search(r"epoch (\d+), batch (\d+)", str(err.value)).groups())
    # the newest checkpoint is the position just before the failing batch
    assert checkpoints[-1].name.startswith(f"ckpt-{epoch - 1:05d}-{batch - 1:07d}-") or batch == 1
    assert checkpoints[-1].name in str(err.value)  # the message names the intact one

    skipping = exploding_model()
    with np.errstate(all="ignore"):
        history = skipping.fit(
            x, y, epochs=5, batch_size=10, shuffle=False, verbose=0, on_nonfinite="skip"
        )
    skipped = history.history["skipped_batches"]
    assert skipping.skipped_batches == sum(skipped) > 0
    for loss, n in zip(history.history["loss"], skipped):  # NaN only where nothing trained
        assert np.isnan(loss) if n == 4 else np.isfinite(loss)
    assert all(np.isfinite(w).all() for w in skipping.get_weights())
    with pytest.raises(ValueError, match="on_nonfinite"):
        skipping.fit(x, y, on_nonfinite="ignore")
    with pytest.raises(ValueError, match="sample_weight"):
        skipping.fit(x, y, sample_weight=np.full(40, np.nan))


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
def test_memory_stays_flat_over_many_epochs():
    x, y = resume_job.data()
    model = resume_job.build()
    rss = []
    recorder = rnnkit.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: rss.append(_rss_bytes())
    )
    model.fit(x, y, epochs=60, batch_size=10, validation_split=0.2, verbose=0, callbacks=[recorder])
    growth = rss[-1] - rss[9]  # after warm-up: allocator pools are filled by then
    assert growth < 8 * 2**20, f"resident memory grew {growth / 2**20:.1f} MiB over 50 epochs"

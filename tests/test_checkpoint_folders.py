"""A checkpoint folder belongs to one run: run ids, the folder lock, refusals of
another run's folder, names past 99,999 epochs, temporary files of a killed save,
and resumes from malformed checkpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import rnnkit
from rnnkit.layers import Dense, SimpleRNN
from rnnkit.models import Sequential, load_model
from rnnkit.models import checkpoint as ckpt
from rnnkit.models.saving import save_model

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(120)


def build(lr=0.01, optimizer=None):
    rnnkit.set_random_seed(3)
    model = Sequential([SimpleRNN(4, input_shape=(5, 2)), Dense(1)])
    model.compile(optimizer or rnnkit.optimizers.Adam(lr), "mse")
    return model


def data(n=40):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 5, 2)), rng.standard_normal((n, 1))


def train(model, folder, epochs, **kwargs):
    x, y = data()
    return model.fit(x, y, epochs=epochs, batch_size=10, verbose=0, checkpoint_dir=folder, **kwargs)


def run_ids(folder):
    return {ckpt.parse_name(p.name)[2] for p in ckpt.list_checkpoints(folder)}


def test_each_checkpoint_carries_its_run_id_kept_across_resume(tmp_path):
    train(build(), tmp_path, 2)
    (first,) = run_ids(tmp_path)
    assert first is not None and len(first) == 16
    saved = load_model(ckpt.list_checkpoints(tmp_path)[-1])
    assert saved.saved_extra["run_id"] == first
    train(build(), tmp_path, 4, resume=True)
    assert run_ids(tmp_path) == {first}  # the resumed run is the same run
    assert ckpt.list_checkpoints(tmp_path)[-1].name.startswith("ckpt-00004-0000000")


def test_a_fresh_run_into_another_runs_folder_is_refused_then_overwrite_starts_over(tmp_path):
    train(build(), tmp_path, 5)  # an older, longer run
    before = {p.name: p.read_bytes() for p in ckpt.list_checkpoints(tmp_path)}
    with pytest.raises(ValueError, match=r"another run.*resume=True.*overwrite=True"):
        train(build(), tmp_path, 2)
    after = {p.name: p.read_bytes() for p in ckpt.list_checkpoints(tmp_path)}
    assert after == before  # the refused run changed nothing
    assert not (tmp_path / ckpt.LOCK_NAME).exists()

    model = build()
    train(model, tmp_path, 2, overwrite=True)
    (new,) = run_ids(tmp_path)  # the older run's files are gone, ours all kept
    assert new != ckpt.parse_name(next(iter(before)))[2]
    assert [p.name[:18] for p in ckpt.list_checkpoints(tmp_path)] == [
        "ckpt-00001-0000000",
        "ckpt-00002-0000000",
    ]
    resumed = build()
    history = train(resumed, tmp_path, 2, resume=True)  # continues the new run, not the old
    assert history.epoch == [0, 1]
    for a, b in zip(model.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_pruning_never_touches_another_runs_files(tmp_path):
    train(build(), tmp_path, 3, keep_checkpoints=1)
    (old,) = ckpt.list_checkpoints(tmp_path)
    foreign = tmp_path / ckpt.checkpoint_name(7, 0, "0123456789abcdef")
    foreign.write_bytes(old.read_bytes())  # another run's checkpoint, newer by its number
    with pytest.raises(ValueError, match="2 runs"):  # which one to resume is not guessed
        train(build(), tmp_path, 4, resume=True)
    model = build()
    position = ckpt.TrainingPosition(9, 0, None, None, 40, 10, run_id="fedcba9876543210")
    for epoch in (8, 9):
        position.epoch = epoch
        ckpt.write(tmp_path, model, position, [], keep=1)
    assert foreign.exists() and old.exists()
    assert [p.name for p in ckpt.list_checkpoints(tmp_path, "fedcba9876543210")] == [
        "ckpt-00009-0000000-fedcba9876543210.rnnkit"
    ]


def test_resume_from_a_file_while_the_folder_holds_other_runs_needs_overwrite(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    train(build(), a, 2)
    train(build(), b, 2)
    with pytest.raises(ValueError, match="another run"):
        train(build(), b, 3, resume=ckpt.list_checkpoints(a)[-1])
    assert len(run_ids(b)) == 1


CHILD = """
import sys, time
sys.path[:0] = [{src!r}]
from rnnkit.models.checkpoint import FolderLock
lock = FolderLock({folder!r}).acquire()
open({ready!r}, "w").write("locked")
time.sleep(60)
"""


def test_a_second_process_on_a_busy_folder_is_refused_and_a_dead_ones_lock_is_stale(tmp_path):
    folder, ready = tmp_path / "ckpt", tmp_path / "ready"
    code = CHILD.format(src=str(ROOT / "src"), folder=str(folder), ready=str(ready))
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        with pytest.raises(ckpt.CheckpointFolderBusyError, match=rf"process {child.pid}"):
            train(build(), folder, 1)
        assert ckpt.list_checkpoints(folder) == []  # refused before writing anything
    finally:
        child.kill()
        child.wait(timeout=30)
    # the holder died without releasing: its lock is stale and taken over
    assert (folder / ckpt.LOCK_NAME).exists()
    train(build(), folder, 1)
    assert len(ckpt.list_checkpoints(folder)) == 1
    assert not (folder / ckpt.LOCK_NAME).exists()


def test_two_processes_training_into_one_folder(tmp_path):
    """Two real trainings started together: one trains, the other is refused; the
    folder ends with one run's checkpoints, and resuming gives that run's model."""
    folder = tmp_path / "ckpt"
    job = (
        "import sys; sys.path[:0] = [{src!r}, {root!r}]\n"
        "from tests.test_checkpoint_folders import build, train\n"
        "from rnnkit.models.checkpoint import CheckpointFolderBusyError\n"
        "try:\n"
        "    m = train(build(), {folder!r}, 30, checkpoint_every=1).model\n"
        "except (CheckpointFolderBusyError, ValueError) as e:\n"
        "    print('REFUSED', e); sys.exit(3)\n"
        "print('DONE')\n"
    ).format(src=str(ROOT / "src"), root=str(ROOT), folder=str(folder))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen([sys.executable, "-c", job], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=110)[0] for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 3], outs  # one trained; the other was refused, whenever it came
    refused = outs[[p.returncode for p in procs].index(3)]
    assert "in use by another training run" in refused or "another run" in refused
    assert len(run_ids(folder)) == 1
    assert not (folder / ckpt.LOCK_NAME).exists()


def test_names_sort_and_parse_past_99999_epochs(tmp_path):
    model = build()
    x, y = data()
    model.fit(
        x,
        y,
        epochs=100_001,
        initial_epoch=99_998,
        batch_size=10,
        verbose=0,
        checkpoint_dir=tmp_path,
        keep_checkpoints=2,
    )
    names = [p.name for p in ckpt.list_checkpoints(tmp_path)]
    assert [n[:12] for n in names] == ["ckpt-100000-", "ckpt-100001-"]
    assert ckpt.parse_name(names[-1])[:2] == (100_001, 0)
    assert ckpt.latest(tmp_path).name == names[-1]
    resumed = build()
    history = resumed.fit(
        x, y, epochs=100_002, batch_size=10, verbose=0, checkpoint_dir=tmp_path, resume=True
    )
    assert history.epoch == [99_998, 99_999, 100_000, 100_001]
    assert ckpt.latest(tmp_path).name.startswith("ckpt-100002-")


def test_temporary_files_of_a_killed_save_are_removed_by_the_next_save(tmp_path):
    train(build(), tmp_path, 1)
    leftover = tmp_path / ".tmp-abc123-ckpt-00002-0000000-0123456789abcdef.rnnkit"
    leftover.write_bytes(b"half a checkpoint")
    unrelated = tmp_path / ".tmp-zzz-notes.txt"
    unrelated.write_text("not ours")
    train(build(), tmp_path, 2, resume=True)
    assert not leftover.exists()
    assert unrelated.exists()


def _tampered(src, dst, **changes):
    saved = load_model(src)
    extra = {**saved.saved_extra, **changes}
    save_model(saved, dst, extra=extra, extra_arrays=saved.saved_extra_arrays)
    return dst


@pytest.mark.parametrize(
    "field, value",
    [
        ("epoch", -1),
        ("batch", -3),
        ("batch", 99),
        ("n_samples", 0),
        ("batch_size", "ten"),
        ("epoch", 2.5),
        ("run_id", 5),
        ("generators", []),
        ("totals", {"loss_sum": "x", "count": 1, "sums": [], "counts": []}),
        ("callbacks", "none"),
    ],
)
def test_a_malformed_checkpoint_is_refused_naming_file_and_field(tmp_path, field, value):
    x, y = data()
    build().fit(
        x,
        y,
        epochs=2,
        batch_size=10,
        verbose=0,
        checkpoint_dir=tmp_path / "run",
        checkpoint_every=2,
    )
    mid = next(p for p in ckpt.list_checkpoints(tmp_path / "run") if ckpt.parse_name(p.name)[1])
    bad = _tampered(mid, tmp_path / "bad.rnnkit", **{field: value})
    model = build()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=rf"bad\.rnnkit.*{field}"):
        model.fit(x, y, epochs=3, batch_size=10, verbose=0, resume=bad)
    for a, b in zip(before, model.get_weights()):  # refused: nothing changed
        np.testing.assert_array_equal(a, b)


def test_an_order_past_the_data_is_refused(tmp_path):
    x, y = data()
    build().fit(
        x,
        y,
        epochs=1,
        batch_size=10,
        verbose=0,
        checkpoint_dir=tmp_path / "run",
        checkpoint_every=2,
    )
    mid = next(p for p in ckpt.list_checkpoints(tmp_path / "run") if ckpt.parse_name(p.name)[1])
    saved = load_model(mid)
    arrays = dict(saved.saved_extra_arrays)
    arrays["order"] = arrays["order"] + 1000
    save_model(saved, tmp_path / "bad.rnnkit", extra=saved.saved_extra, extra_arrays=arrays)
    with pytest.raises(ValueError, match=r"bad\.rnnkit.*'order'"):
        build().fit(x, y, epochs=2, batch_size=10, verbose=0, resume=tmp_path / "bad.rnnkit")


def test_resuming_with_another_optimizer_is_refused_or_started_fresh(tmp_path):
    train(build(lr=0.01), tmp_path, 2)
    with pytest.raises(ValueError, match=r"another optimizer.*learning_rate 0\.01 vs 0\.5"):
        train(build(lr=0.5), tmp_path, 3, resume=True)
    with pytest.raises(ValueError, match=r"class Adam vs SGD"):
        train(build(optimizer=rnnkit.optimizers.SGD(0.01)), tmp_path, 3, resume=True)
    with pytest.raises(ValueError, match=r"beta_1 0\.9 vs 0\.5"):
        train(build(optimizer=rnnkit.optimizers.Adam(0.01, beta_1=0.5)), tmp_path, 3, resume=True)

    fresh = build(optimizer=rnnkit.optimizers.SGD(0.05, momentum=0.9))
    checkpoint = load_model(ckpt.latest(tmp_path))
    history = train(fresh, tmp_path, 3, resume=True, resume_optimizer=False)
    assert history.epoch == [0, 1, 2]
    assert fresh.optimizer.learning_rate == 0.05 and fresh.optimizer.iterations == 4
    # epoch 3 started from the checkpoint's weights with SGD from zero momentum
    reference = build(optimizer=rnnkit.optimizers.SGD(0.05, momentum=0.9))
    reference.set_weights(checkpoint.get_weights())
    reference.rng.bit_generator.state = checkpoint.saved_extra["generators"]["model"]
    x, y = data()
    reference.fit(x, y, epochs=1, batch_size=10, verbose=0)
    for a, b in zip(reference.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    # the run now continues with SGD: a later resume with SGD is this run's optimizer
    train(build(optimizer=rnnkit.optimizers.SGD(0.05, momentum=0.9)), tmp_path, 4, resume=True)


def test_a_schedule_moved_rate_is_not_another_optimizer(tmp_path):
    cut = rnnkit.callbacks.LearningRateScheduler(lambda epoch, lr: 0.01 * 0.5**epoch)
    train(build(lr=0.01), tmp_path, 2, callbacks=[cut])
    model = build(lr=0.01)  # compiled as the run started
    train(model, tmp_path, 3, resume=True, callbacks=[cut])
    assert model.optimizer.learning_rate == pytest.approx(0.0025)


def test_checkpoint_folder_json_is_not_needed(tmp_path):
    """The folder holds nothing but checkpoints and, while training, the lock."""
    train(build(), tmp_path, 1)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 1 and names[0].startswith("ckpt-00001-0000000-")
    assert json.dumps(load_model(tmp_path / names[0]).saved_extra["run_optimizer"])


def test_an_empty_lock_is_stale_only_when_old(tmp_path):
    lock = tmp_path / ckpt.LOCK_NAME
    lock.write_bytes(b"")  # a holder that has just created it, not yet written its pid
    with pytest.raises(ckpt.CheckpointFolderBusyError):
        train(build(), tmp_path, 1)
    old = time.time() - 60
    os.utime(lock, (old, old))  # a holder killed between creating and writing it
    train(build(), tmp_path, 1)
    assert not lock.exists() and len(ckpt.list_checkpoints(tmp_path)) == 1


def test_a_checkpoint_dir_that_is_a_file_is_named(tmp_path):
    path = tmp_path / "ckpt"
    path.write_text("not a folder")
    with pytest.raises(ValueError, match="checkpoint_dir.*is a file"):
        train(build(), path, 1)


@pytest.mark.parametrize(
    "cls, values",
    [
        ("History", {"history": {"loss": ["x"]}, "epoch": [0]}),
        ("History", {"history": {}, "epoch": [-1]}),
        ("EarlyStopping", {"wait": "x"}),
        ("EarlyStopping", {"n_best": 99}),
        ("EarlyStopping", {"best": None}),
    ],
)
def test_malformed_callback_state_is_refused_naming_the_callback(tmp_path, cls, values):
    x, y = data()
    stop = rnnkit.callbacks.EarlyStopping(monitor="loss", patience=99, restore_best_weights=True)
    build().fit(
        x, y, epochs=1, batch_size=10, verbose=0, checkpoint_dir=tmp_path / "run", callbacks=[stop]
    )
    saved = load_model(ckpt.latest(tmp_path / "run"))
    specs = [dict(s) for s in saved.saved_extra["callbacks"]]
    i = next(k for k, s in enumerate(specs) if s["class"] == cls)
    specs[i]["values"] = {**specs[i]["values"], **values}
    bad = _tampered(ckpt.latest(tmp_path / "run"), tmp_path / "bad.rnnkit", callbacks=specs)
    fresh = rnnkit.callbacks.EarlyStopping(monitor="loss", patience=99, restore_best_weights=True)
    with pytest.raises(ValueError, match=rf"bad\.rnnkit.*callbacks\[{i}\] \({cls}\)"):
        build().fit(x, y, epochs=2, batch_size=10, verbose=0, resume=bad, callbacks=[fresh])


def test_a_refused_resume_into_another_runs_folder_changes_nothing(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    train(build(), a, 2)
    train(build(lr=0.02), b, 1)
    model = build()
    before = model.get_weights()
    with pytest.raises(ValueError, match="another run"):
        train(model, b, 3, resume=ckpt.latest(a))
    for x, y in zip(before, model.get_weights()):
        np.testing.assert_array_equal(x, y)

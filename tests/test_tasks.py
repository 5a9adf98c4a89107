"""Long-memory tasks and the Mackey-Glass integrator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit.datasets import tasks
from rnnkit.experiments import long_memory


# ---- adding problem ----------------------------------------------------------------
def test_adding_problem_layout_and_targets():
    x, y = tasks.adding_problem(500, 50, seed=0)
    assert x.shape == (500, 50, 2) and y.shape == (500, 1)
    assert x.dtype == np.float32 and y.dtype == np.float32
    values, markers = x[..., 0], x[..., 1]
    assert values.min() >= 0 and values.max() < 1
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :25].sum(axis=1) == 1) and np.all(markers[:, 25:].sum(axis=1) == 1)
    np.testing.assert_allclose(y[:, 0], (values * markers).sum(axis=1), rtol=1e-6)


def test_adding_problem_marker_positions_cover_each_half():
    x, _ = tasks.adding_problem(4000, 11, seed=1)  # odd T: halves [0, 5) and [5, 11)
    first = x[..., 1].argmax(axis=1)
    second = 10 - x[:, ::-1, 1].argmax(axis=1)
    assert set(first) == set(range(5)) and set(second) == set(range(5, 11))


def test_adding_problem_baseline_mse_is_one_sixth():
    _, y = tasks.adding_problem(40000, 20, seed=2)
    assert np.mean((y - 1.0) ** 2) == pytest.approx(tasks.ADDING_BASELINE_MSE, abs=0.005)
    assert tasks.ADDING_BASELINE_MSE == pytest.approx(0.1667, abs=1e-4)


def test_adding_problem_is_deterministic_and_splits_are_disjoint():
    a, b = tasks.adding_problem(10, 30, seed=5), tasks.adding_problem(10, 30, seed=5)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], tasks.adding_problem(10, 30, seed=6)[0])
    (x_tr, _), (x_te, _) = tasks.adding_problem_split(200, 100, 30, seed=0)
    train_rows = {row.tobytes() for row in x_tr}
    assert not any(row.tobytes() in train_rows for row in x_te)
    assert not np.array_equal(x_tr[:100], x_te)
    (x_tr2, _), _ = tasks.adding_problem_split(200, 100, 30, seed=0)
    np.testing.assert_array_equal(x_tr, x_tr2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_samples=0, steps=10), "n_samples"),
        (dict(n_samples=3, steps=1), "steps"),
        (dict(n_samples=3, steps=10, seed="zero"), "seed"),
    ],
)
def test_adding_problem_rejects_bad_arguments(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        tasks.adding_problem(**kwargs)


# ---- copy memory ------------------------------------------------------------------
def test_copy_memory_layout():
    x, y = tasks.copy_memory(64, delay=30, seed=0)
    assert x.shape == (64, 50, 10) and y.shape == (64, 50)
    ids = x.argmax(axis=-1)
    assert np.all(x.sum(axis=-1) == 1)  # one-hot
    assert ids[:, :10].min() >= 1 and ids[:, :10].max() <= 8
    assert np.all(ids[:, 10:39] == 0) and np.all(ids[:, 39] == 9) and np.all(ids[:, 40:] == 0)
    assert np.all(y[:, :40] == 0)
    np.testing.assert_array_equal(y[:, 40:], ids[:, :10])
    x_ids, _ = tasks.copy_memory(64, delay=30, seed=0, one_hot=False)
    np.testing.assert_array_equal(x_ids, ids)


def test_copy_memory_baseline_and_disjoint_split():
    assert tasks.copy_memory_baseline(100) == pytest.approx(10 * math.log(8) / 120)
    # a tiny alphabet makes collisions certain: the split must remove them
    (x_tr, _), (x_te, y_te) = tasks.copy_memory_split(
        6, 40, delay=5, n_symbols=2, length=3, seed=0, one_hot=False
    )
    seen = {tuple(r) for r in x_tr[:, :3]}
    assert len(seen) < 8 and not any(tuple(r) in seen for r in x_te[:, :3])
    np.testing.assert_array_equal(y_te[:, -3:], x_te[:, :3])


# ---- Mackey-Glass -------------------------------------------------------------------
def test_mackey_glass_is_reproducible_and_bounded():
    a = tasks.mackey_glass(2000)
    np.testing.assert_array_equal(a, tasks.mackey_glass(2000))
    assert a[0] == 1.2 and 0.2 < a.min() and a.max() < 1.5
    assert a[200:].std() > 0.1  # chaotic, not settled on a fixed point


def test_mackey_glass_fixed_point_is_exact():
    # x = 1 is an equilibrium: 0.2 · 1 / (1 + 1) - 0.1 · 1 = 0
    assert np.all(tasks.mackey_glass(300, x0=1.0) == 1.0)


def test_mackey_glass_step_sizes_agree():
    coarse = tasks.mackey_glass(500, dt=0.1)
    fine = tasks.mackey_glass(500, dt=0.05)
    finer = tasks.mackey_glass(500, dt=0.025)
    assert np.abs(coarse - finer).max() < 2e-7
    # converging: the error shrinks at least 4-fold per halving of dt
    assert np.abs(fine - finer).max() < np.abs(coarse - finer).max() / 4


def test_mackey_glass_satisfies_its_equation():
    dt = 0.01
    x = tasks.mackey_glass(3000, dt=dt, sample_step=0.1)  # t = 0, 0.1, …, 299.9
    lag = 170  # τ = 17 at sample spacing 0.1
    k = np.arange(lag + 1, len(x) - 1)
    derivative = (x[k + 1] - x[k - 1]) / 0.2
    delayed = x[k - lag]
    rhs = 0.2 * delayed / (1 + delayed**10) - 0.1 * x[k]
    assert np.abs(derivative - rhs).max() < 1e-4  # measured 1.7e-5: the O(h²) of the difference


def test_mackey_glass_sampling_and_discard():
    x = tasks.mackey_glass(100, sample_step=2.0)
    np.testing.assert_array_equal(x, tasks.mackey_glass(200)[::2])
    np.testing.assert_array_equal(tasks.mackey_glass(50, discard=30), tasks.mackey_glass(80)[30:])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(tau=17.05), "argument tau"),
        (dict(sample_step=0.15), "argument sample_step"),
        (dict(dt=-0.1), "argument dt"),
        (dict(discard=-1), "argument discard"),
    ],
)
def test_mackey_glass_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tasks.mackey_glass(10, **kwargs)


def test_scale_to_range():
    s = tasks.scale_to_range(np.array([2.0, 4.0, 3.0]))
    np.testing.assert_allclose(s, [-1.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="constant"):
        tasks.scale_to_range(np.ones(3))


# ---- the benchmark driver (experiments/long_memory.py) ----------------------------
def test_long_memory_driver_rows_and_table(tmp_path):
    config = long_memory.LongMemoryConfig(
        steps=(6,), models=("irnn", "gru"), max_updates=4, eval_every=2, n_train=40,
        n_test=20, units=3, batch_size=8,
    )  # fmt: skip
    results = long_memory.run(config, out_dir=tmp_path, echo=None, save_dir=tmp_path / "m")
    rows = results["rows"]
    assert [(r["model"], r["clip"]) for r in rows] == [
        ("irnn", False), ("irnn", True), ("gru", False), ("gru", True)
    ]  # fmt: skip
    for r in rows:
        assert r["updates"] == 4 or r["solved"] or r["diverged"]
        assert r["solved"] == (r["updates_to_solve"] is not None)
    assert (tmp_path / "long_memory.json").stat().st_size > 0
    assert (tmp_path / "m" / "adding_T6_gru_clip.rnnkit").exists()
    assert np.load(tmp_path / "m" / "adding_T6_x.npy").shape == (20, 6, 2)
    table = long_memory.format_table(rows)
    assert table.count("\n") == 5 and "| 6 | gru | global norm |" in table


def test_long_memory_copy_task_model_and_bad_config():
    model = long_memory.build_model("lstm", "copy", 5, 4)
    assert model.output_shape == (None, 25, 10)
    assert long_memory.solved_threshold("copy", 100) == pytest.approx(
        0.1 * tasks.copy_memory_baseline(100)
    )
    with pytest.raises(ValueError, match="argument models"):
        long_memory.LongMemoryConfig(models=("transformer",)).validate()
    with pytest.raises(ValueError, match="argument steps"):
        long_memory.LongMemoryConfig(steps=(1,)).validate()
    assert long_memory.main(["--units", "0"]) == 2

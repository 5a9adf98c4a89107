"""Echo state networks: reservoir, closed-form readout, teacher forcing, generation."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.datasets.tasks import mackey_glass, scale_to_range
from rnnkit.models.esn import EchoStateNetwork, nrmse


@pytest.fixture(scope="module")
def series():
    return scale_to_range(mackey_glass(1700, discard=200))[:, None]


def test_reservoir_spectral_radius_and_sparsity():
    esn = EchoStateNetwork(units=200, spectral_radius=0.9, connectivity=0.1, seed=0)
    esn.initialize(3)
    assert np.abs(np.linalg.eigvals(esn.W)).max() == pytest.approx(0.9)
    assert abs(np.mean(esn.W != 0) - 0.1) < 0.01
    assert esn.W_in.shape == (3, 200) and np.abs(esn.W_in).max() <= 1.0
    assert esn.bias.shape == (200,)


def test_leaky_update_by_hand():
    esn = EchoStateNetwork(units=5, leak_rate=0.4, connectivity=1.0, seed=1).initialize(2)
    x = np.array([[0.5, -1.0], [0.2, 0.3]])
    r1 = 0.4 * np.tanh(x[0] @ esn.W_in + esn.bias)
    r2 = 0.6 * r1 + 0.4 * np.tanh(x[1] @ esn.W_in + r1 @ esn.W + esn.bias)
    np.testing.assert_allclose(esn.run(x), [r1, r2], rtol=1e-12)


@pytest.mark.parametrize("include_input", [False, True])
def test_readout_equals_a_direct_least_squares_solution(include_input):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 2)), rng.normal(size=(300, 3))
    esn = EchoStateNetwork(units=40, ridge=0.5, washout=20, include_input=include_input, seed=2)
    esn.fit(x, y)
    states = esn.run(x)[20:]
    cols = [np.ones((280, 1))] + ([x[20:]] if include_input else []) + [states]
    feats = np.concatenate(cols, axis=1)
    # ridge as least squares on an augmented system; the bias column is not penalised
    penalty = np.sqrt(0.5) * np.eye(feats.shape[1])[1:]
    a = np.vstack([feats, penalty])
    b = np.vstack([y[20:], np.zeros((len(penalty), 3))])
    expected = np.linalg.lstsq(a, b, rcond=None)[0]
    np.testing.assert_allclose(esn.W_out, expected, rtol=1e-7, atol=1e-9)


def test_fit_on_several_series_stacks_their_states():
    rng = np.random.default_rng(1)
    parts = [rng.normal(size=(120, 1)) for _ in range(2)]
    targets = [p**2 for p in parts]
    esn = EchoStateNetwork(units=30, ridge=1e-3, washout=10, seed=3).fit(parts, targets)
    feats = [np.hstack([np.ones((110, 1)), esn.run(p)[10:]]) for p in parts]
    X, Y = np.vstack(feats), np.vstack([t[10:] for t in targets])
    reg = 1e-3 * np.diag([0.0] + [1.0] * 30)
    np.testing.assert_allclose(esn.W_out, np.linalg.solve(X.T @ X + reg, X.T @ Y), rtol=1e-8)


def test_seed_makes_it_reproducible(series):
    a = EchoStateNetwork(units=50, seed=4).fit(series[:500], series[1:501])
    b = EchoStateNetwork(units=50, seed=4).fit(series[:500], series[1:501])
    c = EchoStateNetwork(units=50, seed=5).fit(series[:500], series[1:501])
    np.testing.assert_array_equal(a.W_out, b.W_out)
    np.testing.assert_array_equal(a.generate(10), b.generate(10))
    assert not np.array_equal(a.W, c.W)


def test_mackey_glass_forecasts_beat_naive_baselines(series):
    esn = EchoStateNetwork(units=150, seed=0).fit(series[:999], series[1:1000])
    free = esn.generate(30)  # the last input read was s_998: forecasts s_999 … s_1028
    truth = series[999:1029]
    last_value = np.repeat(series[998:999], 30, axis=0)
    assert nrmse(truth, free) < 0.2 * nrmse(truth, last_value)
    esn.run(series[:999])  # back to the end of the training series
    one_step = esn.predict(series[999:1299], reset=False)  # forecasts s_1000 … s_1299
    persistence = series[999:1299]  # s_{t+1} = s_t
    truth = series[1000:1300]
    assert nrmse(truth, one_step) < 0.1 * nrmse(truth, persistence)


def test_multivariate_series_closed_loop():
    t = np.arange(1500) * 0.07
    rotation = np.stack([np.sin(t), np.cos(t) * 0.5], axis=1)
    esn = EchoStateNetwork(units=100, spectral_radius=0.9, seed=1)
    esn.fit(rotation[:999], rotation[1:1000])
    out = esn.generate(100)
    assert out.shape == (100, 2)
    assert nrmse(rotation[1000:1100], out) < 0.02


def test_generate_continues_where_it_stopped(series):
    esn = EchoStateNetwork(units=60, seed=2).fit(series[:600], series[1:601])
    state = esn.state_.copy()
    both = esn.generate(20)
    esn.state_, esn._last_input = state, series[599]
    first = esn.generate(12)
    second = esn.generate(8)
    np.testing.assert_allclose(np.vstack([first, second]), both, rtol=1e-12)
    warm = esn.generate(5, warmup=series[:600])
    np.testing.assert_allclose(warm, both[:5], rtol=1e-10)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(leak_rate=0.0), "argument leak_rate"),
        (dict(leak_rate=1.5), "argument leak_rate"),
        (dict(spectral_radius=-1), "argument spectral_radius"),
        (dict(units=0), "argument units"),
        (dict(washout=-3), "argument washout"),
        (dict(ridge="lots"), "argument ridge"),
    ],
)
def test_invalid_arguments_name_themselves(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        EchoStateNetwork(**kwargs)


def test_invalid_use_raises_clearly():
    esn = EchoStateNetwork(units=10, washout=5, seed=0)
    with pytest.raises(ValueError, match="not trained"):
        esn.generate(3)
    with pytest.raises(ValueError, match="expected 20 steps"):
        esn.fit(np.ones((20, 1)), np.ones((19, 1)))
    with pytest.raises(ValueError, match="argument washout"):
        esn.fit(np.ones((5, 1)), np.ones((5, 1)))
    esn.fit(np.random.default_rng(0).normal(size=(30, 2)), np.ones((30, 1)))
    with pytest.raises(ValueError, match="closed-loop"):
        esn.generate(3)
    with pytest.raises(ValueError, match="expected 2 features"):
        esn.predict(np.ones((4, 3)))


def test_nrmse_is_rmse_over_the_range():
    assert nrmse([0.0, 2.0, 4.0], [1.0, 2.0, 3.0]) == pytest.approx(np.sqrt(2 / 3) / 4)
    with pytest.raises(ValueError, match="constant"):
        nrmse([1.0, 1.0], [1.0, 2.0])


@pytest.mark.parametrize("seed", [0, 114])
def test_sparse_spectral_radius_is_exact(seed):
    """The sparse (ARPACK) path agrees with a dense eigendecomposition. With ARPACK's
    default 20 Krylov vectors these reservoirs came out 0.4 % (seed 0, k=1) and 1.2 %
    (seed 114, k=4) off: the eigenvalues crowd at the edge of the spectrum."""
    pytest.importorskip("scipy")
    from rnnkit.utils.linalg import spectral_radius

    rng = np.random.default_rng(seed)
    w = rng.standard_normal((1000, 1000)) * (rng.random((1000, 1000)) < 0.1)
    exact = float(np.max(np.abs(np.linalg.eigvals(w))))
    assert spectral_radius(w) == pytest.approx(exact, rel=1e-6)

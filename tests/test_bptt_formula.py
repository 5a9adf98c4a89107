"""The notes' backpropagation-through-time sum, written out term by term.

For the tanh RNN of the notes, with row vectors,

    s_t = tanh(x_t U + s_{t-1} W),   s_0 = tanh(x_0 U + s_init W),
    o_3 = softmax(s_3 V),            E_3 = -log o_3[label],

the notes derive

    dE3/dW = Σ_{k=0..3} dE3/do3 · do3/ds3 · (Π_{j=k+1..3} ds_j/ds_{j-1}) · ∂⁺s_k/∂W

where ∂⁺s_k/∂W is the "immediate" derivative, s_{k-1} held constant. Here every factor
is an explicit Jacobian matrix (J[i, j] = ∂out_i/∂in_j):

    dE3/do3        = -onehot / o3                          (1 x K)
    do3/ds3        = (diag(o3) - o3 o3ᵀ) · Vᵀ              (K x H)
    ds_j/ds_{j-1}  = diag(1 - s_j²) · Wᵀ                   (H x H)
    ∂⁺s_k/∂W[i, (m, n)] = (1 - s_k,i²) · δ_in · s_{k-1,m}  (H x H·H)
    ∂⁺s_k/∂U[i, (m, n)] = (1 - s_k,i²) · δ_in · x_k,m      (H x I·H)

and the sum must equal what rnnkit's SimpleRNN + Dense(softmax) compute by BPTT.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.layers import Dense, SimpleRNN


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def explicit_forward(x, U, W, s_init):
    """The states s_0 … s_T of one sequence x (T+1, I), written as the notes do."""
    states, prev = [], s_init
    for x_t in x:
        prev = np.tanh(x_t @ U + prev @ W)
        states.append(prev)
    return states


def bptt_terms(x, U, W, V, s_init, label, wrt):
    """The notes' terms k = 0 … T of dE_T/d(wrt), each an array shaped like the weight."""
    s = explicit_forward(x, U, W, s_init)
    T = len(s) - 1
    H = W.shape[0]
    o = softmax(s[T] @ V)
    onehot = np.zeros_like(o)
    onehot[label] = 1.0

    dE_do = -onehot / o  # (K,)
    do_ds = (np.diag(o) - np.outer(o, o)) @ V.T  # (K, H)

    def ds_dsprev(j):  # ds_j / ds_{j-1}
        return np.diag(1.0 - s[j] ** 2) @ W.T

    def immediate(k):  # ∂⁺s_k / ∂(wrt), s_{k-1} held constant
        source = (s_init if k == 0 else s[k - 1]) if wrt == "W" else x[k]
        m = source.shape[0]
        J = np.zeros((H, m, H))
        for i in range(H):
            J[i, :, i] = (1.0 - s[k][i] ** 2) * source
        return J.reshape(H, m * H), m

    terms = []
    for k in range(T + 1):
        chain = dE_do @ do_ds  # (H,): dE/ds_T
        for j in range(T, k, -1):  # · ds_T/ds_{T-1} · … · ds_{k+1}/ds_k
            chain = chain @ ds_dsprev(j)
        J, m = immediate(k)
        terms.append((chain @ J).reshape(m, H))
    return terms, s, o


def rnnkit_gradients(x, U, W, V, s_init, label):
    """dE/dU, dE/dW from rnnkit's SimpleRNN (no bias) + Dense(V, softmax), plus the
    states, the output and dE/dx."""
    steps, n_in = x.shape
    H, K = W.shape[0], V.shape[1]
    rnn = SimpleRNN(H, use_bias=False, return_sequences=False, dtype="float64")
    rnn.ensure_built((steps, n_in))
    rnn.set_weights([U, W])
    out = Dense(K, use_bias=False, activation="softmax", dtype="float64")
    out.ensure_built((H,))
    out.set_weights([V])

    s_last = rnn(x[None], initial_state=[s_init[None]])
    o = out(s_last)
    onehot = np.zeros_like(o)
    onehot[0, label] = 1.0
    dx = rnn.backward(out.backward(-onehot / o))
    names = [n for n, _ in rnn.weights()]
    assert names == ["kernel", "recurrent_kernel"], names
    dU, dW = rnn.gradients()
    return dU, dW, s_last[0], o[0], dx[0]


def rel_err(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b), 1e-300)


def random_problem(seed, steps, n_in=3, units=4, classes=5, w_scale=0.6):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((steps, n_in))
    U = rng.standard_normal((n_in, units)) * 0.5
    W = rng.standard_normal((units, units)) * w_scale
    V = rng.standard_normal((units, classes))
    s_init = rng.uniform(-0.9, 0.9, size=units)  # non-zero initial state
    label = int(rng.integers(classes))
    return x, U, W, V, s_init, label


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_three_step_bptt_sum_equals_rnnkit_gradient(seed):
    x, U, W, V, s_init, label = random_problem(seed, steps=4)  # x_0 … x_3
    dU, dW, s3, o3, _ = rnnkit_gradients(x, U, W, V, s_init, label)

    terms_W, s, o = bptt_terms(x, U, W, V, s_init, label, "W")
    terms_U, _, _ = bptt_terms(x, U, W, V, s_init, label, "U")
    assert len(terms_W) == len(terms_U) == 4  # k = 0, 1, 2, 3

    # the same forward pass
    np.testing.assert_allclose(s3, s[3], rtol=0, atol=1e-14)
    np.testing.assert_allclose(o3, o, rtol=0, atol=1e-14)

    # the notes' sum, term by term, is BPTT's gradient
    for name, terms, grad in (("W", terms_W, dW), ("U", terms_U, dU)):
        total = np.sum(terms, axis=0)
        assert total.shape == grad.shape
        err = rel_err(total, grad)
        assert err < 1e-10, f"dE3/d{name}: relative error {err:.2e}"
        # and every term matters: the immediate term alone is not the gradient
        assert rel_err(terms[-1], grad) > 1e-3, f"dE3/d{name} is not a sum over time"


def test_bptt_terms_vanish_geometrically_for_small_spectral_radius():
    T, units, rho = 30, 6, 0.5
    x, U, _, V, s_init, label = random_problem(11, steps=T + 1, units=units)
    Q, _ = np.linalg.qr(np.random.default_rng(12).standard_normal((units, units)))
    W = rho * Q  # spectral radius 0.5, and spectral norm 0.5 as well
    assert np.isclose(np.max(np.abs(np.linalg.eigvals(W))), rho)

    terms, s, o = bptt_terms(x, U, W, V, s_init, label, "W")
    norms = np.array([np.linalg.norm(t) for t in terms])
    assert len(norms) == T + 1
    ratio = norms[0] / norms[T]
    assert ratio < 1e-3, f"|term k=0| / |term k=T| = {ratio:.2e}"

    # geometric: term k is an outer product s_{k-1} ⊗ δ_k with
    # |δ_k| <= |dE/ds_T| · rho^(T-k) (each ds_j/ds_{j-1} has norm <= rho, tanh' <= 1)
    onehot = np.eye(V.shape[1])[label]
    dE_dsT = (o - onehot) @ V.T
    prev = [s_init] + s[:-1]
    for k in range(T + 1):
        bound = np.linalg.norm(dE_dsT) * rho ** (T - k) * np.linalg.norm(prev[k])
        assert norms[k] <= bound * (1 + 1e-12), (k, norms[k], bound)

    # the long sum is still exactly rnnkit's gradient, and rnnkit's dE/dx vanishes alike
    dU, dW, _, _, dx = rnnkit_gradients(x, U, W, V, s_init, label)
    assert rel_err(np.sum(terms, axis=0), dW) < 1e-10
    dx_norms = np.linalg.norm(dx, axis=-1)
    assert dx_norms[0] / dx_norms[T] < 1e-3, dx_norms

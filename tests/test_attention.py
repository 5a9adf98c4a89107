"""Attention layers: central-difference gradients (query, values, weights), masks,
and the weights they expose for plotting."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.layers import BahdanauAttention, DotAttention
from rnnkit.utils.gradient_check import numerical_gradient, relative_error

B, TQ, TV, D = 2, 3, 4, 5


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def layers():
    return {
        "dot": lambda: DotAttention(dtype="float64"),
        "scaled": lambda: DotAttention(scale=True, dtype="float64"),
        "general": lambda: DotAttention(score="general", dtype="float64"),
        "bahdanau": lambda: BahdanauAttention(6, dtype="float64"),
    }


def post_mask():
    m = np.ones((B, TV), bool)
    m[1, -2:] = False
    return m


@pytest.mark.parametrize("kind", sorted(layers()))
@pytest.mark.parametrize("single_query", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_gradients(kind, single_query, masked):
    layer = layers()[kind]()
    q = rand(B, D) if single_query else rand(B, TQ, D)
    v = rand(B, TV, D, seed=1)
    mask = post_mask() if masked else None
    out = layer([q, v], mask=mask)
    probe = rand(*out.shape, seed=2)

    def loss():
        return float(np.sum(layer.forward([q, v], mask=mask) * probe))

    layer.forward([q, v], mask=mask)
    dq, dv = layer.backward(probe)
    analytic = {n: g.copy() for n, g in zip(layer.params, layer.gradients())}
    errors = {
        "query": relative_error(dq, numerical_gradient(loss, q)),
        "values": relative_error(dv, numerical_gradient(loss, v)),
    }
    for name, w in layer.weights():
        errors[name] = relative_error(analytic[name], numerical_gradient(loss, w))
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("kind", sorted(layers()))
def test_masked_values_get_no_weight_and_no_gradient(kind):
    layer = layers()[kind]()
    q, v = rand(B, TQ, D), rand(B, TV, D, seed=1)
    out = layer([q, v], mask=post_mask())
    weights = layer.attention_weights
    assert weights.shape == (B, TQ, TV)
    np.testing.assert_allclose(weights.sum(-1), 1.0)
    assert np.all(weights[1, :, -2:] == 0)
    v2 = v.copy()
    v2[1, -2:] = 1e3  # what sits at padded steps cannot change the context
    np.testing.assert_array_equal(layer([q, v2], mask=post_mask()), out)
    _, dv = layer.backward(np.ones_like(out))
    assert np.all(dv[1, -2:] == 0)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"expects a list \[query, values\]"):
        DotAttention()(rand(B, TV, D))
    with pytest.raises(ValueError, match="equal size"):
        DotAttention()([rand(B, 3), rand(B, TV, D)])
    with pytest.raises(ValueError, match="score"):
        DotAttention(score="cosine")
    with pytest.raises(ValueError, match="units"):
        BahdanauAttention(0)

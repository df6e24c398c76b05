"""Quantized-orthogonality bounds on 100 quantized Haar-random matrices per (n, k)."""
import math

import numpy as np
import pytest

import qornn.theory as T

NS = (8, 32, 128)
KS = (1, 2, 3, 4, 6, 8)


@pytest.fixture(scope="module")
def haar():
    rng = np.random.default_rng(2024)
    return {n: [T.haar_orthogonal(n, rng) for _ in range(100)] for n in NS}


def test_haar_is_orthogonal(haar):
    for n, mats in haar.items():
        W = mats[0]
        assert np.allclose(W.T @ W, np.eye(n), atol=1e-10)


def test_quantizer_definition():
    W = np.array([[0.5, -0.25], [0.125, -0.5]])
    # k = 3: alpha = 0.5, step 0.125, levels -4..3; +alpha is clipped to 3 * step
    assert np.allclose(T.quantize(W, 3), [[0.375, -0.25], [0.125, -0.5]])
    assert np.allclose(T.quantize(W, 1), [[0.5, 0.0], [0.0, -0.5]])  # ternary, round half to even


@pytest.mark.parametrize("n", NS)
@pytest.mark.parametrize("k", KS)
def test_deterministic_bounds_hold(haar, n, k):
    worst_ratio, typ_ratio = 0.0, []
    a_priori = T.deterministic_deviation(n, k).value
    for W in haar[n]:
        m = T.measure_deviation(W, k)
        b = T.deterministic_deviation(n, k, alpha=m["alpha"])
        dlt = b.certificate["delta"]
        assert m["E_max"] <= (dlt if k >= 2 else dlt / 2) * (1 + 1e-12)
        assert m["E_2"] <= b.value * (1 + 1e-12) and b.value <= a_priori * (1 + 1e-12)
        assert m["sigma_min"] >= b.certificate["sigma_min_ge"] - 1e-12
        assert m["sigma_max"] <= b.certificate["sigma_max_le"] + 1e-12
        assert m["gram_dev"] <= b.certificate["gram_deviation_le"] + 1e-12
        worst_ratio = max(worst_ratio, m["E_2"] / b.value)
        if k >= 2:
            typ_ratio.append(m["E_2"] / T.typical_deviation(n, k, alpha=m["alpha"]).value)
    assert worst_ratio < 1
    if typ_ratio and n >= 32:
        # heuristic typical size delta sqrt(n/3): within 15% on average, never off by > 30%
        assert 0.85 <= np.mean(typ_ratio) <= 1.15
        assert 0.7 <= min(typ_ratio) and max(typ_ratio) <= 1.3


def test_ternary_gaussian_model(haar):
    n = 128
    meas = np.mean([T.measure_deviation(W, 1)["E_2"] for W in haar[n]])
    alpha = np.mean([np.abs(W).max() for W in haar[n]])
    g = T.typical_deviation(n, 1, alpha=alpha, model="gaussian").value
    assert 0.8 <= meas / g <= 1.2


def test_halving_per_bit():
    vals = [T.typical_deviation(256, k).value for k in range(2, 9)]
    assert np.allclose(np.array(vals[:-1]) / np.array(vals[1:]), 2.0)
    det = [T.deterministic_deviation(256, k, alpha=0.3).value for k in range(3, 9)]
    assert all(a > b for a, b in zip(det, det[1:]))

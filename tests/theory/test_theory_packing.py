"""Recheck packing certificates numerically: membership, envelope, separation, code sizes."""
import math

import numpy as np
import pytest
from scipy.special import comb

import qornn.theory as T
from qornn.theory.packing import _multi_indices


def lp_dist(f, g, p, weights=None):
    diff = np.abs(f - g)
    if math.isinf(p):
        return diff.max()
    return float(np.mean(diff ** p)) ** (1 / p)


@pytest.mark.parametrize("s", [0.5, 1.0, 1.5, 2.0, 2.7])
def test_holder_family_members_lie_in_ball_d1(s):
    R = 1.7
    fam = T.holder_family(5, s, 1, 2, R=R)
    rng = np.random.default_rng(1)
    k, alpha = fam.meta["k"], fam.meta["alpha"]
    x = np.linspace(0, 1, 2001)
    worst = 0.0
    for _ in range(3):
        sig = rng.integers(0, 2, fam.m)
        for j in range(k + 1):
            worst = max(worst, np.abs(fam.derivative(sig, x, (j,))).max() / R)
        g = fam.derivative(sig, x, (k,))
        dx = np.abs(x[:, None] - x[None, :])
        np.fill_diagonal(dx, 1.0)
        q = np.abs(g[:, None] - g[None, :]) / dx ** alpha
        worst = max(worst, q.max() / R)
    assert worst <= 1 + 1e-6
    if s == int(s):
        assert worst > 0.9  # the amplitude is nearly the largest allowed


@pytest.mark.parametrize("s", [1.0, 1.5])
def test_holder_family_members_lie_in_ball_d2(s):
    fam = T.holder_family(3, s, 2, 2)
    rng = np.random.default_rng(2)
    k, alpha = fam.meta["k"], fam.meta["alpha"]
    sig = rng.integers(0, 2, fam.m)
    x = rng.random((20000, 2))
    y = np.clip(x + rng.normal(scale=rng.choice([0.3, 0.03, 0.003], size=(20000, 1)), size=x.shape), 0, 1)
    for total in range(k + 1):
        for beta in _multi_indices(2, total):
            assert np.abs(fam.derivative(sig, x, beta)).max() <= 1 + 1e-9
    for beta in _multi_indices(2, k):
        gx, gy = fam.derivative(sig, x, beta), fam.derivative(sig, y, beta)
        dist = np.abs(x - y).max(axis=1)
        ok = dist > 0
        assert (np.abs(gx - gy)[ok] / dist[ok] ** alpha).max() <= 1 + 1e-9


@pytest.mark.parametrize("d,p", [(1, 1), (1, 2), (1, 3.5), (2, 2), (1, math.inf)])
def test_holder_family_separation_and_envelope(d, p):
    fam = T.holder_family(4, 1.5, d, p, R=2.0, t=3)
    rng = np.random.default_rng(3)
    n = 4000 if d == 1 else 400
    g1 = (np.arange(n) + 0.5) / n
    x = g1 if d == 1 else np.stack(np.meshgrid(g1, g1, indexing="ij"), -1).reshape(-1, 2)
    for _ in range(4):
        a, b = rng.integers(0, 2, fam.m), rng.integers(0, 2, fam.m)
        fa, fb = fam.member(a, x), fam.member(b, x)
        assert fa.min() >= -1e-15 and fa.max() <= fam.B * (1 + 1e-12)
        ham = np.count_nonzero(a != b)
        num = lp_dist(fa, fb, p)
        assert num == pytest.approx(fam.distance(a, b), rel=2e-3, abs=1e-12)
        if ham >= fam.t:
            assert num >= fam.r * (1 - 2e-3)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_staircase_family(d):
    fam = T.monotone_staircase_family(3, d, 2, t=2)
    rng = np.random.default_rng(4)
    g1 = (np.arange(30) + 0.5) / 30
    x = np.stack(np.meshgrid(*([g1] * d), indexing="ij"), -1).reshape(-1, d)
    for _ in range(5):
        a, b = rng.integers(0, 2, fam.m), rng.integers(0, 2, fam.m)
        fa = fam.member(a, x).reshape((30,) * d)
        for ax in range(d):
            assert (np.diff(fa, axis=ax) >= 0).all()
        assert fa.min() >= 0 and fa.max() <= 1
        c = fam.center(x).reshape((30,) * d)
        assert ((fa - c) >= 0).all() and ((fa - c) <= fam.B + 1e-15).all()
        num = lp_dist(fam.member(a, x), fam.member(b, x), 2)
        assert num == pytest.approx(fam.distance(a, b), rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("d", [2, 3])
def test_antichain_family(d):
    K = 4
    fam = T.monotone_antichain_family(K, d, 1.5, t=2)
    assert fam.m == comb(K + d - 2, d - 1, exact=True)
    rng = np.random.default_rng(5)
    g1 = (np.arange(4 * K) + 0.5) / (4 * K)
    x = np.stack(np.meshgrid(*([g1] * d), indexing="ij"), -1).reshape(-1, d)
    for _ in range(5):
        a, b = rng.integers(0, 2, fam.m), rng.integers(0, 2, fam.m)
        fa = fam.member(a, x).reshape((4 * K,) * d)
        for ax in range(d):
            assert (np.diff(fa, axis=ax) >= 0).all()
        num = lp_dist(fam.member(a, x), fam.member(b, x), 1.5)
        assert num == pytest.approx(fam.distance(a, b), rel=1e-9, abs=1e-15)


def test_gilbert_varshamov_sizes():
    # exact count vs entropy form, and a greedy code reaching the guaranteed size
    for m, t in [(10, 3), (40, 5), (200, 25), (5000, 600)]:
        exact = T.gv_log_size(m, t)
        lam = (t - 1) / m
        ent = m * math.log(2) * (1 + lam * math.log2(lam) + (1 - lam) * math.log2(1 - lam))
        assert exact >= ent - 1e-9
    code = T.greedy_code(12, 3)
    dists = (code[:, None, :] != code[None, :, :]).sum(-1)
    np.fill_diagonal(dists, 99)
    assert dists.min() >= 3
    assert math.log(len(code)) >= T.gv_log_size(12, 3) - 1e-9
    lnM, t = T.vg_code(64)
    assert lnM >= 64 * math.log(2) / 8 and t >= 8


def test_haussler_bound_on_a_tiny_class():
    """Greedy L1 packing of {x -> clip(a(x - b), 0, 1)} (Pdim <= 2 after clipping-monotone map
    of a 2-parameter ReLU ramp family, well within the recalled BHLM bound) never exceeds
    Haussler's e(D+1)(2e/eta)^D with D = Pdim bound of the 1-unit ReLU net."""
    rng = np.random.default_rng(6)
    x = (np.arange(256) + 0.5) / 256
    a = rng.uniform(-20, 20, 3000)
    b = rng.uniform(-0.5, 1.5, 3000)
    F = np.clip(a[:, None] * (x[None, :] - b[:, None]), 0, 1)
    D = T.pdim_upper([1], 1).value
    for eta in [0.3, 0.1, 0.05]:
        chosen = []
        for f in F:
            if all(np.mean(np.abs(f - g)) > eta for g in chosen):
                chosen.append(f)
        assert math.log(len(chosen)) <= T.haussler_log_packing(D, eta)

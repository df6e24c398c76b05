"""Proposition F (fat-shattering route): its ingredients checked numerically, and its use."""
import math
from itertools import product

import numpy as np
import pytest
from scipy.special import comb

import qornn.theory as T
from qornn.theory.fat_shattering import PHI_THETA, THETA, packing_log_bound

DS = np.geomspace(1e3, 1e5, 7)


def test_chernoff_lower_tail_for_bernoulli_means():
    """P(mean of n [0,1]-variables <= theta m) <= exp(-n m phi(theta)); Bernoulli is the worst case."""
    rng = np.random.default_rng(0)
    assert PHI_THETA == pytest.approx(THETA * math.log(THETA) - THETA + 1)
    for m, n in [(0.05, 200), (0.2, 40), (0.5, 12), (0.01, 1000)]:
        means = rng.binomial(n, m, size=200_000) / n
        freq = np.mean(means <= THETA * m)
        assert freq <= math.exp(-n * m * PHI_THETA) * 1.05 + 3e-3


def test_sampling_step_separates_in_sup_norm():
    """Functions pairwise > eta' apart in L^p(mu) stay > theta^(1/p) eta' apart in l^inf on n
    random points, except with probability <= M(M-1)/2 exp(-n eta'^p phi)."""
    rng = np.random.default_rng(1)
    p, eta, M = 2.0, 0.3, 6
    grid = rng.random((M, 400)) ** 3  # [0,1]-valued functions on 400 equally likely points
    dist = np.sqrt(np.mean((grid[:, None, :] - grid[None, :, :]) ** 2, -1))
    assert dist[np.triu_indices(M, 1)].min() > eta
    n = math.ceil((math.log(M * (M - 1) / 2) + math.log(20)) / (eta ** p * PHI_THETA))  # bound 1/20
    gamma = THETA ** (1 / p) * eta
    fails = 0
    for _ in range(2000):
        x = rng.integers(0, 400, n)
        sup = np.abs(grid[:, None, x] - grid[None, :, x]).max(-1)
        fails += sup[np.triu_indices(M, 1)].min() <= gamma
    assert fails / 2000 <= 0.05 + 0.015


def test_discretisation_keeps_separation_and_scale():
    rng = np.random.default_rng(2)
    gamma = 0.1
    alpha = gamma / 2
    h, g = rng.random(100_000), rng.random(100_000)
    far = np.abs(h - g) > gamma
    q = lambda v: np.floor(v / alpha) + 1  # noqa: E731
    assert (np.abs(q(h) - q(g))[far] >= 2).all()
    assert q(np.array([0.0, 1.0])).tolist() == [1, math.floor(2 / gamma) + 1]  # b = floor(2/gamma) + 1


@pytest.mark.parametrize("n", [1, 2, 5, 30, 200])
def test_packing_bound_uses_an_upper_bound_on_y(n):
    for b, k in product([3, 7, 40], [1, 2, 3, 10, 50, 300]):
        y = sum(comb(n, i, exact=True) * b ** i for i in range(1, min(k, n) + 1))
        exact = math.log(2) + math.ceil(math.log2(y)) * math.log(n * b * b)
        assert packing_log_bound(math.log(n), math.log(b), k) >= exact - 1e-9


def test_proposition_f_on_a_family():
    fam = T.holder_family(65536, 1.0, 1, 2.0, t=4096)
    vals = [T.proposition_f(fam, D).value for D in (1, 5, 20, 80)]
    assert all(0 < v <= fam.r / 2 for v in vals[:3]) and vals[3] == 0  # too large a class
    assert all(a >= b for a, b in zip(vals, vals[1:]))
    b = T.proposition_f(fam, 20)
    assert b.kind == "rigorous" and "achour22" in b.references and b.sources == ()
    assert T.proposition_f(fam, lambda gamma: 20).value == pytest.approx(b.value)


@pytest.mark.parametrize("s,d,p", [(1, 1, 2), (2, 1, 1), (1, 2, 2)])
def test_fat_route_rate(s, d, p):
    """fat route ~ (D log D)^(-s/d): the local slope vs D is 1-6% steeper than -s/d."""
    vals = [T.lower_bound_holder(d=d, s=s, p=p, fat=D) for D in DS]
    assert all(v.kind == "rigorous" and v.certificate["route"].startswith("F") for v in vals)
    slope = np.polyfit(np.log(DS), np.log([v.value for v in vals]), 1)[0]
    assert 1.0 <= slope / (-s / d) <= 1.06


def test_fat_as_a_function_of_scale():
    """A class whose fat-shattering dimension grows as gamma -> 0 (no finite Pdim needed)."""
    b = T.lower_bound_holder(d=1, s=1, p=2, fat=lambda g: 50 / np.maximum(g, 1e-300) ** 0.5)
    c = T.lower_bound_holder(d=1, s=1, p=2, fat=lambda g: 100 / np.maximum(g, 1e-300) ** 0.5)
    assert b.value > c.value > 0 and b.kind == "rigorous"
    fam = T.holder_family(65536, 1.0, 1, 2.0, t=4096)  # a scalar-only callable works too
    assert T.proposition_f(fam, lambda g: 5 if g > 0 else 0).value == pytest.approx(T.proposition_f(fam, 5).value)


def test_pdim_route_takes_the_better_of_a_and_f():
    b = T.lower_bound_holder(d=1, s=1, p=2, pdim=1000)
    f = T.lower_bound_holder(d=1, s=1, p=2, fat=1000)
    assert b.value >= f.value and set(b.certificate["routes_log10"]) == {"A:holder", "F:holder"}

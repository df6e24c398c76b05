"""Constructive upper bounds, each rebuilt explicitly and measured on functions of the class."""
import math
from itertools import product

import numpy as np
import pytest

import qornn.theory as T
from qornn.theory.monotone_upper import chain_sum, split_counts
from qornn.theory.packing import _multi_indices
from qornn.theory.upper_bounds import boxes_layers


def grid(n, d):
    g = (np.arange(n) + 0.5) / n
    return g.reshape(-1, 1) if d == 1 else np.stack(np.meshgrid(*([g] * d), indexing="ij"), -1).reshape(-1, d)


def holder_member(s, d, seed, n_f=7):
    fam = T.holder_family(n_f, s, d, 2.0)
    return fam, np.random.default_rng(seed).integers(0, 2, fam.m)


@pytest.mark.parametrize("s,d", [(0.5, 1), (1.5, 1), (2.5, 1), (1.0, 2), (1.5, 2)])
def test_taylor_class_reaches_its_bound(s, d):
    N, delta = 5, 1e-3
    ub = T.upper_bound_holder_taylor(N, s, d, delta)
    fam, sig = holder_member(s, d, seed=int(10 * s) + d)
    k, h = math.ceil(s) - 1, 1.0 / N
    x = grid(240 if d == 1 else 60, d)
    cell = np.clip(np.floor(x * N).astype(int), 0, N - 1)
    z = (cell + 0.5) * h
    approx = np.zeros(len(x))
    for total in range(k + 1):
        for beta in _multi_indices(d, total):
            fact = math.prod(math.factorial(b) for b in beta)
            step = delta * (h / 2) ** (-total)
            coef = fam.derivative(sig, z, beta) / fact
            q = np.round(coef / step)
            assert np.abs(q).max() <= math.floor(1.0 * (h / 2) ** total / (fact * delta) + 0.5)
            approx += q * step * np.prod((x - z) ** np.array(beta), axis=1)
    assert np.abs(fam.member(sig, x) - approx).max() <= ub.value


@pytest.mark.parametrize("s", [0.5, 1.5, 2.5])
def test_interpolation_1d_reaches_its_bound(s):
    N = 6
    ub = T.upper_bound_holder_interp_1d(N, s, math.inf)
    fam, sig = holder_member(s, 1, seed=3, n_f=5)
    x = np.linspace(0, 1, 20001)
    knots = np.linspace(0, 1, N + 1)
    err = np.abs(fam.member(sig, x) - np.interp(x, knots, fam.member(sig, knots)))
    assert err.max() <= ub.value and ub.certificate["W"] == 3 * N + 1


def box_net(f_centre, N, d, delta):
    """The ReLU net of upper_bound_holder_boxes: returns (function of x, nonzero parameter count)."""
    pos = np.arange(N + 1) / N
    # layer 1: per coordinate and grid position a, relu((t - a)/delta + 1) and relu((t - a)/delta)
    w1, b1 = 1 / delta, np.concatenate([-pos / delta + 1, -pos / delta])

    def f(x):
        h1 = [np.maximum(w1 * x[:, [j]] + b1[None, :], 0) for j in range(d)]  # (n, 2(N+1)) each
        ramp = [h[:, :N + 1] - h[:, N + 1:] for h in h1]                       # S_a(t), a = pos
        out = np.zeros(len(x))
        for c in product(range(N), repeat=d):
            s = sum(ramp[j][:, c[j]] - ramp[j][:, c[j] + 1] for j in range(d))
            out += f_centre[c] * np.maximum(s - (d - 1), 0)
        return out

    count = 2 * 2 * d * (N + 1) + N ** d * (4 * d + 1) + N ** d + 1
    return f, count


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_box_net_reaches_its_bound(p):
    N, d, s = 4, 2, 1.0
    ub = T.upper_bound_holder_boxes(N, s, d, p)
    fam, sig = holder_member(s, d, seed=5)
    centres = fam.member(sig, grid(N, d)).reshape(N, N)
    net, count = box_net(centres, N, d, delta=1e-5)
    x = grid(400, d)
    err = np.mean(np.abs(net(x) - fam.member(sig, x)) ** p) ** (1 / p)
    assert err <= ub.value and count == ub.certificate["W"] == sum(boxes_layers(N, d)[1])


def dyadic_partition(f, d, p, eta, J):
    """The adaptive rule of upper_bound_monotone_dyadic: list of (level, lower corner)."""
    leaves, todo = [], [(0, np.zeros(d))]
    while todo:
        j, lo = todo.pop()
        side = 2.0 ** -j
        osc = f(lo + side) - f(lo)
        if j < J and side ** d * osc ** p > eta:
            todo += [(j + 1, lo + side / 2 * np.array(c)) for c in product((0, 1), repeat=d)]
        else:
            leaves.append((j, lo))
    return leaves


MONOTONE = {
    "jump": lambda x: (np.atleast_2d(x)[:, 0] >= 0.37).astype(float),
    "cubic": lambda x: np.atleast_2d(x).mean(axis=1) ** 3,
    "product": lambda x: np.minimum(1.0, 3 * np.prod(np.atleast_2d(x), axis=1)),
}


@pytest.mark.parametrize("name", sorted(MONOTONE))
@pytest.mark.parametrize("p,eta,J", [(1.0, 1e-3, 6), (2.0, 1e-3, 7), (4.0, 1e-4, 6)])
def test_dyadic_monotone_construction(name, p, eta, J):
    d = 2
    f = MONOTONE[name]
    leaves = dyadic_partition(lambda v: float(f(v)[0]), d, p, eta, J)
    ub = T.upper_bound_monotone_dyadic(eta, J, d, p)
    assert len(leaves) <= ub.certificate["n_leaves"]
    K = 2 ** J
    table = np.zeros((K, K))  # value of the approximant on each finest cell
    for j, lo in leaves:
        a, b = (lo * K).round().astype(int)
        size = K >> j
        table[a:a + size, b:b + size] = (f(lo)[0] + f(lo + 2.0 ** -j)[0]) / 2
    x = grid(512, d)
    idx = np.floor(x * K).astype(int)
    approx = table[idx[:, 0], idx[:, 1]]
    assert np.mean(np.abs(approx - f(x)) ** p) ** (1 / p) <= ub.value
    counts = split_counts(np.array([eta]), d, p, J)[0][0]
    for j in range(J):
        assert sum(1 for lev, _ in leaves if lev == j + 1) <= 2 ** d * counts[j]


def test_chain_lemma():
    rng = np.random.default_rng(0)
    for d, j in [(1, 3), (2, 4), (3, 3)]:
        K = 2 ** j
        corners = np.cumsum(np.cumsum(rng.random((K + 1,) * d), axis=0), axis=-1) if d > 1 else np.cumsum(rng.random(K + 1))
        corners = corners / corners.max()  # monotone in each index, values in [0, 1]
        lo = corners[(slice(0, K),) * d]
        hi = corners[(slice(1, K + 1),) * d]
        assert (hi - lo).sum() <= chain_sum(j, d) + 1e-9


@pytest.mark.parametrize("d,p", [(2, 1), (2, 2), (3, 2)])
def test_lower_bounds_below_the_constructions_of_their_own_class(d, p):
    for N in (2, 4, 8):
        units, params = boxes_layers(N, d)
        D = T.pdim_upper_layers(units, params).value
        assert T.lower_bound_holder(d=d, s=1, p=p, pdim=D).value <= T.upper_bound_holder_boxes(N, 1, d, p).value
    for W in (1e3, 1e5):
        ub = T.upper_bound_monotone_for_weights(W, d, p)
        assert sum(ub.certificate["params"]) == ub.certificate["W"] <= W
        D = T.pdim_upper_layers(ub.certificate["units"], ub.certificate["params"]).value
        assert T.lower_bound_monotone(d=d, p=p, pdim=D).value <= ub.value

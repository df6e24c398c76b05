"""Proposition B against brute-force enumeration of every function of a tiny binary network."""
import math

import numpy as np
import pytest

import qornn.theory as T
from qornn.theory.finite_classes import enumerate_relu_1d, exact_best_errors, pairwise_lp
from qornn.theory.inequalities import proposition_b
from qornn.theory.packing import Family


@pytest.mark.parametrize("p", [1, 2, math.inf])
def test_proposition_b_exact_on_binary_relu_net(p):
    x = (np.arange(32) + 0.5) / 32
    # 1 -> 3 -> 1 ReLU net, every parameter binary: 10 bits, K = 1024 configurations
    G, log2_k = enumerate_relu_1d(x, 3, [-6.0, 6.0], [-1.0, 3.0], [-0.05, 0.05], [0.0, 0.05])
    assert log2_k == 10
    # targets: all 2^11 members of a Lipschitz bump family with 11 cells (M = 2048 > K)
    fam = T.holder_family(11, 1.0, 1, p, R=1.0, t=1)
    sig = ((np.arange(2 ** 11)[:, None] >> np.arange(11)[None, :]) & 1)
    F = np.array([fam.member(s, x) for s in sig])
    dists = pairwise_lp(F, F, p)
    np.fill_diagonal(dists, np.inf)
    r = dists.min()  # exact separation in L^p(grid measure)
    assert r > 0
    dFG = pairwise_lp(F, G, p)
    best = dFG.min(axis=1)
    assert np.allclose(best, exact_best_errors(F[:50], G, p).tolist() + list(best[50:]))
    # Proposition B, checked exactly: some target has best error >= r/2 ...
    assert best.max() >= r / 2 - 1e-12
    # ... and each g is within < r/2 of at most one target (pigeonhole), so at most K targets are
    close = dFG < r / 2
    assert close.sum(axis=0).max() <= 1
    assert np.count_nonzero(best < r / 2) <= 2 ** log2_k
    # the library's Proposition B, fed the grid-measure certificate, returns r/2 <= exact minimax
    grid_family = Family(name="grid", p=p, m=11, t=1, log_m=11 * math.log(2), r=r, B=fam.B)
    b = proposition_b(grid_family, log2_k)
    assert b.value == pytest.approx(r / 2) and b.value <= best.max() + 1e-12
    assert np.count_nonzero(best < r / 2) > 0 or p == math.inf  # the check is not vacuous


def test_counting_bound_fails_when_class_is_large_enough():
    """With K >= M the pigeonhole premise fails and Proposition B returns the trivial 0."""
    fam = T.holder_family(4, 1.0, 1, 2, t=1)  # M = 16
    assert proposition_b(fam, 4).value == 0.0
    assert proposition_b(fam, 3.9).value == pytest.approx(fam.r / 2)

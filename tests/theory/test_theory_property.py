"""Property test over a random grid of (s, d, p, D): every lower bound is non-increasing in the
size D, non-decreasing in p, and below a constructive upper bound of a class of that size."""
import math

import numpy as np
import pytest

import qornn.theory as T


def random_cases(n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        s = float(np.round(rng.uniform(0.3, 3.0), 2))
        d = int(rng.integers(1, 4))
        p = float(rng.choice([1.0, 1.3, 2.0, 2.7, 4.0, 9.0, math.inf]))
        D = float(np.round(10 ** rng.uniform(1.5, 5.0)))
        yield s, d, p, D


def non_increasing(v):
    return all(a >= b * (1 - 1e-12) for a, b in zip(v, v[1:]))


@pytest.mark.parametrize("s,d,p,D", list(random_cases(8, seed=13)))
def test_holder_monotone_in_size_and_p_and_below_upper_bound(s, d, p, D):
    for key in ("pdim", "bits"):
        by_size = [T.lower_bound_holder(d=d, s=s, p=p, **{key: D * f}).value for f in (1, 1.7, 5)]
        assert non_increasing(by_size) and by_size[0] > 0, (key, by_size)
        ps = sorted({1.0, 1.6, p, 2 * p if math.isfinite(p) else math.inf})
        by_p = [T.lower_bound_holder(d=d, s=s, p=q, **{key: D}).value for q in ps]
        assert non_increasing(by_p[::-1]), (key, ps, by_p)
    # a finite class with log2|G| <= D bits has Pdim <= D: both routes must stay below it
    ub = T.upper_bound_holder_for_bits(D, s, d)
    assert ub.certificate["bits"] <= D
    assert T.lower_bound_holder(d=d, s=s, p=p, bits=D).value <= ub.value
    assert T.lower_bound_holder(d=d, s=s, p=p, pdim=D).value <= ub.value


@pytest.mark.parametrize("s,d,p,D", list(random_cases(8, seed=31)))
def test_monotone_targets_same_properties(s, d, p, D):
    p = p if math.isfinite(p) else 5.0
    for key in ("pdim", "bits"):
        by_size = [T.lower_bound_monotone(d=d, p=p, **{key: D * f}).value for f in (1, 3)]
        assert non_increasing(by_size) and by_size[0] > 0
        by_p = [T.lower_bound_monotone(d=d, p=q, **{key: D}).value for q in (1.0, p, p + 1.5)]
        assert non_increasing(by_p[::-1])
    ub = T.upper_bound_monotone_for_bits(D, d, p)
    assert ub is not None and ub.certificate["bits"] <= D
    assert T.lower_bound_monotone(d=d, p=p, bits=D).value <= ub.value
    assert T.lower_bound_monotone(d=d, p=p, pdim=D).value <= ub.value


def test_dense_p_sweep_is_exactly_monotone():
    ps = np.concatenate([np.linspace(1.0, 4.0, 13), [4.4, 5.5, 7.0, 9.9, 17.0, 33.0, math.inf]])
    for kw in (dict(pdim=3000), dict(bits=3000)):
        vals = [T.lower_bound_holder(d=2, s=1.5, p=q, **kw).value for q in ps]
        assert non_increasing(vals[::-1]), (kw, vals)

"""Rates, consistency with constructive upper bounds, monotonicity, golden values, errors."""
import math
import subprocess
import sys

import numpy as np
import pytest

import qornn.theory as T
from qornn.errors import ConfigError

DS = np.geomspace(1e3, 1e5, 7)


def slope(x, y):
    return np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0]


def test_theory_does_not_import_torch():
    code = "import sys, qornn.theory; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("s,d,p", [(1, 1, 2), (2, 1, 2), (1, 2, 2), (2, 2, 1), (1, 3, 2),
                                   (0.5, 1, 4), (2.7, 1, 1.5), (1, 1, math.inf)])
def test_holder_slopes_match_minus_s_over_d(s, d, p):
    for key in ("pdim", "bits"):
        bounds = [T.lower_bound_holder(d=d, s=s, p=p, **{key: D}) for D in DS]
        e = bounds[0].exponent
        assert e == pytest.approx(-s / d)
        assert slope(DS, [b.value for b in bounds]) / e == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("d,p", [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (2, 4), (3, 2), (3, 4)])
def test_monotone_slopes(d, p):
    bits = [T.lower_bound_monotone(d=d, p=p, bits=D) for D in DS]
    assert bits[0].exponent == pytest.approx(-1 / max(d, p * (d - 1)))
    assert slope(DS, [b.value for b in bits]) / bits[0].exponent == pytest.approx(1, abs=0.02)
    pd = [T.lower_bound_monotone(d=d, p=p, pdim=D) for D in DS]
    e, lp = pd[0].exponent, pd[0].log_power
    ratio = slope(DS, [b.value for b in pd]) / e
    if p * (d - 1) == d:  # crossover: staircase D^(-1/d) vs antichain (D log D)^(-1/d)
        assert 1.0 - 0.02 <= ratio <= 1.06
    elif lp == 0:  # staircase regime: pure power D^(-1/d)
        assert ratio == pytest.approx(1, abs=0.02)
    else:  # antichain regime: (D log D)^e; the log makes the local slope slightly steeper
        assert 1.0 - 0.02 <= ratio <= 1.04
        assert 0.88 <= slope(DS * np.log(DS), [b.value for b in pd]) / e <= 1.0


def test_monotone_sup_norm_is_one_half():
    b = T.lower_bound_monotone(d=2, p=math.inf, pdim=10 ** 6)
    assert b.value == 0.5 and b.rigorous


@pytest.mark.parametrize("p", [1, 2, 4, math.inf])
def test_lipschitz_lower_bounds_below_interpolation(p):
    for N in [2, 3, 5, 10, 31, 100, 316, 1000, 3162, 10000]:
        ub = T.upper_bound_lipschitz_interp(N, p).value
        lb = T.lower_bound_holder(d=1, s=1, p=p, widths=[N])
        assert 0 < lb.value <= ub
        # a quantized interpolant has fewer functions than its real-weight class: bits route too
        lb_bits = T.lower_bound_holder(d=1, s=1, p=p, bits=32 * (3 * N + 1))
        assert lb_bits.value <= ub


@pytest.mark.parametrize("p", [1, 2, 4])
def test_c11_lower_bound_below_interpolation(p):
    for N in [2, 10, 100, 1000]:
        assert T.lower_bound_holder(d=1, s=2, p=p, widths=[N]).value <= T.upper_bound_c11_interp(N).value


@pytest.mark.parametrize("s,d", [(0.5, 1), (1, 1), (0.5, 2), (1, 2), (1, 3)])
@pytest.mark.parametrize("p", [1, 2, math.inf])
def test_counting_lower_bound_below_quantized_piecewise_constant(s, d, p):
    for N in [1, 2, 4, 8, 16]:
        for delta in [1.0, 0.1, 0.01]:
            ub = T.upper_bound_holder_quantized(N, s, d, delta)
            lb = T.lower_bound_holder(d=d, s=s, p=p, bits=ub.certificate["bits"])
            assert lb.value <= ub.value


@pytest.mark.parametrize("p", [1, 2, 4])
def test_monotone_lower_bounds_below_constructions(p):
    for N in [1, 3, 10, 100, 1000]:
        ub = T.upper_bound_monotone_1d(N, p)
        assert T.lower_bound_monotone(d=1, p=p, widths=[2 * N]).value <= ub.value
        for G in [10, 1000, 10 ** 5]:
            ubq = T.upper_bound_monotone_1d(N, p, grid=G)
            assert T.lower_bound_monotone(d=1, p=p, bits=ubq.certificate["bits"]).value <= ubq.value


def test_monotone_in_complexity_and_linear_in_R():
    vals = [T.lower_bound_holder(d=1, s=1, p=2, pdim=D).value for D in [10, 100, 1000]]
    assert vals[0] > vals[1] > vals[2]
    a = T.lower_bound_holder(d=2, s=1.5, p=2, bits=500, R=1).value
    b = T.lower_bound_holder(d=2, s=1.5, p=2, bits=500, R=3).value
    assert b == pytest.approx(3 * a, rel=1e-9)


def test_golden_values_reference_table():
    # widths [10], d_in 1: W = 31; the smallest valid bound is the growth function (437 of
    # 437 / 502 / 1922), cf. reference notes 2.5
    D = T.pdim_upper([10], 1)
    assert D.certificate["W"] == 31 and D.value == 437
    assert sorted(c["value"] for c in D.certificate["candidates"]) == [437, 502, 1922]
    assert T.pdim_bhlm([10], 1).value == 502  # 493 without the extra threshold parameter
    c = T.holder_bump_constants(2, 2, 2)
    assert c["A_over_R"] == pytest.approx(6.17, abs=0.01)
    assert c["psi_p"] == pytest.approx(0.00159, rel=0.01)
    lb = T.lower_bound_holder(d=1, s=1, p=2, bits=31)
    assert lb.value == pytest.approx(5.6e-4, rel=0.05) and lb.rigorous


def test_kinds_and_sources():
    a = T.lower_bound_holder(d=1, s=1, p=2, pdim=100)
    b = T.lower_bound_holder(d=1, s=1, p=2, bits=100)
    assert a.kind == "rigorous_if_sources_verified" and not a.rigorous
    assert b.kind == "rigorous"
    assert "achour22" in a.references and "achour22" not in a.sources and a.to_json()
    assert T.typical_deviation(64, 4).kind == "heuristic"


def test_inverses_are_consistent():
    eps = 1e-3
    B = T.minimal_bits_for_error(eps, target="holder", d=1, s=1, p=2)
    assert T.lower_bound_holder(d=1, s=1, p=2, bits=B.value - 1).value > eps
    assert T.lower_bound_holder(d=1, s=1, p=2, bits=B.value).value <= eps
    D = T.minimal_pdim_for_error(1e-6, target="holder", d=1, s=1, p=2)
    assert T.lower_bound_holder(d=1, s=1, p=2, pdim=D.value - 1).value > 1e-6
    W = T.minimal_weights_for_error(1e-6, depth=2, d=1, s=1, p=2)
    w = W.certificate["width"]
    assert T.pdim_upper([w - 1] * 2, 1).value < D.value <= T.pdim_upper([w] * 2, 1).value
    Wq = T.minimal_weights_for_error(1e-3, depth=1, d=1, s=1, p=2, bits_per_weight=1)
    assert Wq.value >= B.value  # 1 bit per weight: W >= minimal bits
    M = T.minimal_bits_for_error(0.05, target="monotone", d=2, p=1)
    assert T.lower_bound_monotone(d=2, p=1, bits=M.value - 1).value > 0.05


def test_boolean_window_counting():
    assert T.lower_bound_boolean_window(bits=2 ** 10, k=10).value == 0.0
    b = T.lower_bound_boolean_window(bits=100, k=10)
    assert 0.1 < b.value < 0.25 and b.rigorous


@pytest.mark.parametrize("call", [
    lambda: T.lower_bound_holder(d=1, s=1, p=0.5, bits=10),
    lambda: T.lower_bound_holder(d=1, s=0, p=2, bits=10),
    lambda: T.lower_bound_holder(d=1, s=-1, p=2, bits=10),
    lambda: T.lower_bound_holder(d=1.5, s=1, p=2, bits=10),
    lambda: T.lower_bound_holder(d=1, s=1, p=2, pdim=0),
    lambda: T.lower_bound_holder(d=1, s=1, p=2),
    lambda: T.lower_bound_monotone(d=0, p=2, bits=3),
    lambda: T.minimal_weights_for_error(1e-3, depth=0),
    lambda: T.minimal_bits_for_error(0.0),
    lambda: T.pdim_upper([0], 1),
    lambda: T.pdim_upper([4], 1, activation="sigmoid"),
    lambda: T.deterministic_deviation(0, 4),
    lambda: T.deterministic_deviation(8, 4, alpha=0.1),
    lambda: T.quantize(np.eye(3), 0),
    lambda: T.holder_family(0, 1, 1, 2),
])
def test_invalid_arguments_raise_config_error(call):
    with pytest.raises(ConfigError) as info:
        call()
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value) and "=" in str(info.value)

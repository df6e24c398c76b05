"""Regression tests for the fixes of issue 13 (each failed on the code before the fix)."""
import json
import math
import time

import numpy as np
import pytest

import qornn.theory as T
from qornn.cli.main import main
from qornn.theory.bound import SOURCES, Source


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_monotone_in_p_pdim_route():
    # before: p=8 -> 1.70e-6, p=64 -> 7.0e-7, p=inf -> 1.70e-6 (s=1, D=1000)
    ps = [1, 1.5, 2, 3, 8, 9.7, 64, math.inf]
    vals = [T.lower_bound_holder(d=1, s=1, p=p, pdim=1000).value for p in ps]
    assert all(a <= b for a, b in zip(vals, vals[1:])), vals
    assert vals[ps.index(64)] >= vals[ps.index(8)] > 1.6e-6
    mono = [T.lower_bound_monotone(d=3, p=p, pdim=1e4).value for p in (1, 2, 4, 7, 40)]
    assert all(a <= b for a, b in zip(mono, mono[1:])), mono


def test_pdim_below_one_is_clamped_before_optimising():
    # before: LB(pdim=0.5) = 0 while LB(1) = 1.37e-3
    a = T.lower_bound_holder(d=1, s=1, p=2, pdim=0.5)
    b = T.lower_bound_holder(d=1, s=1, p=2, pdim=1)
    assert a.value >= b.value > 1e-3
    assert a.certificate["D_used"] == 1


@pytest.mark.parametrize("key", ["pdim", "bits"])
def test_no_grid_cap(key):
    # before: d=1 with pdim=1e11 or bits=1e12 silently returned 0 (scale grid capped at 1e12)
    small = T.lower_bound_holder(d=1, s=1, p=2, **{key: 1e9}).value
    big = T.lower_bound_holder(d=1, s=1, p=2, **{key: 1e12}).value
    assert big > 0 and big / small == pytest.approx(1e-3, rel=0.03)


def test_underflowing_bound_says_so(capsys):
    b = T.lower_bound_holder(d=1, s=3, p=2, bits=1e200)
    assert b.value == 0.0 and -620 < b.log10_value < -590 and "underflow" in b.note
    assert b.to_dict()["log10_value"] == pytest.approx(b.log10_value)
    code, out, _ = run_cli(capsys, "bound", "holder", "--s", "3", "--bits", "1e200")
    assert code == 0 and "10^-6" in out and "underflow" in out
    # a trivial bound says why it is 0
    w = T.lower_bound_boolean_window(bits=2 ** 10, k=10)
    assert w.value == 0 and "trivial" in w.note


def _linear_scan_t(m, bits):
    t = 0
    while t + 1 <= m and T.gv_log_size(m, t + 1) > bits * math.log(2):
        t += 1
    return t


@pytest.mark.parametrize("k,bits", [(4, 3), (6, 10), (8, 40), (10, 700), (12, 100)])
def test_boolean_window_bisection_matches_linear_scan(k, bits):
    b = T.lower_bound_boolean_window(bits=bits, k=k)
    assert b.value == pytest.approx(_linear_scan_t(2 ** k, bits) / 2 ** (k + 1))


def test_boolean_window_is_fast(capsys):
    # before: --bits 3.2e7 took 17 s and --bits 1e9 more than 10 minutes
    main(["bound", "bits", "--bits", "10"])  # warm-up: imports
    capsys.readouterr()
    t0 = time.perf_counter()
    code, out, _ = run_cli(capsys, "bound", "bits", "--bits", "1e12")
    assert code == 0 and time.perf_counter() - t0 < 1.0
    assert T.lower_bound_boolean_window(bits=1e12, k=40).value > 0


def test_pdim_upper_takes_smallest_and_lists_every_source():
    D = T.pdim_upper([32, 32], 1)
    cands = D.certificate["candidates"]
    assert {c["bound"] for c in cands} == {"BHLM 2019 Thm 7, closed form", "BHLM 2019 growth function",
                                           "Anthony-Bartlett 1999 Thm 8.8"}
    assert D.value == min(c["value"] for c in cands) < max(c["value"] for c in cands)
    assert {s for c in cands for s in c["sources"]} == {"bhlm19", "anthony_bartlett99"}
    # before: the --widths lower bound omitted the BHLM source it used
    lb = T.lower_bound_holder(d=1, s=1, p=2, widths=[32, 32])
    assert set(D.sources) <= set(lb.sources) and lb.certificate["D"] == D.value


def test_kinds_follow_sources(monkeypatch):
    lb = T.lower_bound_holder(d=1, s=1, p=2, widths=[16])
    assert lb.kind == "rigorous_if_sources_verified"
    for key in ("bhlm19", "anthony_bartlett99", "haussler95"):
        monkeypatch.setitem(SOURCES, key, Source(SOURCES[key].citation, True))
    assert T.pdim_upper([16], 1).kind == "rigorous"
    assert T.lower_bound_holder(d=1, s=1, p=2, widths=[16]).kind == "rigorous"
    assert T.minimal_pdim_for_error(1e-4).kind == "rigorous"


def test_inverses_are_labelled_necessary(capsys):
    B = T.minimal_bits_for_error(1e-3, target="holder", d=1, s=2, p=2)
    assert "necessary" in B.quantity and "not sufficient" in B.quantity
    code, out, _ = run_cli(capsys, "bound", "holder", "--s", "2", "--eps", "1e-3", "--bits", "100")
    assert code == 0 and out.count("necessary (not sufficient)") == 3 and "min bits" not in out


def test_orthogonality_samples_use_their_own_alpha(capsys):
    code, out, _ = run_cli(capsys, "bound", "orthogonality", "--n", "64", "--k", "4", "--samples", "4",
                           "--seed", "3", "--json")
    data = json.loads(out)
    rng = np.random.default_rng(3)
    mats = [T.haar_orthogonal(64, rng) for _ in range(4)]
    own = max(T.deterministic_deviation(64, 4, alpha=float(np.abs(W).max())).value for W in mats)
    row = data["rows"][0]
    assert row["bound at sample alpha (max)"] == pytest.approx(own)
    assert data["sample_alpha_range"][1] == pytest.approx(max(float(np.abs(W).max()) for W in mats))
    assert "Haar typical" in next(c for c in data["columns"] if c.startswith("bound at alpha"))


@pytest.mark.parametrize("argv,needle", [
    (["bound", "holder", "--widths", "0"], "--widths=0"),
    (["bound", "holder", "--widths", "1e10"], "--widths=1e10"),
    (["bound", "holder", "--pdim", "1e300"], "pdim=1e+300"),
    (["bound", "holder", "--bits", "nan"], "bits=nan"),
    (["bound", "holder", "--bits", "100", "--plot", "h.txt"], "h.txt"),
    (["bound", "holder", "--bits", "100", "--plot", "/nonexistent/dir/h.png"], "/nonexistent/dir"),
    (["bound", "holder", "--bits", "100", "--measure", "/nonexistent.npy"], "/nonexistent.npy"),
    (["bound", "holder", "--bits", "100", "--measure", "/dev/null"], "no points"),
    (["bound", "holder", "--fat", "100", "--plot", "x.png"], "--plot needs"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, needle):
    code, out, err = run_cli(capsys, *argv)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("qornn: error: ") and needle in lines[0]


def test_huge_widths_do_not_crash(capsys):
    # before: KeyError 'D' when the lower bound was trivial
    code, out, err = run_cli(capsys, "bound", "holder", "--widths", "1000000,1000000")
    assert code == 0 and "pdim <=" in out and "Traceback" not in err

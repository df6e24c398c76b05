"""Lower bounds in L^p(mu) for discrete and sampled measures."""
import math

import numpy as np
import pytest

import qornn.theory as T
from qornn.errors import ConfigError, ShapeError
from qornn.theory.finite_classes import enumerate_relu_1d
from qornn.theory.measures import _profile_values, cell_masses


def wdist2(A, B, w):
    """Matrix of L^2(mu) distances, mu = sum_i w_i delta_{x_i}."""
    sq = (A * A) @ w
    return np.sqrt(np.maximum(sq[:, None] + ((B * B) @ w)[None, :] - 2 * (A * w) @ B.T, 0.0))


def test_discrete_measure_validation():
    with pytest.raises(ConfigError):
        T.DiscreteMeasure(np.array([[0.5], [1.5]]))
    with pytest.raises(ConfigError):
        T.DiscreteMeasure(np.array([[0.5], [0.2]]), np.array([1.0, -1.0]))
    with pytest.raises(ShapeError):
        T.lower_bound_holder(d=2, s=1, bits=10, measure=T.DiscreteMeasure(np.array([0.1, 0.2])))
    with pytest.raises(ConfigError):
        T.lower_bound_holder(d=1, s=1, bits=10, measure="counting")


def test_exact_check_on_a_grid_measure():
    """Bits route under mu = uniform on 32 grid points, checked against every 1 -> 3 -> 1 ReLU net
    with binary parameters (K = 2^10): the certified family really is r-separated in L^2(mu),
    and its exact minimax error is at least the bound."""
    x = (np.arange(32) + 0.5) / 32
    w = np.full(32, 1 / 32)
    lb = T.lower_bound_holder(d=1, s=1, p=2, bits=10, measure=T.DiscreteMeasure(x))
    cert = lb.certificate
    N, m, t = int(cert["grid_n"]), int(cert["code_length_m"]), int(cert["code_distance_t"])
    assert lb.kind == "rigorous" and m <= 14 and t == 1
    cid, val = _profile_values("holder", x.reshape(-1, 1), N, 0)
    mass = np.bincount(cid, weights=w * val ** 2, minlength=N)
    cells = np.argsort(-mass, kind="stable")[:m]
    fam = T.holder_family(N, 1.0, 1, 2.0)
    sig = (np.arange(2 ** m)[:, None] >> np.arange(m)[None, :]) & 1
    full = np.zeros((len(sig), N), dtype=int)
    full[:, cells] = sig
    F = np.array([fam.member(s_, x) for s_ in full])
    dFF = wdist2(F, F, w)
    np.fill_diagonal(dFF, np.inf)
    assert dFF.min() >= 10 ** cert["log10_r"] * (1 - 1e-9)
    G, log2k = enumerate_relu_1d(x, 3, [-24.0, 24.0], [-0.5, -6.0], [-0.02, 0.02], [0.0, 0.005])
    assert log2k == 10
    best = wdist2(F, G, w).min(axis=1)
    assert best.max() >= lb.value


def test_fine_grid_measure_is_close_to_lebesgue():
    x = (np.arange(4096) + 0.5) / 4096
    mu = T.DiscreteMeasure(x)
    for kw in (dict(bits=300), dict(bits=1000)):
        ratio = T.lower_bound_holder(d=1, s=1, p=2, measure=mu, **kw).value / \
            T.lower_bound_holder(d=1, s=1, p=2, **kw).value
        assert 0.8 < ratio < 1.25
    ratio = T.lower_bound_monotone(d=1, p=1, pdim=100, measure=mu).value / \
        T.lower_bound_monotone(d=1, p=1, pdim=100).value
    assert 0.5 < ratio < 1.25


def test_atoms_far_from_most_cells_weaken_the_bound():
    """A measure on 20 atoms: at most 20 cells carry mass, so the bits route stops at 20 bits."""
    x = np.random.default_rng(0).random((20, 1))
    mu = T.DiscreteMeasure(x)
    assert T.lower_bound_holder(d=1, s=1, p=2, bits=10, measure=mu).value > 0
    b = T.lower_bound_holder(d=1, s=1, p=2, bits=20, measure=mu)
    assert b.value == 0 and "trivial" in b.note


@pytest.mark.parametrize("name,d", [("holder", 1), ("staircase", 2), ("antichain", 2)])
def test_sampled_masses_are_lower_confidence_bounds(name, d):
    sm = T.SampledMeasure(lambda rng, n: rng.random((n, d)), n_samples=20_000, seed=4)
    for N in (4, 16):
        lcb = cell_masses(sm, name, N, d, 2.0, 0)
        cells = math.comb(N + d - 2, d - 1) if name == "antichain" else N ** d
        exact = (T.holder_bump_constants(1, d, 2.0)["psi_p"] / 4.0 ** (-d)) ** 2 / cells \
            if name == "holder" else 1.0 / N ** d
        # about 1250 (N = 4) or 78 (N = 16) samples per cell: the bounds are 0.8x or 0.3x the mass
        assert len(lcb) <= cells and (lcb <= exact * (1 + 1e-9)).all() and lcb.min() > 0.2 * exact


def test_sampled_measure_bound():
    sm = T.SampledMeasure(lambda rng, n: rng.random((n, 1)), n_samples=20_000)
    b = T.lower_bound_holder(d=1, s=1, p=2, bits=200, measure=sm)
    leb = T.lower_bound_holder(d=1, s=1, p=2, bits=200)
    assert 0 < b.value < leb.value * 1.1
    assert any("probability >= 1 - 1e-06" in a for a in b.assumptions)


def test_cli_measure_file(tmp_path, capsys):
    from qornn.cli.main import main

    pts = np.column_stack([(np.arange(512) + 0.5) / 512, np.ones(512)])
    np.savetxt(tmp_path / "mu.csv", pts, delimiter=",")
    assert main(["bound", "holder", "--bits", "300", "--measure", str(tmp_path / "mu.csv"), "--json"]) == 0
    out = capsys.readouterr().out
    assert "discrete measure with 512 atoms" in out
    np.save(tmp_path / "bad.npy", np.ones((4, 3)))
    assert main(["bound", "holder", "--bits", "300", "--measure", str(tmp_path / "bad.npy")]) == 2
    assert "3 columns" in capsys.readouterr().err

"""Constructive upper bounds for monotone functions [0,1]^d -> [0,1] in L^p (Lebesgue).

d = 1 (:func:`upper_bound_monotone_1d`): round f to N levels.

Any d (:func:`upper_bound_monotone_dyadic`, derived in docs/theory.md, section 5): refine the
dyadic cubes adaptively - a cube Q of level j < J is split into its 2^d children iff
|Q| osc(Q)^p > eta, where osc(Q) = f(top corner) - f(bottom corner) - and use the value
(f(top) + f(bottom))/2 on every leaf.  The chain lemma (on the level-j grid the oscillations
sum to at most S_j = 2^(jd) - (2^j - 1)^d, because the grid splits into S_j diagonal chains
along which they telescope) bounds both the number of leaves and the error:

    ||f - f_hat||_p^p <= 2^-p (sum_{j<J} min(eta c_j, 2^(-jd) min(1, tau_j)^(p-1) S_j) + 2^(-Jd) S_J),
    split cubes at level j: I_j <= min(2^d I_(j-1), floor(S_j / tau_j)),  tau_j = (eta 2^(jd))^(1/p),

with c_j = 2^d I_(j-1) bounding the leaves of level j (see :func:`split_counts`).

This reaches the optimal rates n^(-1/max(d, p(d-1))) (up to a log at p(d-1) = d).  Realised by
a sparse ReLU net of box indicators with ramps of vanishing width (at most (12d + 2) n_leaves + 1
parameters, see :func:`dyadic_net_weights`), or as a finite class when the leaf values are rounded.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.special import gammaln

from . import _validate as V
from .bound import Bound

_ETAS = np.geomspace(1e-40, 1.0, 600)
_LEVELS = np.unique(np.round(np.geomspace(1, 1e9, 120)))


def chain_sum(j, d: int):
    """S_j = 2^(jd) - (2^j - 1)^d: the number of diagonal chains of the level-j dyadic grid."""
    j = np.asarray(j, dtype=float)
    with np.errstate(divide="ignore"):
        return 2.0 ** (j * d) * -np.expm1(d * np.log1p(-(2.0 ** -j)))


def _max_depth(d: int) -> int:
    return int(min(60, 900 // d))


def split_counts(eta: np.ndarray, d: int, p: float, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Upper bounds on (split cubes, error^p of the leaves) at levels j = 0..depth-1 (rows: eta).

    Split cubes at level j: I_j <= min(2^d I_(j-1), floor(S_j / tau_j)), tau_j = (eta 2^(jd))^(1/p).
    Leaves at level j < J are not split, so each has osc <= min(1, tau_j) and |Q| osc^p <= eta:
    their error^p (times 2^p) is at most min(eta c_j, 2^(-jd) min(1, tau_j)^(p-1) S_j), with
    c_j = 2^d I_(j-1) (1 at j = 0) bounding their number.
    """
    eta = np.atleast_1d(np.asarray(eta, dtype=float))
    splits, leaf_err = np.zeros((len(eta), depth)), np.zeros((len(eta), depth))
    prev = np.ones(len(eta)) / 2.0 ** d    # so that level 0 allows at most one cube
    for j in range(depth):
        tau = (eta * 2.0 ** (j * d)) ** (1.0 / p)
        s_j = float(chain_sum(j, d))
        leaf_err[:, j] = np.minimum(eta * 2.0 ** d * prev,
                                    2.0 ** (-j * d) * np.minimum(1.0, tau) ** (p - 1) * s_j)
        prev = np.minimum(2.0 ** d * prev, np.where(tau < 1, np.floor(s_j / tau), 0.0))
        splits[:, j] = prev
    return splits, leaf_err


def _error_p(eta, d: int, p: float, J: int) -> np.ndarray:
    """2^p times the error^p bound for depth J (vectorised over eta)."""
    _, leaf_err = split_counts(eta, d, p, J)
    return leaf_err.sum(axis=1) + 2.0 ** (-J * d) * float(chain_sum(J, d))


@lru_cache(maxsize=64)
def _table(d: int, p: float):
    """For every (eta, J): number of leaves, tree nodes and 2^p times the error^p bound."""
    depth = _max_depth(d)
    splits, leaf_err = split_counts(_ETAS, d, p, depth)
    zero = np.zeros((len(_ETAS), 1))
    cum, cum_err = (np.concatenate([zero, np.cumsum(a, axis=1)], axis=1) for a in (splits, leaf_err))
    J = np.arange(depth + 1)
    leaves = 1.0 + (2.0 ** d - 1.0) * cum
    nodes = 1.0 + 2.0 ** d * cum
    err_p = cum_err + (2.0 ** (-J * d) * chain_sum(J, d))[None, :]
    return leaves, nodes, err_p


def dyadic_net_weights(n_leaves, d: int, J):
    """Nonzero parameters of the box net with n_leaves boxes of a depth-J dyadic tree: each box
    unit (4d weights + bias) reads 4d ramp units (2 parameters each) and feeds the output.
    Ramps either belong to one box (8d per box) or are shared on the level-J grid
    (2 units per grid point and coordinate); the smaller count is used."""
    n = np.asarray(n_leaves, dtype=float)
    own = (12 * d + 2) * n + 1
    shared = 4 * d * (2.0 ** np.asarray(J, dtype=float) + 1) + (4 * d + 2) * n + 1
    return np.minimum(own, shared)


def dyadic_layers(n_leaves: int, d: int, J: int) -> tuple[list[int], list[int]]:
    """(units, parameters) per layer of the cheaper box net of :func:`dyadic_net_weights`."""
    n = int(n_leaves)
    if (12 * d + 2) * n <= 4 * d * (2 ** J + 1) + (4 * d + 2) * n:
        return [4 * d * n, n, 1], [8 * d * n, (4 * d + 1) * n, n + 1]
    ramps = 2 * d * (2 ** J + 1)
    return [ramps, n, 1], [2 * ramps, (4 * d + 1) * n, n + 1]


def upper_bound_monotone_dyadic(eta: float, J: int, d: int, p: float = 2.0,
                                levels: int | None = None) -> Bound:
    """Adaptive dyadic approximation with threshold ``eta`` and depth ``J`` (module docstring);
    with ``levels`` = N_v the leaf values are rounded to {0, 1/N_v, .., 1} (+ 1/(2 N_v)) and
    the class is finite: log2 |G| <= nodes + 1 + n_leaves log2(N_v + 1)."""
    eta, d = V.positive_real("eta", eta), V.dimension(d)
    J, p = V.positive_int("J", J, minimum=0), V.p_norm(p, allow_inf=False)
    cum = split_counts(np.array([eta]), d, p, J)[0].sum() if J else 0.0
    leaves, nodes = 1 + (2 ** d - 1) * cum, 1 + 2 ** d * cum
    value = 0.5 * float(_error_p(np.array([eta]), d, p, J)[0]) ** (1 / p)
    units, params = dyadic_layers(leaves, d, J)
    cert = {"eta": eta, "J": J, "n_leaves": leaves, "W": float(dyadic_net_weights(leaves, d, J)),
            "units": units, "params": params}
    if levels is not None:
        levels = V.positive_int("levels", levels)
        value += 0.5 / levels
        cert["bits"] = nodes + 1 + leaves * math.log2(levels + 1)
    return Bound(value=float(value), kind="rigorous", quantity="worst-case error (upper bound)",
                 exponent=-1.0 / max(d, p * (d - 1)), complexity="n_leaves",
                 assumptions=(f"monotone [0,1]^{d} -> [0,1]", f"L^{p:g}([0,1]^{d}, Lebesgue)",
                              "sparse ReLU net of box indicators (steep ramps)" if levels is None
                              else "finite class: dyadic tree + rounded leaf values"),
                 certificate=cert)


def upper_bound_monotone_1d(N: int, p: float = 2.0, grid: int | None = None) -> Bound:
    """Monotone f: [0,1] -> [0,1] rounded to N levels: error <= 1/(2N).

    Real weights: a ReLU net of widths [2N] gets within 1/(2N) + any eps' in L^p (steep
    ramps), so inf_g <= 1/(2N).  With ``grid`` = G, the N thresholds are rounded to the grid
    {0, 1/G, .., 1}: error <= 1/(2N) + (1/(2G))^(1/p) with log2 C(N + G, N) bits.
    """
    N, p = V.positive_int("N", N), V.p_norm(p, allow_inf=False)
    if grid is None:
        return Bound(value=0.5 / N, kind="rigorous", quantity="worst-case error (upper bound)",
                     exponent=-1.0, complexity="N", assumptions=("monotone, d = 1",),
                     certificate={"widths": [2 * N], "W": 6 * N + 1})
    G = V.positive_int("grid", grid)
    bits = (gammaln(N + G + 1) - gammaln(N + 1) - gammaln(G + 1)) / math.log(2)
    return Bound(value=0.5 / N + (0.5 / G) ** (1 / p), kind="rigorous",
                 quantity="worst-case error (upper bound)", complexity="bits",
                 assumptions=("monotone, d = 1",), certificate={"bits": float(bits), "N": N, "G": G})


def upper_bound_monotone_for_weights(W: float, d: int, p: float = 2.0) -> Bound | None:
    """Best construction with at most W parameters (d = 1: also the [2N] ramp net)."""
    W, d, p = V.size("W", W), V.dimension(d), V.p_norm(p, allow_inf=False)
    leaves, _, err_p = _table(d, p)
    ok = dyadic_net_weights(leaves, d, np.arange(leaves.shape[1])[None, :]) <= W
    best = None
    if ok.any():
        i, j = np.unravel_index(int(np.argmin(np.where(ok, err_p, np.inf))), err_p.shape)
        best = upper_bound_monotone_dyadic(float(_ETAS[i]), int(j), d, p)
    if d == 1 and W >= 7:
        ramp = upper_bound_monotone_1d(int((W - 1) // 6), p)
        best = ramp if best is None or ramp.value < best.value else best
    return best


def upper_bound_monotone_for_bits(bits: float, d: int, p: float = 2.0) -> Bound | None:
    """Best finite dyadic class with at most ``bits`` bits (leaf values rounded to N_v levels)."""
    bits, d, p = V.size("bits", bits), V.dimension(d), V.p_norm(p, allow_inf=False)
    leaves, nodes, err_p = _table(d, p)
    best, arg = math.inf, None
    for nv in _LEVELS:
        ok = nodes + 1 + leaves * math.log2(nv + 1) <= bits
        if not ok.any():
            break
        val = 0.5 * np.where(ok, err_p, np.inf).min() ** (1 / p) + 0.5 / nv
        if val < best:
            idx = np.unravel_index(int(np.argmin(np.where(ok, err_p, np.inf))), err_p.shape)
            best, arg = val, (float(_ETAS[idx[0]]), int(idx[1]), int(nv))
    return None if arg is None else upper_bound_monotone_dyadic(arg[0], arg[1], d, p, levels=arg[2])

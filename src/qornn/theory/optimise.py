"""Choose the packing family (grid size n, code length m, code distance t) that gives the best
lower bound, exactly over a fixed lattice of candidates.

Every candidate gives a valid bound, so the choice only affects tightness.  The lattice does
not depend on the size of the class (pdim, bits) nor on p, and the value of each candidate is
non-increasing in the size and non-decreasing in p, so the returned maximum is exactly monotone
in both (a property test checks this).  The search is exact although the lattice is infinite:
candidates below a size-dependent cut-off are provably infeasible, and the search stops once
the largest separation still available, r_max(n)/2, is below the best value found.

Candidates are evaluated in log space (``route(log_M, log_r, log_B, floor) -> log value``), so a
bound far below the double-precision range is still found.  ``floor`` is the best value known so
far (from another route or exponent): candidates whose separation cannot beat it are skipped,
which changes the speed of the search, never its result.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
from scipy.special import gammaln

from .codes import LN2, binary_entropy
from .measures import cell_masses, n_cells, scale_lattice
from .packing import holder_bump_constants

_FRACTIONS = np.geomspace(1e-8, 0.5, 160)        # code distance t = fraction * code length
_SMALL, _RATIO, _CHUNK = 256, 1.02, 64           # lattice: 1..256, then ratio 1.02
_MAX_CHUNKS = 20000

Route = Callable[[np.ndarray, np.ndarray, np.ndarray, float], np.ndarray]


def lattice_chunks(n_start: float, lo: int = 1):
    """Increasing chunks of the lattice {lo..256} U {round(256 * 1.02^j)} from about n_start."""
    n_start = max(float(n_start), float(lo))
    if n_start <= _SMALL:
        first = np.arange(int(n_start), _SMALL + 1, dtype=float)
        if len(first):
            yield first
        j = 1
    else:
        j = max(1, int(math.floor(math.log(n_start / _SMALL) / math.log(_RATIO))))
    while True:
        yield np.unique(np.round(_SMALL * _RATIO ** np.arange(j, j + _CHUNK, dtype=float)))
        j += _CHUNK


def lebesgue_profile(name: str, n: np.ndarray, d: int, p: float, s: float, R: float):
    """(M, log q, log a, log B): code length M, separation r = a (t/q)^(1/p) (a for p = inf)
    and envelope B of the family on the grid of size n, Lebesgue measure."""
    if name == "holder":
        c = holder_bump_constants(s, d, p)
        log_amp = math.log(c["A_over_R"] * R) - s * np.log(n)
        log_a = log_amp + math.log(c["psi_inf"] if math.isinf(p) else c["psi_p"])
        return n ** d, d * np.log(n), log_a, log_amp + math.log(c["psi_inf"])
    if name == "staircase":
        log_a = -np.log(2.0 * d * n)
        return n ** d, d * np.log(n), log_a, log_a
    m = np.floor(np.exp(gammaln(n + d - 1) - gammaln(d) - gammaln(n)) + 0.5)
    return m, d * np.log(n), np.zeros_like(n), np.zeros_like(n)


def _code_sizes(M: np.ndarray, fractions: np.ndarray):
    """(t, ln size) for code length M (column) and distance fractions (row), Gilbert-Varshamov."""
    t = np.maximum(1.0, np.floor(fractions[None, :] * M[:, None]))
    t = np.minimum(t, np.maximum(1.0, np.floor(M[:, None] / 2)))
    frac = (t - 1.0) / M[:, None]
    log_m = np.where(t == 1, M[:, None] * LN2, M[:, None] * LN2 * (1.0 - binary_entropy(frac)))
    return t, log_m


def _lebesgue_candidates(name, n, d, p, s, R):
    M, log_q, log_a, log_b = lebesgue_profile(name, n, d, p, s, R)
    t, log_m = _code_sizes(M, _FRACTIONS)
    if math.isinf(p):
        log_r = np.broadcast_to(log_a[:, None], t.shape)
    else:
        log_r = log_a[:, None] + (np.log(t) - log_q[:, None]) / p
    shape = t.shape
    return {"n": np.broadcast_to(n[:, None], shape), "t": t, "m": np.broadcast_to(M[:, None], shape),
            "log_m": log_m, "log_r": log_r, "log_B": np.broadcast_to(log_b[:, None], shape)}


def _log_rmax(name, n, d, p, s, R) -> float:
    """ln of the largest separation any code distance gives at grid size n (t <= M/2)."""
    M, log_q, log_a, _ = lebesgue_profile(name, np.array([float(n)]), d, p, s, R)
    if math.isinf(p):
        return float(log_a[0])
    return float(log_a[0] + (math.log(max(1.0, math.floor(M[0] / 2))) - log_q[0]) / p)


def _pick(cands: dict, vals: np.ndarray, best: dict | None, floor: float) -> dict | None:
    i = int(np.argmax(vals))
    v = float(vals.flat[i])
    if v == -math.inf or v <= floor or (best is not None and v <= best["log_value"]):
        return best
    return {"log_value": v, **{k: float(np.asarray(a).flat[i]) for k, a in cands.items()}}


def best_lebesgue(name: str, d: int, p: float, s: float, R: float, route: Route,
                  min_code_length: float, floor: float = -math.inf) -> dict | None:
    """Best candidate under Lebesgue measure with a value above ``floor`` (None if there is
    none); ``min_code_length``: shorter codes are proved infeasible for the route."""
    if name == "antichain":
        # C(n+d-2, d-1) <= (n+d-2)^(d-1)/(d-1)! is below the cut-off for every smaller n
        n_start = (math.factorial(d - 1) * min_code_length) ** (1.0 / (d - 1)) - (d - 2)
    else:
        n_start = min_code_length ** (1.0 / d) / 1.05
    best = None
    for i, n in enumerate(lattice_chunks(n_start, lo=2 if name == "antichain" else 1)):
        c = _lebesgue_candidates(name, n, d, p, s, R)
        level = floor if best is None else max(floor, best["log_value"])
        best = _pick(c, route(c["log_m"], c["log_r"], c["log_B"], level), best, floor)
        level = floor if best is None else max(floor, best["log_value"])
        if level > -math.inf and _log_rmax(name, n[-1] * _RATIO + 1, d, p, s, R) - LN2 <= level:
            return best
        if i > _MAX_CHUNKS:
            return best
    return best


def _measure_candidates(measure, name, n, d, p, s, R):
    k = math.ceil(s) - 1 if name == "holder" else 0
    v = cell_masses(measure, name, int(n), d, p, k)
    if len(v) == 0:
        return None
    if name == "holder":
        c = holder_bump_constants(s, d, p)
        log_b = math.log(c["A_over_R"] * R * c["psi_inf"]) - s * math.log(n)
    else:
        log_b = -math.log(2.0 * d * n) if name == "staircase" else 0.0
    cs = np.concatenate([[0.0], np.cumsum(v)])
    M = np.unique(np.round(np.geomspace(1, len(v), 48)))
    t, log_m = _code_sizes(M, np.geomspace(1e-6, 0.5, 60))
    Mi, ti = M[:, None].astype(np.int64), t.astype(np.int64)
    mass = cs[Mi] - cs[Mi - ti]                              # the t smallest of the M heaviest
    with np.errstate(divide="ignore"):
        log_r = log_b + np.log(mass) / p
    shape = t.shape
    return {"n": np.full(shape, float(n)), "t": t, "m": np.broadcast_to(M[:, None], shape),
            "log_m": log_m, "log_r": log_r, "log_B": np.full(shape, log_b)}


def best_for_measure(measure, name: str, d: int, p: float, s: float, R: float,
                     route: Route, floor: float = -math.inf,
                     min_code_length: float = 1.0) -> dict | None:
    """Best candidate for a discrete or sampled measure (p finite): every grid size of the
    measure's lattice, the m heaviest cells, every code distance; branch and bound on r.
    Grids with fewer cells than ``min_code_length`` are proved infeasible and skipped."""
    sizes = [n for n in scale_lattice(measure, name, d) if n_cells(name, int(n), d) >= min_code_length]
    parts = [c for n in sizes if (c := _measure_candidates(measure, name, n, d, p, s, R)) is not None]
    if not parts:
        return None
    cands = {k: np.concatenate([np.ravel(c[k]) for c in parts]) for k in parts[0]}
    order = np.argsort(-cands["log_r"], kind="stable")
    cands = {k: a[order] for k, a in cands.items()}
    best = None
    for i in range(0, len(order), 8192):
        level = floor if best is None else max(floor, best["log_value"])
        if cands["log_r"][i] - LN2 <= level:
            break
        chunk = {k: a[i:i + 8192] for k, a in cands.items()}
        best = _pick(chunk, route(chunk["log_m"], chunk["log_r"], chunk["log_B"], level), best, floor)
    return best

"""Constructive upper bounds for Holder balls: explicit networks and finite classes that reach
a given worst-case error (proofs in docs/theory.md, section 5).

Real-weight ReLU networks (a bound on inf over the architecture, for every f in the ball):

* :func:`upper_bound_holder_interp_1d` - piecewise-linear interpolation on N cells, widths [N];
* :func:`upper_bound_holder_boxes` - piecewise constant on the N^d grid built from box
  indicators with steep ramps (L^p, p < inf, Lebesgue), a sparse net with two hidden layers.

Finite classes (storage in bits, compared with the counting route):

* :func:`upper_bound_holder_taylor` - piecewise Taylor polynomials with rounded coefficients;
* :func:`upper_bound_holder_quantized` - piecewise constant with rounded values (s <= 1).

``*_for_weights`` / ``*_for_bits`` return the best construction within a budget.
"""
from __future__ import annotations

import math
from itertools import product

import numpy as np
from scipy.special import gammaln

from ..errors import ConfigError
from . import _validate as V
from .bound import Bound, kind_from_sources

_N_LATTICE = np.unique(np.concatenate([np.arange(1, 257), np.round(256 * 1.05 ** np.arange(1, 700))]))


def _ub(value, quantity, assumptions, certificate, complexity="N", exponent=None) -> Bound:
    # derived here from elementary facts only: no source, hence kind "rigorous"
    return Bound(value=float(value), kind=kind_from_sources(()), quantity=quantity, exponent=exponent,
                 complexity=complexity, assumptions=tuple(assumptions), certificate=certificate)


def upper_bound_lipschitz_interp(N: int, p: float = 2.0, R: float = 1.0) -> Bound:
    """Exact worst case of piecewise-linear interpolation (N equal cells) over the R-Lipschitz
    functions on [0,1]: R / (2 (p+1)^(1/p) N)  (p = inf: R / (2N)).  ReLU net widths [N]."""
    N, p, R = V.positive_int("N", N), V.p_norm(p), V.positive_real("R", R)
    c = 0.5 if math.isinf(p) else 0.5 / (p + 1) ** (1 / p)
    return _ub(R * c / N, "worst-case error (upper bound)", ("H^1_1(R): R-Lipschitz on [0,1]",),
               {"widths": [N], "W": 3 * N + 1}, exponent=-1.0)


def upper_bound_c11_interp(N: int, R: float = 1.0) -> Bound:
    """Interpolation of f with R-Lipschitz derivative (H^2_1(R)): sup error <= R h^2 / 8."""
    N, R = V.positive_int("N", N), V.positive_real("R", R)
    return _ub(R / (8 * N * N), "worst-case error (upper bound)", ("H^2_1(R)",),
               {"widths": [N], "W": 3 * N + 1}, exponent=-2.0)


def upper_bound_holder_interp_1d(N: int, s: float, p: float = 2.0, R: float = 1.0) -> Bound:
    """Piecewise-linear interpolation on N cells (h = 1/N) of f in H^s_1(R), a ReLU net with
    widths [N] (W = 3N + 1).  Sup error: R (h/2)^s (s <= 1), R h^s / 2 (1 < s < 2),
    R h^2 / 8 (s >= 2); for s = 1 and p < inf the exact L^p worst case R / (2 (p+1)^(1/p) N)."""
    N, s, p, R = V.positive_int("N", N), V.smoothness(s), V.p_norm(p), V.positive_real("R", R)
    h = 1.0 / N
    if s == 1 and not math.isinf(p):
        return upper_bound_lipschitz_interp(N, p, R)
    value = R * (h / 2) ** s if s <= 1 else (R * h ** s / 2 if s < 2 else R * h * h / 8)
    return _ub(value, "worst-case error (upper bound)",
               (f"H^{s:g}_1(R={R:g})", "sup norm (hence every L^p of a probability measure)"),
               {"widths": [N], "W": 3 * N + 1}, exponent=-min(s, 2.0))


def boxes_layers(N: int, d: int) -> tuple[list[int], list[int]]:
    """(units, parameters) per layer of the box-indicator net on the N^d grid (last = output):
    2d(N+1) ramp units (weight + bias each), N^d box units (4d weights + bias), output."""
    cells = N ** d
    return [2 * d * (N + 1), cells, 1], [4 * d * (N + 1), cells * (4 * d + 1), cells + 1]


def upper_bound_holder_boxes(N: int, s: float, d: int, p: float = 2.0, R: float = 1.0) -> Bound:
    """f ~ sum_c f(centre_c) 1_c on the N^d grid, each 1_c ~ relu(sum_j T_j(x_j) - (d-1)) with
    trapezoids T_j of 4 ramps of width delta -> 0.  L^p error (p < inf, Lebesgue) <= R (h/2)^s
    (s <= 1) or R d h / 2 (s > 1), plus a term that vanishes with delta."""
    N, s, d, R = V.positive_int("N", N), V.smoothness(s), V.dimension(d), V.positive_real("R", R)
    p = V.p_norm(p, allow_inf=False)
    h = 1.0 / N
    value = R * (h / 2) ** s if s <= 1 else R * d * h / 2
    units, params = boxes_layers(N, d)
    return _ub(value, "worst-case error (upper bound)",
               (f"H^{s:g}_{d}(R={R:g})", f"L^{p:g}([0,1]^{d}, Lebesgue): steep ramps",
                "sparse ReLU net, 2 hidden layers"),
               {"N": N, "W": int(sum(params)), "units": units, "params": params},
               complexity="W", exponent=-min(s, 1.0) / d)


def upper_bound_holder_quantized(N: int, s: float, d: int, delta: float, R: float = 1.0) -> Bound:
    """Piecewise constant on the N^d grid, value = f(cell centre) rounded to a multiple of delta.
    For s <= 1, sup error <= R (h/2)^s + delta/2 with N^d log2(floor(2R/delta) + 2) bits."""
    N, s, d = V.positive_int("N", N), V.smoothness(s), V.dimension(d)
    if s > 1:
        raise ConfigError(f"s={s} is not allowed here; this construction needs 0 < s <= 1")
    delta, R = V.positive_real("delta", delta), V.positive_real("R", R)
    bits = N ** d * math.log2(math.floor(2 * R / delta) + 2)
    return _ub(R * (0.5 / N) ** s + delta / 2, "worst-case sup error (upper bound)",
               (f"H^{s:g}_{d}(R), s <= 1",), {"bits": bits, "N": N}, complexity="bits")


def _taylor_terms(s: float, d: int) -> tuple[int, np.ndarray, np.ndarray]:
    """(k, |beta|, ln beta!) for every multi-index |beta| <= k, s = k + alpha."""
    k = math.ceil(s) - 1
    betas = [b for b in product(range(k + 1), repeat=d) if sum(b) <= k]
    order = np.array([sum(b) for b in betas], dtype=float)
    log_fact = np.array([sum(gammaln(np.array(b, float) + 1)) for b in betas])
    return k, order, log_fact


def _taylor_bits_per_cell(N, delta, R, s, d):
    """Bits per cell for step delta (vectorised over N and delta of equal shape)."""
    _, order, log_fact = _taylor_terms(s, d)
    h2 = 0.5 / np.asarray(N, float)[..., None]
    ratio = R * h2 ** order * np.exp(-log_fact) / np.asarray(delta, float)[..., None]
    return np.log2(2 * np.floor(ratio + 0.5) + 1).sum(axis=-1)


def _taylor_error(N, delta, R, s, d):
    k, order, _ = _taylor_terms(s, d)
    h2 = 0.5 / np.asarray(N, float)
    return R * d ** k * h2 ** s / math.factorial(k) + len(order) * np.asarray(delta, float) / 2


def upper_bound_holder_taylor(N: int, s: float, d: int, delta: float, R: float = 1.0) -> Bound:
    """Finite class: on each cell of the N^d grid, the degree-k Taylor polynomial of f at the
    centre z_c with coefficient a_beta rounded to a multiple of delta (h/2)^(-|beta|).
    Sup error <= R d^k (h/2)^s / k! + C(k+d, d) delta / 2;  bits = N^d sum_beta
    log2(2 floor(R (h/2)^|beta| / (beta! delta) + 1/2) + 1)."""
    N, s, d = V.positive_int("N", N), V.smoothness(s), V.dimension(d)
    delta, R = V.positive_real("delta", delta), V.positive_real("R", R)
    bits = float(N) ** d * float(_taylor_bits_per_cell(np.array(N), np.array(delta), R, s, d))
    return _ub(float(_taylor_error(N, delta, R, s, d)), "worst-case sup error (upper bound)",
               (f"H^{s:g}_{d}(R={R:g})", "finite class: piecewise Taylor polynomials, rounded"),
               {"N": N, "delta": delta, "bits": bits}, complexity="bits", exponent=-s / d)


def upper_bound_holder_for_bits(bits: float, s: float, d: int, R: float = 1.0) -> Bound:
    """Best :func:`upper_bound_holder_taylor` with at most ``bits`` bits (grid N on a fixed
    lattice, delta by bisection), so the value is non-increasing in ``bits``."""
    bits, s, d, R = V.size("bits", bits), V.smoothness(s), V.dimension(d), V.positive_real("R", R)
    N = _N_LATTICE[_N_LATTICE ** d <= bits]
    if len(N) == 0:
        raise ConfigError(f"bits={bits:g} is too small for a construction (needs >= 1)")
    per_cell = bits / N ** d
    lo, hi = np.full(len(N), -60.0), np.full(len(N), math.log(4 * R) + 1)  # log delta
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        ok = _taylor_bits_per_cell(N, np.exp(mid), R, s, d) <= per_cell
        hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
    err = _taylor_error(N, np.exp(hi), R, s, d)
    i = int(np.argmin(err))
    return upper_bound_holder_taylor(int(N[i]), s, d, float(np.exp(hi[i])), R)


def upper_bound_holder_for_weights(W: float, s: float, d: int, p: float = 2.0,
                                   R: float = 1.0) -> Bound | None:
    """Best real-weight ReLU construction with at most W parameters: interpolation (d = 1) or
    the box net (d >= 2, p < inf); None if none fits (or d >= 2 with p = inf)."""
    W = V.size("W", W)
    if d == 1:
        N = int((W - 1) // 3)
        return upper_bound_holder_interp_1d(N, s, p, R) if N >= 1 else None
    if math.isinf(p):
        return None
    N = max(1, int((W / (4 * d + 2)) ** (1.0 / d)))
    while N > 1 and sum(boxes_layers(N, d)[1]) > W:
        N -= 1
    while sum(boxes_layers(N + 1, d)[1]) <= W:
        N += 1
    return upper_bound_holder_boxes(N, s, d, p, R) if sum(boxes_layers(N, d)[1]) <= W else None

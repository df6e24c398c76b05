"""The fat-shattering route (Proposition F): the general lower bound of Achour, Foucault,
Gerchinovitz & Malgouyres (NeurIPS 2022, arXiv:2206.04360) for any probability measure mu,
with every constant explicit.

The paper bounds sup_f inf_g ||f - g||_{L^p(mu)} from the packing number of F, the range of F
and the fat-shattering dimension of G, through an L^p(mu) entropy estimate of Mendelson (2002)
whose constants are not explicit.  We replace that estimate by a re-proved one
(docs/theory.md, section 2): a Chernoff bound turns an L^p(mu) packing of [0,1]-valued
functions into an l^inf packing on n sample points, and the combinatorial lemma of Alon,
Ben-David, Cesa-Bianchi & Haussler (1997, Lemma 3.5) bounds that packing by the
fat-shattering dimension.  Result:

**Proposition F.**  Let f_1..f_M satisfy f_0 <= f_i <= f_0 + B mu-a.e. and
||f_i - f_j||_{L^p(mu)} >= r (i != j), 1 <= p < inf.  For eta in (0, r) put eta' = eta/B,
theta = 1/2, gamma = theta^(1/p) eta', b = floor(2/gamma) + 1,
n = max(1, ceil((2 ln M - ln 2) / (eta'^p phi(theta)))) with phi(t) = t ln t - t + 1, and
k = fat_{theta^(1/p) eta / 4}(G).  If  ln M >= ln 2 + ceil(log2 y) ln(n b^2)  with
y = sum_{i=1}^{k} C(n, i) b^i, then  sup_f inf_{g in G} ||f - g||_{L^p(mu)} >= (r - eta)/2.

Fat-shattering dimensions are integers, and fat_gamma(G) <= Pdim(G) for every gamma, so a
pseudo-dimension bound D can be used for ``fat``.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from . import _validate as V
from .bound import Bound, from_log, kind_from_sources
from .codes import LN2
from .packing import Family

THETA = 0.5
PHI_THETA = THETA * math.log(THETA) - THETA + 1.0   # Chernoff exponent phi(1/2) = 0.1534
_BISECTION_STEPS = 36
REFERENCES = ("achour22", "abch97", "mendelson02")


def log_y_upper(log_n, log_b, k):
    """Upper bound on ln sum_{i=1}^{k} C(n, i) b^i (vectorised, k >= 1):
    n ln(1 + b), and k (ln b + 1 + ln(n/k)) when k < n (from sum_{i<=k} C(n,i) <= (en/k)^k)."""
    log_n, log_b, k = np.broadcast_arrays(np.asarray(log_n, float), np.asarray(log_b, float),
                                          np.asarray(k, float))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        whole = np.exp(log_n) * np.log1p(np.exp(log_b))
        log_k = np.log(np.maximum(k, 1.0))
        small = k * (log_b + 1.0 + log_n - log_k)
    return np.where(log_k < log_n, np.minimum(whole, small), whole)


def packing_log_bound(log_n, log_b, k):
    """ln of 2 (n b^2)^ceil(log2 y): a 2-separated set of vectors in {1..b}^n whose strong
    shattering dimension is k >= 1 has fewer elements than this (ABCH 1997, re-proved)."""
    steps = np.ceil(log_y_upper(log_n, log_b, k) / LN2)
    return LN2 + steps * (np.asarray(log_n, float) + 2.0 * np.asarray(log_b, float))


def _condition(u, log_m, log_r, log_b_env, p, fat):
    """True where eta = u r satisfies the hypothesis of Proposition F (vectorised)."""
    log_eta1 = np.log(u) + log_r - log_b_env                     # ln eta'
    log_gamma = math.log(THETA) / p + log_eta1
    log_b = np.logaddexp(math.log(2.0) - log_gamma, 0.0)         # ln(2/gamma + 1) >= ln b
    with np.errstate(divide="ignore", invalid="ignore"):
        # M' = ceil(exp(ln M)) members are used, and 2 ln M' - ln 2 <= 2 ln M + ln 2
        log_x = np.log(2.0 * log_m + LN2) - p * log_eta1 - math.log(PHI_THETA)
    log_n = np.logaddexp(log_x, 0.0)                             # ln(x + 1) >= ln ceil(x)
    k = fat(np.exp(math.log(THETA) / p + np.log(u) + log_r - math.log(4.0)))
    k = np.floor(np.broadcast_to(np.asarray(k, float), np.shape(log_n)))
    rhs = np.where(k >= 1, packing_log_bound(log_n, log_b, np.maximum(k, 1.0)), LN2)
    return log_m >= rhs


def as_fat_function(fat) -> Callable:
    """A number D (a bound on fat_gamma(G) for every gamma, e.g. a pseudo-dimension) or a
    non-increasing callable gamma -> fat_gamma(G), as a vectorised callable."""
    if callable(fat):
        scalar = np.vectorize(lambda g: float(fat(float(g))), otypes=[float])

        def vectorised(gamma):
            gamma = np.asarray(gamma, dtype=float)
            try:  # a callable written with numpy functions is called once on the whole array
                out = np.asarray(fat(gamma), dtype=float)
                if out.shape == gamma.shape:
                    return out
            except (TypeError, ValueError):
                pass
            return scalar(gamma)

        return vectorised
    D = V.positive_real("fat", fat, allow_zero=True)
    return lambda gamma: np.full(np.shape(gamma), float(math.floor(D)))


def fat_log_values(log_m, log_r, log_b_env, p: float, fat, floor: float = -np.inf) -> np.ndarray:
    """ln of the Proposition F bound for arrays of families (ln M, ln r, ln B); -inf where the
    family is too small or cannot beat ``floor`` (its value is at most r/2).
    ``fat``: a vectorised callable (see :func:`as_fat_function`).
    Bisection on eta / r in (0, 1); the hypothesis is monotone in eta."""
    arrays = np.broadcast_arrays(*(np.asarray(a, float) for a in (log_m, log_r, log_b_env)))
    out = np.full(arrays[0].shape, -np.inf)
    sel = (arrays[0] >= LN2) & (arrays[1] - LN2 > floor)
    if sel.any():
        lm, lr, lb = (a[sel] for a in arrays)
        # the value beats floor iff the hypothesis holds at eta = r - 2 exp(floor)
        u_floor = np.clip(-np.expm1(LN2 + floor - lr), 1e-300, 1.0)
        sel_ok = _condition(u_floor, lm, lr, lb, p, fat)
        if not sel_ok.any():
            return out
        lm, lr, lb = lm[sel_ok], lr[sel_ok], lb[sel_ok]
        lo, hi = np.zeros_like(lm), u_floor[sel_ok]
        for _ in range(_BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            good = _condition(mid, lm, lr, lb, p, fat)
            hi, lo = np.where(good, mid, hi), np.where(good, lo, mid)
        with np.errstate(divide="ignore"):
            vals = np.where(hi < 1, lr + np.log1p(-hi) - LN2, -np.inf)
        idx = np.flatnonzero(sel)[sel_ok]
        out.flat[idx] = vals
    return out


def proposition_f(family: Family, fat) -> Bound:
    """Proposition F applied to a certified family and a class with fat_gamma(G) <= ``fat``
    (a number, e.g. a pseudo-dimension, or a callable of gamma)."""
    p = V.p_norm(family.p, allow_inf=False)
    fn = as_fat_function(fat)
    log_v = float(fat_log_values(family.log_m, math.log(family.r), math.log(family.B), p, fn))
    value, log10, note = from_log(log_v)
    label = f"fat_gamma(G) <= {fat:g}" if not callable(fat) else "fat_gamma(G) given as a function"
    return Bound(value=value, kind=kind_from_sources(()), quantity="worst-case L^p error",
                 complexity="fat-shattering dimension",
                 assumptions=(f"L^{p:g}(mu), mu the measure of the family ({family.name})", label),
                 references=REFERENCES, log10_value=log10, note=note,
                 certificate={**family.certificate(), "route": "F (fat-shattering)",
                              "theta": THETA})

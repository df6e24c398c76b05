"""Explicit packing families with certificates (separation, envelope, size).

A *family* is a finite set {f_1..f_M} of target functions, pairwise at least ``r`` apart
in L^p(mu) (mu = Lebesgue on [0,1]^d unless stated otherwise), that all lie between a
centre ``f_0`` and ``f_0 + B`` (the *envelope*).  These are the two hypotheses of
Propositions A and B (:mod:`qornn.theory.inequalities`).  Every family here can evaluate
its members, so a test can recompute separations, envelopes and membership (Holder norms,
monotonicity) numerically.

Families are indexed by the words of a binary code of length ``m`` and minimum Hamming
distance ``t``; the code size comes from the Gilbert-Varshamov bound (:func:`gv_log_size`).

Constructions (derived in docs/theory.md, following the plan in the reference notes on
Achour et al., NeurIPS 2022, arXiv:2206.04360, whose own packings were not available):

* :func:`holder_family` - sums of disjoint scaled bumps psi(x) = prod_j (x_j(1-x_j))^(k+1);
* :func:`monotone_staircase_family` - a staircase plus small per-cell steps (rate D^(-1/d));
* :func:`monotone_antichain_family` - free values on an antichain of cells (d >= 2);
* :func:`boolean_window_family` - Boolean functions of k bits (the RNN counting bound).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

import numpy as np
from numpy.polynomial import Polynomial
from scipy.special import betaln

from ..errors import ConfigError
from . import _validate as V
from .codes import LN2, gv_log_size


# --------------------------------------------------------------------------- families
@dataclass
class Family:
    """A certified packing: M >= exp(log_m) members, pairwise >= r apart in L^p, inside
    [f_0, f_0 + B].  ``member(sigma, x)`` evaluates the member indexed by codeword sigma."""

    name: str
    p: float
    m: int            # code length
    t: int            # code minimum distance
    log_m: float      # ln(number of members) guaranteed (Gilbert-Varshamov)
    r: float          # pairwise separation in L^p(Lebesgue) for codewords at distance >= t
    B: float          # envelope width
    meta: dict[str, Any] = field(default_factory=dict)
    _member: Callable | None = None
    _center: Callable | None = None
    _distance: Callable | None = None

    def member(self, sigma, x):
        return self._member(np.asarray(sigma), np.asarray(x, dtype=float))

    def center(self, x):
        return self._center(np.asarray(x, dtype=float))

    def distance(self, sigma, sigma2) -> float:
        """Exact L^p distance between two members (closed form)."""
        return self._distance(np.asarray(sigma), np.asarray(sigma2))

    def certificate(self) -> dict[str, Any]:
        return {"family": self.name, "p": self.p, "m": self.m, "t": self.t,
                "log_M": self.log_m, "log2_M": self.log_m / LN2, "r": self.r, "B": self.B,
                **{k: v for k, v in self.meta.items() if np.isscalar(v) or isinstance(v, str)}}


def _phi(k: int) -> Polynomial:
    return Polynomial([0.0, 1.0, -1.0]) ** (k + 1)


def _sup01(poly: Polynomial) -> float:
    """max_{[0,1]} |poly|, from critical points and end points."""
    cands = [0.0, 1.0]
    if poly.degree() >= 2:
        for z in poly.deriv().roots():
            if abs(z.imag) < 1e-9 and -1e-12 <= z.real <= 1 + 1e-12:
                cands.append(min(max(z.real, 0.0), 1.0))
    return float(np.max(np.abs(poly(np.array(cands))))) * (1 + 1e-12)


def _multi_indices(d: int, total: int):
    """All beta in N^d with |beta| == total."""
    if d == 1:
        yield (total,)
        return
    for first in range(total + 1):
        for rest in _multi_indices(d - 1, total - first):
            yield (first,) + rest


def holder_bump_constants(s: float, d: int, p: float) -> dict[str, float]:
    """See :func:`_bump_constants` (cached; a fresh dict is returned)."""
    return dict(_bump_constants(V.smoothness(s), V.dimension(d), V.p_norm(p)))


@lru_cache(maxsize=256)
def _bump_constants(s: float, d: int, p: float) -> dict[str, float]:
    """Exact constants of the bump psi(x) = prod_j phi(x_j), phi(t) = (t(1-t))^(k+1).

    s = k + alpha, k integer >= 0, alpha in (0, 1].  Returns A/R (the largest amplitude
    keeping every scaled, disjoint sum of bumps in the unit Holder ball), ||psi||_p,
    ||psi||_inf.  Holder ball convention: max_{|b|<=k} ||D^b f||_inf <= R and
    |D^b f(x) - D^b f(y)| <= R ||x - y||_inf^alpha for |b| = k.
    """
    s = V.smoothness(s)
    d = V.dimension(d)
    p = V.p_norm(p)
    k = math.ceil(s) - 1
    alpha = s - k
    phi = _phi(k)
    S = [_sup01(phi.deriv(j) if j else phi) for j in range(k + 2)]
    sup_low = 0.0
    for total in range(k + 1):
        for beta in _multi_indices(d, total):
            sup_low = max(sup_low, float(np.prod([S[b] for b in beta])))
    holder = 0.0
    for beta in _multi_indices(d, k):
        u_sup = float(np.prod([S[b] for b in beta]))
        lip = 0.0
        for i in range(d):
            b2 = list(beta)
            b2[i] += 1
            lip += float(np.prod([S[b] for b in b2]))
        c_alpha = (2 * u_sup) ** (1 - alpha) * lip ** alpha
        holder = max(holder, 2 ** (1 - alpha) * c_alpha)
    a_over_r = 1.0 / max(sup_low, holder)
    psi_inf = 4.0 ** (-(k + 1) * d)
    if math.isinf(p):
        psi_p = psi_inf
    else:
        q = (k + 1) * p + 1
        psi_p = math.exp(d * betaln(q, q) / p)
    return {"k": k, "alpha": alpha, "A_over_R": a_over_r, "psi_p": psi_p, "psi_inf": psi_inf,
            "phi_deriv_sups": S}


def _ham_frac(sig, sig2, m):
    return np.count_nonzero(np.asarray(sig).ravel() != np.asarray(sig2).ravel()) / m


def holder_family(N: int, s: float, d: int, p: float, R: float = 1.0,
                  t: int | None = None) -> Family:
    """Bumps on the N^d grid: f_sigma = sum_c sigma_c A h^s psi((x - c)/h), h = 1/N.

    Certificate: f_sigma in H^s_d(R); 0 <= f_sigma <= A h^s ||psi||_inf (centre 0);
    ||f_sigma - f_sigma'||_p = A h^s ||psi||_p (Ham/N^d)^(1/p) (p = inf: A h^s ||psi||_inf).
    """
    N = V.positive_int("N", N)
    R = V.positive_real("R", R)
    c = holder_bump_constants(s, d, p)
    s, d, p = float(s), int(d), float(p)
    m = N ** d
    t = max(1, m // 8) if t is None else V.positive_int("t", t)
    h = 1.0 / N
    A = c["A_over_R"] * R
    amp = A * h ** s
    r = amp * c["psi_inf"] if math.isinf(p) else amp * c["psi_p"] * (t / m) ** (1 / p)
    k = c["k"]
    phi = _phi(k)

    def member(sigma, x, beta=None):
        x = np.atleast_2d(x) if d > 1 else np.asarray(x).reshape(-1, 1)
        sig = sigma.reshape((N,) * d) if sigma.size == m else sigma
        idx = np.clip(np.floor(x * N).astype(int), 0, N - 1)
        u = x * N - idx
        beta = (0,) * d if beta is None else beta
        val = np.ones(len(x))
        for j in range(d):
            poly = phi.deriv(beta[j]) if beta[j] else phi
            val = val * poly(u[:, j])
        scale = A * h ** (s - sum(beta))
        return scale * val * sig[tuple(idx.T)]

    def distance(s1, s2):
        frac = _ham_frac(s1, s2, m)
        if math.isinf(p):
            return amp * c["psi_inf"] * (frac > 0)
        return amp * c["psi_p"] * frac ** (1 / p)

    fam = Family(name="holder_bumps", p=p, m=m, t=t, log_m=gv_log_size(m, t), r=r,
                 B=amp * c["psi_inf"],
                 meta={"N": N, "s": s, "d": d, "R": R, "A": A, "h": h, **{
                     k_: v for k_, v in c.items() if k_ != "phi_deriv_sups"}},
                 _member=member, _center=lambda x: np.zeros(np.atleast_2d(x).shape[0] if d > 1
                                                           else np.asarray(x).size),
                 _distance=distance)
    fam.derivative = member  # member(sigma, x, beta) evaluates D^beta f_sigma
    return fam


def monotone_staircase_family(N: int, d: int, p: float, t: int | None = None) -> Family:
    """f_sigma(x) = (sum_j i_j(x)) / (dN) + sigma_c(x) / (2dN) on the N^d grid (i_j: cell index).

    Non-decreasing in each coordinate (a step to a neighbouring cell raises the base by
    1/(dN) > 1/(2dN)), values in [0, 1]; centre = staircase, envelope B = 1/(2dN),
    ||f_sigma - f_sigma'||_p = (1/(2dN)) (Ham/N^d)^(1/p).
    """
    N = V.positive_int("N", N)
    d = V.dimension(d)
    p = V.p_norm(p)
    m = N ** d
    t = max(1, m // 8) if t is None else V.positive_int("t", t)
    B = 1.0 / (2 * d * N)
    r = B if math.isinf(p) else B * (t / m) ** (1 / p)

    def cells(x):
        x = np.atleast_2d(x) if d > 1 else np.asarray(x).reshape(-1, 1)
        return np.clip(np.floor(x * N).astype(int), 0, N - 1)

    def center(x):
        return cells(x).sum(axis=1) / (d * N)

    def member(sigma, x):
        idx = cells(x)
        sig = sigma.reshape((N,) * d)
        return idx.sum(axis=1) / (d * N) + sig[tuple(idx.T)] * B

    def distance(s1, s2):
        frac = _ham_frac(s1, s2, m)
        return B * (frac > 0) if math.isinf(p) else B * frac ** (1 / p)

    return Family(name="monotone_staircase", p=p, m=m, t=t, log_m=gv_log_size(m, t), r=r, B=B,
                  meta={"N": N, "d": d}, _member=member, _center=center, _distance=distance)


def antichain_size(K: int, d: int) -> int:
    """Number of cells of the K^d grid with index sum K - 1: C(K + d - 2, d - 1)."""
    return math.comb(K + d - 2, d - 1)


def monotone_antichain_family(K: int, d: int, p: float, t: int | None = None) -> Family:
    """f_sigma = 1{index sum >= K} + sum_{c in antichain} sigma_c 1_c  (d >= 2).

    The cells with index sum K - 1 form an antichain, so every f_sigma is monotone with
    values in {0, 1}; centre 1{index sum >= K}, envelope B = 1,
    ||f_sigma - f_sigma'||_p = (Ham K^-d)^(1/p).
    """
    K = V.positive_int("K", K)
    d = V.dimension(d)
    if d < 2:
        raise ConfigError(f"d={d} is not allowed for the antichain family; it needs d >= 2")
    p = V.p_norm(p)
    m = antichain_size(K, d)
    t = max(1, m // 8) if t is None else V.positive_int("t", t)
    r = 1.0 if math.isinf(p) else (t / K ** d) ** (1 / p)
    cache: dict[str, dict] = {}

    def positions() -> dict:
        """Codeword position of each antichain cell (built on first use; small K only)."""
        if "pos" not in cache:
            if m > 10 ** 6:
                raise ConfigError(f"K={K}, d={d}: the antichain has {m} cells, too many to evaluate members")
            chain = _multi_indices(d, K - 1)
            cache["pos"] = {c: i for i, c in enumerate(chain)}
        return cache["pos"]

    def cells(x):
        return np.clip(np.floor(np.atleast_2d(x) * K).astype(int), 0, K - 1)

    def center(x):
        return (cells(x).sum(axis=1) >= K).astype(float)

    def member(sigma, x):
        idx = cells(x)
        out = (idx.sum(axis=1) >= K).astype(float)
        on = np.nonzero(idx.sum(axis=1) == K - 1)[0]
        for n in on:
            out[n] = sigma[positions()[tuple(int(v) for v in idx[n])]]
        return out

    def distance(s1, s2):
        ham = np.count_nonzero(np.asarray(s1) != np.asarray(s2))
        return float(ham > 0) if math.isinf(p) else (ham / K ** d) ** (1 / p)

    return Family(name="monotone_antichain", p=p, m=m, t=t, log_m=gv_log_size(m, t), r=r, B=1.0,
                  meta={"K": K, "d": d}, _member=member, _center=center, _distance=distance)


def boolean_window_family(k: int, t: int) -> Family:
    """All Boolean functions of k input bits, metric = fraction of the 2^k inputs where two
    functions differ (= error rate under uniform inputs, any window position).

    A code of length 2^k and distance t gives members pairwise >= t / 2^k apart.
    """
    k = V.positive_int("k", k)
    m = 2 ** k
    t = V.positive_int("t", t)
    return Family(name="boolean_window", p=1.0, m=m, t=t, log_m=gv_log_size(m, t), r=t / m, B=1.0,
                  meta={"k": k},
                  _member=lambda sigma, x: sigma[np.asarray(x, dtype=int)],
                  _center=lambda x: np.zeros(len(x)),
                  _distance=lambda s1, s2: np.count_nonzero(s1 != s2) / m)

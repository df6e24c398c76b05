"""The generic lower-bound inequalities A and B (F is in :mod:`qornn.theory.fat_shattering`).

All three are explicit variants of the general L^p lower bound of Achour, Foucault,
Gerchinovitz & Malgouyres (NeurIPS 2022, arXiv:2206.04360).  Proofs: docs/theory.md.

**Proposition A** (pseudo-dimension route).  Let Pdim(G) <= D, D >= 1, and let
f_1..f_M satisfy f_0 <= f_i <= f_0 + B mu-a.e. and ||f_i - f_j||_{L^p(mu)} >= r (i != j).
With tau = B (2e)^(1/p) (e(D+1)/M)^(1/(pD)),

    sup_f inf_{g in G} ||f - g||_{L^p(mu)} >= (r - tau) / 2   whenever tau < r.

Ingredients: clipping to the envelope, ||.||_1 >= ||.||_p^p on [0,1]-valued functions,
Pdim is not increased by monotone maps (Anthony & Bartlett 1999, Thm 11.3) and Haussler's
packing bound M_1(eta) <= e(D+1)(2e/eta)^D (Haussler 1995; Anthony & Bartlett Thm 18.4).
The last two are recalled, not transcribed, so the kind is computed from those sources.

**Proposition B** (counting route).  If |G| <= 2^beta and F contains M > 2^beta functions
pairwise >= r apart in any (semi)norm (p = inf allowed), then sup_f inf_g ||f - g|| >= r/2.
Pigeonhole only.

The ``*_log_values`` functions evaluate the bounds in log space on arrays of families, so a
bound far below the double-precision range is still computed (and reported as such).
"""
from __future__ import annotations

import math

import numpy as np

from . import _validate as V
from .bound import Bound, from_log, kind_from_sources
from .codes import LN2
from .packing import Family

SOURCES_A = ("haussler95", "anthony_bartlett99")
SOURCES_B = ("gilbert_varshamov",)
REFERENCES = ("achour22",)


def haussler_log_packing(D: float, eta: float) -> float:
    """ln of Haussler's bound e(D+1)(2e/eta)^D on the L^1 packing of a Pdim-D, [0,1]-valued class."""
    D = V.positive_real("D", D)
    eta = V.positive_real("eta", eta)
    return 1.0 + math.log(D + 1) + D * (math.log(2 * math.e) - math.log(eta))


def tau_pdim(B: float, log_m: float, D: float, p: float) -> float:
    """tau = B (2e)^(1/p) (e(D+1)/M)^(1/(pD)) of Proposition A (ln M given)."""
    return B * math.exp((math.log(2 * math.e) + (1.0 + math.log(D + 1) - log_m) / D) / p)


def effective_pdim(D: float) -> float:
    """Pdim is an integer and Proposition A needs D >= 1: Pdim <= D implies Pdim <= max(1, floor D)."""
    return float(max(1, math.floor(D)))


def pdim_log_values(log_m, log_r, log_b_env, p: float, D: float, floor: float = -np.inf) -> np.ndarray:
    """ln of the Proposition A bound (r - tau)/2 on arrays of families; -inf where tau >= r."""
    D = effective_pdim(D)
    log_m, log_r, log_b_env = np.broadcast_arrays(*(np.asarray(a, float) for a in (log_m, log_r, log_b_env)))
    log_tau = log_b_env + (math.log(2 * math.e) + (1.0 + math.log(D + 1.0) - log_m) / D) / p
    gap = log_tau - log_r
    with np.errstate(divide="ignore", invalid="ignore"):
        out = log_r + np.log(-np.expm1(np.minimum(gap, 0.0))) - LN2
    return np.where(gap < 0, out, -np.inf)


def counting_log_values(log_m, log_r, bits: float, floor: float = -np.inf) -> np.ndarray:
    """ln of the Proposition B bound r/2 where ln M > bits ln 2, else -inf."""
    log_m, log_r = np.broadcast_arrays(np.asarray(log_m, float), np.asarray(log_r, float))
    return np.where(log_m > bits * LN2, log_r - LN2, -np.inf)


def _family_bound(family: Family, log_v: float, kind: str, sources, assumptions, extra) -> Bound:
    value, log10, note = from_log(log_v)
    return Bound(value=value, kind=kind, quantity="worst-case L^p error", assumptions=assumptions,
                 sources=sources, references=REFERENCES, log10_value=log10, note=note,
                 certificate={**family.certificate(), **extra})


def proposition_a(family: Family, D: float) -> Bound:
    """Proposition A applied to a certified family and a class of pseudo-dimension <= D."""
    D = effective_pdim(V.positive_real("D", D))
    p = V.p_norm(family.p, allow_inf=False)
    log_v = float(pdim_log_values(family.log_m, math.log(family.r), math.log(family.B), p, D))
    return _family_bound(
        family, log_v, kind_from_sources(SOURCES_A), SOURCES_A,
        (f"L^{p:g}(mu), mu the measure of the family ({family.name})", f"Pdim(G) <= {D:g}"),
        {"D": D, "tau": tau_pdim(family.B, family.log_m, D, p), "route": "A (pseudo-dimension)"})


def proposition_b(family: Family, log2_k: float) -> Bound:
    """Proposition B: a class with at most 2^log2_k functions and a family with M > 2^log2_k."""
    log2_k = V.positive_real("bits", log2_k, allow_zero=True)
    ok = family.log_m > log2_k * LN2
    log_v = math.log(family.r) - LN2 if ok and family.r > 0 else -math.inf
    return _family_bound(
        family, log_v, kind_from_sources(SOURCES_B), SOURCES_B,
        (f"|G| <= 2^{log2_k:g} (a model stored in {log2_k:g} bits)",
         f"distance of the family ({family.name}, p={family.p:g})"),
        {"bits": log2_k, "M_exceeds_K": ok, "route": "B (counting)"})

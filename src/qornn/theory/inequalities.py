"""The two generic lower-bound inequalities (Propositions A and B).

Both are independent, explicit variants of the general L^p lower bound of Achour,
Foucault, Gerchinovitz & Malgouyres (NeurIPS 2022, arXiv:2206.04360), whose own statement
(packing number of F, range of F, fat-shattering dimension of G, Mendelson 2002) has
non-explicit constants.  Proofs: docs/theory.md.

**Proposition A** (pseudo-dimension route).  Let Pdim(G) <= D, D >= 1, and let
f_1..f_M satisfy f_0 <= f_i <= f_0 + B mu-a.e. and ||f_i - f_j||_{L^p(mu)} >= r (i != j).
With tau = B (2e)^(1/p) (e(D+1)/M)^(1/(pD)),

    sup_f inf_{g in G} ||f - g||_{L^p(mu)} >= (r - tau) / 2   whenever tau < r.

Ingredients: clipping to the envelope, ||.||_1 >= ||.||_p^p on [0,1]-valued functions,
Pdim is not increased by monotone maps (Anthony & Bartlett 1999, Thm 11.3) and Haussler's
packing bound M_1(eta) <= e(D+1)(2e/eta)^D (Haussler 1995; Anthony & Bartlett Thm 18.4).
The last two are recalled, not transcribed: kind ``rigorous_if_sources_verified``.

**Proposition B** (counting route).  If |G| <= 2^beta and F contains M > 2^beta functions
pairwise >= r apart in any (semi)norm (p = inf allowed), then sup_f inf_g ||f - g|| >= r/2.
Pigeonhole only: kind ``rigorous``.
"""
from __future__ import annotations

import math

from . import _validate as V
from .bound import Bound
from .packing import LN2, Family


def haussler_log_packing(D: float, eta: float) -> float:
    """ln of Haussler's bound e(D+1)(2e/eta)^D on the L^1 packing of a Pdim-D, [0,1]-valued class."""
    D = V.positive_real("D", D)
    eta = V.positive_real("eta", eta)
    return 1.0 + math.log(D + 1) + D * (math.log(2 * math.e) - math.log(eta))


def tau_pdim(B: float, log_m: float, D: float, p: float) -> float:
    """tau = B (2e)^(1/p) (e(D+1)/M)^(1/(pD)) of Proposition A (ln M given)."""
    return B * math.exp((math.log(2 * math.e) + (1.0 + math.log(D + 1) - log_m) / D) / p)


def proposition_a(family: Family, D: float) -> Bound:
    """Proposition A applied to a certified family and a class of pseudo-dimension <= D."""
    D = V.positive_real("D", D)
    if D < 1:
        D = 1.0
    p = V.p_norm(family.p, allow_inf=False)
    tau = tau_pdim(family.B, family.log_m, D, p)
    value = max(0.0, (family.r - tau) / 2)
    return Bound(
        value=value, kind="rigorous_if_sources_verified", quantity="worst-case L^p error",
        complexity="pdim",
        assumptions=(f"L^{p:g}(mu), mu the measure of the family ({family.name}: Lebesgue on [0,1]^d)",
                     f"Pdim(G) <= {D:g}"),
        sources=("haussler95", "anthony_bartlett99"),
        certificate={**family.certificate(), "D": D, "tau": tau, "route": "A (pseudo-dimension)"},
    )


def proposition_b(family: Family, log2_k: float) -> Bound:
    """Proposition B: a class with at most 2^log2_k functions and a family with M > 2^log2_k."""
    log2_k = V.positive_real("bits", log2_k, allow_zero=True)
    ok = family.log_m > log2_k * LN2
    return Bound(
        value=family.r / 2 if ok else 0.0, kind="rigorous", quantity="worst-case L^p error",
        complexity="bits",
        assumptions=(f"|G| <= 2^{log2_k:g} (a model stored in {log2_k:g} bits)",
                     f"distance of the family ({family.name}, p={family.p:g})"),
        sources=("gilbert_varshamov",),
        certificate={**family.certificate(), "bits": log2_k, "M_exceeds_K": ok,
                     "route": "B (counting)"},
    )

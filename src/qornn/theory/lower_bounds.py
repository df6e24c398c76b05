"""User-facing approximation lower bounds.

For a target class F (a Holder ball or the monotone functions on [0,1]^d) and a class G of
approximants described by its pseudo-dimension (``pdim=``, or ``widths=`` of a ReLU MLP), its
fat-shattering dimension (``fat=``) and/or its storage size (``bits=``), the functions return
a :class:`Bound` on

    sup_{f in F} inf_{g in G} ||f - g||_{L^p(mu)},   mu = Lebesgue on [0,1]^d or any
                                                    DiscreteMeasure / SampledMeasure.

Routes: A (pseudo-dimension, Haussler's packing bound), F (fat-shattering, the general theorem
of Achour et al., NeurIPS 2022, arXiv:2206.04360, with re-proved constants) and B (counting).
Each is optimised over the packing family (:mod:`qornn.theory.optimise`); the best is returned
with the kind computed from the sources it depends on.  If several descriptions are given they
must describe the same class (e.g. a quantized network of that architecture).

Monotone in p: under a probability measure ||.||_q <= ||.||_p for q <= p, so routes A and F
report max over q in Q_GRID, q <= p (p = 2.2 gets the q = 2 value); route B uses p itself
(its value increases with p).  Both the size and p monotonicities are exact.
"""
from __future__ import annotations

import math

from ..errors import ConfigError
from . import _validate as V
from .bound import Bound, from_log, kind_from_sources, merge_keys
from .complexity import pdim_upper
from .fat_shattering import REFERENCES as FAT_REFERENCES
from .fat_shattering import as_fat_function, fat_log_values
from .inequalities import SOURCES_A, SOURCES_B, counting_log_values, effective_pdim, pdim_log_values
from .codes import LN2, gv_largest_distance
from .measures import as_measure
from .optimise import best_for_measure, best_lebesgue
from .packing import boolean_window_family

Q_GRID = (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 16.0, 24.0, 32.0)
_ROUTE_NAMES = {"A": "A (pseudo-dimension)", "F": "F (fat-shattering)", "B": "B (counting)"}


class ApproximatingClass:
    """What is known about G: pdim (with the sources of its value), fat, bits."""

    def __init__(self, d: int, pdim=None, fat=None, widths=None, bits=None) -> None:
        self.pdim_sources: tuple[str, ...] = ()
        self.pdim_certificate: dict = {}
        if widths is not None:
            if pdim is not None:
                raise ConfigError("give either pdim= or widths=, not both")
            b = pdim_upper(widths, d)
            pdim, self.pdim_sources, self.pdim_certificate = b.value, b.sources, b.certificate
        self.pdim = None if pdim is None else V.size("pdim", pdim)
        self.fat = fat if callable(fat) or fat is None else V.size("fat", fat)
        self.bits = None if bits is None else V.size("bits", bits, allow_zero=True)
        if self.pdim is None and self.fat is None and self.bits is None:
            raise ConfigError("no approximating class given: pass pdim=, widths=, fat= or bits=")

    def routes(self):
        """(route, q -> route function, sources, proved minimal code length) for each route."""
        out = []
        if self.pdim is not None:
            D = effective_pdim(self.pdim)
            out.append(("A", lambda q: (lambda lm, lr, lb, fl: pdim_log_values(lm, lr, lb, q, D)),
                        SOURCES_A + self.pdim_sources, 2.0 * D))
            const = as_fat_function(D)
            out.append(("F", lambda q: (lambda lm, lr, lb, fl: fat_log_values(lm, lr, lb, q, const, fl)),
                        self.pdim_sources, 2.0 * D))
        if self.fat is not None:
            fn = as_fat_function(self.fat)
            low = 1.0 if callable(self.fat) else 2.0 * max(1.0, math.floor(self.fat))
            out.append(("F", lambda q: (lambda lm, lr, lb, fl: fat_log_values(lm, lr, lb, q, fn, fl)),
                        (), low))
        if self.bits is not None:
            bits = self.bits
            out.append(("B", lambda q: (lambda lm, lr, lb, fl: counting_log_values(lm, lr, bits)),
                        SOURCES_B, max(bits, 1.0)))
        return out

    def complexity(self) -> str:
        parts = [k for k, v in (("pdim", self.pdim), ("fat", self.fat), ("bits", self.bits)) if v is not None]
        return " and ".join(parts)


def _exponents_for(route: str, p: float, measure) -> list[float]:
    """Exponents q at which a route is evaluated (most promising first; the order only
    affects speed)."""
    if route == "B" and not (measure is not None and math.isinf(p)):
        return [p]
    qs = [q for q in Q_GRID if q <= p]  # L^inf(mu) >= L^q(mu): finite-q families for p = inf
    return sorted(qs, key=lambda q: abs(math.log(q / min(p, 6.0))))


def _search(name, d, p, s, R, measure, route, make_fn, min_len, floor):
    """Best candidate of one route above ``floor`` over the allowed exponents (or None)."""
    best = None
    for q in _exponents_for(route, p, measure):
        level = floor if best is None else max(floor, best["log_value"])
        if measure is None:
            cand = best_lebesgue(name, d, q, s, R, make_fn(q), min_len, level)
        else:
            cand = best_for_measure(measure, name, d, q, s, R, make_fn(q), level, min_len)
        if cand is not None:
            best = {**cand, "q": q}
    return best


def best_over_routes(names, d, p, s, R, measure, cls: ApproximatingClass):
    """(best candidate with its route and sources, {route: log10 of the best value found that
    beat the routes tried before it, -inf if none did}).  The maximum is exact."""
    found, tried = None, {}
    for route, make_fn, sources, min_len in cls.routes():
        for name in names:
            floor = -math.inf if found is None else found["log_value"]
            cand = _search(name, d, p, s, R, measure, route, make_fn, min_len, floor)
            tried[f"{route}:{name}"] = -math.inf if cand is None else cand["log_value"] / math.log(10)
            if cand is not None:
                found = {**cand, "route": route, "family": name, "sources": sources}
    return found, tried


def _assemble(found, tried, cls, measure, assumptions, exponent, log_power) -> Bound:
    common = dict(quantity="worst-case approximation error", exponent=exponent, log_power=log_power,
                  complexity=cls.complexity())
    mu_text = "Lebesgue" if measure is None else measure.describe()
    assumptions = assumptions + (f"error in L^p(mu), mu = {mu_text}",)
    if found is None:
        return Bound(value=0.0, kind="rigorous", log10_value=-math.inf, assumptions=assumptions,
                     note="trivial bound: no packing family is larger than the class",
                     certificate={"routes_log10": tried}, **common)
    value, log10, note = from_log(found["log_value"])
    route = found["route"]
    refs = FAT_REFERENCES if route == "F" else ("achour22",)
    cert = {"route": _ROUTE_NAMES[route], "family": found["family"], "grid_n": found["n"],
            "code_length_m": found["m"], "code_distance_t": found["t"], "log_M": found["log_m"],
            "log10_r": found["log_r"] / math.log(10), "log10_B": found["log_B"] / math.log(10),
            "q_used": found["q"], "routes_log10": tried}
    if cls.pdim is not None:
        cert["D"] = cls.pdim
        cert["D_used"] = effective_pdim(cls.pdim)
    if cls.pdim_certificate:
        cert["pdim_certificate"] = cls.pdim_certificate
    if cls.bits is not None:
        cert["bits"] = cls.bits
    sources = merge_keys(found["sources"])
    return Bound(value=value, kind=kind_from_sources(sources), sources=sources, references=refs,
                 log10_value=log10, note=note, assumptions=assumptions, certificate=cert, **common)


def lower_bound_holder(*, d: int, s: float, p: float = 2.0, R: float = 1.0, pdim=None, fat=None,
                       widths=None, bits=None, measure=None) -> Bound:
    """Lower bound on sup_{f in H^s_d(R)} inf_{g in G} ||f - g||_{L^p(mu)}; rate size^(-s/d).

    >>> b = lower_bound_holder(d=1, s=1, p=2, bits=100)
    >>> b.kind, round(b.value, 6) > 0
    ('rigorous', True)
    """
    d, s, p, R = V.dimension(d), V.smoothness(s), V.p_norm(p), V.positive_real("R", R)
    mu = as_measure(measure, d)
    cls = ApproximatingClass(d, pdim=pdim, fat=fat, widths=widths, bits=bits)
    found, tried = best_over_routes(["holder"], d, p, s, R, mu, cls)
    assumptions = (f"F = Holder ball H^{s:g}_{d}(R={R:g}) on [0,1]^{d} (sup-norm convention, see docs)",)
    return _assemble(found, tried, cls, mu, assumptions, -s / d, 0.0)


def monotone_exponents(d: int, p: float, route: str = "pdim") -> tuple[float, float]:
    """(exponent, log_power) of the monotone lower bound in pdim (or bits)."""
    if d == 1 or math.isinf(p) or p * (d - 1) <= d:
        return -1.0 / d, 0.0
    e = -1.0 / (p * (d - 1))
    return e, (e if route == "pdim" else 0.0)


def sup_norm_monotone(d: int) -> Bound:
    """sup_{f in Mon_d} inf_g ||f - g||_inf >= 1/2 for every class G of continuous functions."""
    return Bound(value=0.5, kind="rigorous", quantity="worst-case sup-norm error", exponent=0.0,
                 complexity="any", references=("achour22",),
                 assumptions=(f"F = non-decreasing functions [0,1]^{d} -> [0,1]",
                              "G consists of continuous functions (e.g. any ReLU network)",
                              "sup norm (or L^inf of Lebesgue measure)"),
                 certificate={"witness": "f = 1{x_1 >= 1/2}",
                              "argument": "g continuous at x_1 = 1/2 misses 0 or 1 by >= 1/2"})


def lower_bound_monotone(*, d: int, p: float = 2.0, pdim=None, fat=None, widths=None, bits=None,
                         measure=None, continuous: bool = True) -> Bound:
    """Lower bound on sup_{f in Mon_d} inf_{g in G} ||f - g||_{L^p(mu)}, Mon_d = non-decreasing
    [0,1]^d -> [0,1]: staircase family (rate D^(-1/d)) and antichain family (d >= 2, rate
    (D log D)^(-1/(p(d-1)))), the larger.  p = inf, Lebesgue, G continuous: 1/2 for every G."""
    d, p = V.dimension(d), V.p_norm(p)
    mu = as_measure(measure, d)
    if math.isinf(p) and continuous and mu is None:
        return sup_norm_monotone(d)
    cls = ApproximatingClass(d, pdim=pdim, fat=fat, widths=widths, bits=bits)
    names = ["staircase"] + (["antichain"] if d >= 2 else [])
    found, tried = best_over_routes(names, d, p, 1.0, 1.0, mu, cls)
    e, lp = monotone_exponents(d, p, "pdim" if cls.bits is None else "bits")
    return _assemble(found, tried, cls, mu, (f"F = non-decreasing functions [0,1]^{d} -> [0,1]",), e, lp)


def lower_bound_boolean_window(*, bits: float, k: int) -> Bound:
    """Counting bound for sequence models reading binary inputs.

    Among all 2^(2^k) Boolean functions of the last k input bits, some function is computed
    wrongly on at least the returned fraction t/2^(k+1) of the 2^k windows by every model in a
    class of at most 2^bits functions; t = the largest code distance whose Gilbert-Varshamov
    code has more than 2^bits words (found by bisection).
    """
    bits = V.size("bits", bits, allow_zero=True)
    k = V.positive_int("k", k)
    if k > 40:
        raise ConfigError(f"k={k} is not allowed; window length k must be <= 40")
    m = 2 ** k
    t = gv_largest_distance(m, bits * LN2)
    common = dict(quantity="window error rate", complexity="bits", sources=SOURCES_B,
                  kind=kind_from_sources(SOURCES_B))
    if t == 0:
        return Bound(value=0.0, log10_value=-math.inf, certificate={"k": k, "bits": bits},
                     note=f"trivial bound: 2^{bits:g} >= 2^(2^{k}), the number of Boolean functions of {k} bits",
                     assumptions=(f"targets: all Boolean functions of the last k={k} input bits",), **common)
    fam = boolean_window_family(k, t)
    return Bound(value=t / (2.0 * m), certificate={**fam.certificate(), "bits": bits},
                 assumptions=(f"targets: all Boolean functions of the last k={k} input bits",
                              "error = fraction of the 2^k windows computed wrongly",
                              f"|G| <= 2^{bits:g}"), **common)

"""User-facing approximation lower bounds, their inverses and constructive upper bounds.

For a target class F (a Holder ball or the monotone functions on [0,1]^d) and a class G of
approximants described by its pseudo-dimension (``pdim=``, or ``widths=`` of a ReLU MLP)
and/or by its storage size (``bits=``), the functions return a :class:`Bound` on

    sup_{f in F} inf_{g in G} ||f - g||_{L^p([0,1]^d, Lebesgue)}.

Both routes are optimised over the packing scale and the code distance; any choice gives a
valid bound, so the optimiser only affects tightness, never validity.  If both ``pdim`` and
``bits`` are given they must describe the same class (e.g. a quantized network of that
architecture); the larger bound is returned with the kind of the route that produced it.

The rates reproduce those announced by Achour et al. (NeurIPS 2022, arXiv:2206.04360) in
the pseudo-dimension: Holder D^(-s/d); monotone D^(-1/max(d, p(d-1))) up to logs.  The
constants are ours (docs/theory.md), not the paper's.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln

from ..errors import ConfigError
from . import _validate as V
from .bound import Bound
from .complexity import mlp_param_count, pdim_upper
from .inequalities import proposition_a, proposition_b
from .packing import (LN2, Family, binary_entropy, boolean_window_family, gv_log_size,
                      holder_bump_constants, holder_family, monotone_antichain_family,
                      monotone_staircase_family)

_LAMBDAS = np.concatenate([np.geomspace(1e-8, 0.5, 160)])
_FINITE_P_FOR_SUP = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


# --------------------------------------------------------------------------- optimiser
def _profile(name: str, n: np.ndarray, d: int, p: float, s: float = 1.0, R: float = 1.0):
    """(m, q, a, B) such that r = a (t/q)^(1/p) (a alone for p = inf) for scale n."""
    n = n.astype(float)
    if name == "holder":
        c = holder_bump_constants(s, d, p)
        A = c["A_over_R"] * R
        a = A * (c["psi_inf"] if math.isinf(p) else c["psi_p"]) * n ** (-s)
        return n ** d, n ** d, a, A * c["psi_inf"] * n ** (-s)
    if name == "staircase":
        a = 1.0 / (2 * d * n)
        return n ** d, n ** d, a, a
    if name == "antichain":
        m = np.exp(gammaln(n + d - 1) - gammaln(d) - gammaln(n))
        return np.floor(m + 0.5), n ** d, np.ones_like(n), np.ones_like(n)
    raise ValueError(name)


def _make_family(name, n, t, d, p, s, R) -> Family:
    if name == "holder":
        return holder_family(int(n), s, d, p, R=R, t=int(t))
    if name == "staircase":
        return monotone_staircase_family(int(n), d, p, t=int(t))
    return monotone_antichain_family(int(n), d, p, t=int(t))


def _n_grid(name: str, d: int, m_max: float) -> np.ndarray:
    if name == "antichain":
        n_max = (math.factorial(d - 1) * m_max) ** (1.0 / (d - 1)) + d + 2
    else:
        n_max = m_max ** (1.0 / d) + 2
    n_max = max(4.0, min(n_max, 1e12))
    grid = np.unique(np.concatenate([np.arange(1, min(n_max, 300) + 1),
                                     np.round(np.geomspace(1, n_max, 700))]))
    if name == "antichain":
        grid = grid[grid >= 2]
    return grid


def _optimise(name, d, p, s, R, D=None, bits=None):
    """Best (n, t) for route A (D given) or route B (bits given); returns (value, n, t)."""
    scale = D if D is not None else bits
    n = _n_grid(name, d, 2000.0 * max(scale, 1.0) + 64)
    m, q, a, B = _profile(name, n, d, p, s, R)
    lam = _LAMBDAS[None, :]
    M = m[:, None]
    t = np.maximum(1.0, np.floor(lam * M))
    t = np.minimum(t, np.maximum(1.0, np.floor(M / 2)))
    frac = (t - 1) / M
    log_m = np.where(t == 1, M * LN2, M * LN2 * (1 - binary_entropy(frac)))
    if math.isinf(p):
        r = np.broadcast_to(a[:, None], t.shape)
    else:
        r = a[:, None] * (t / q[:, None]) ** (1 / p)
    if D is not None:
        tau = B[:, None] * np.exp((math.log(2 * math.e) + (1 + math.log(D + 1) - log_m) / D) / p)
        val = np.maximum(0.0, (r - tau) / 2)
    else:
        val = np.where(log_m > bits * LN2, r / 2, 0.0)
    i, j = np.unravel_index(int(np.argmax(val)), val.shape)
    return float(val[i, j]), int(n[i]), int(t[i, j])


def _route(name, d, p, s, R, D=None, bits=None) -> Bound | None:
    val, n, t = _optimise(name, d, p, s, R, D=D, bits=bits)
    if val <= 0:
        return None
    fam = _make_family(name, n, t, d, p, s, R)
    return proposition_a(fam, D) if D is not None else proposition_b(fam, bits)


def _resolve_pdim(pdim, widths, d):
    if widths is not None:
        if pdim is not None:
            raise ConfigError("give either pdim= or widths=, not both")
        return float(pdim_upper(widths, d).value)
    if pdim is not None:
        return V.positive_real("pdim", pdim)
    return None


def _best_of(bounds, default_assumptions, quantity, exponent, log_power, complexity):
    bounds = [b for b in bounds if b is not None]
    if not bounds:
        return Bound(value=0.0, kind="rigorous", quantity=quantity, exponent=exponent,
                     log_power=log_power, complexity=complexity,
                     assumptions=default_assumptions + ("no family beats the class: trivial bound",))
    best = max(bounds, key=lambda b: b.value)
    return Bound(value=best.value, kind=best.kind, quantity=quantity, exponent=exponent,
                 log_power=log_power, complexity=complexity,
                 assumptions=default_assumptions + best.assumptions,
                 sources=tuple(dict.fromkeys(("achour22",) + best.sources)),
                 certificate={**best.certificate,
                              "candidates": [float(b.value) for b in bounds]})


# --------------------------------------------------------------------------- Holder
def lower_bound_holder(*, d: int, s: float, p: float = 2.0, R: float = 1.0,
                       pdim: float | None = None, widths=None, bits: float | None = None) -> Bound:
    """Lower bound on sup_{f in H^s_d(R)} inf_{g in G} ||f - g||_p.

    ``pdim``/``widths``: Proposition A (any real weights; kind rigorous_if_sources_verified).
    ``bits``: Proposition B (G has at most 2^bits functions; kind rigorous).  p = inf is
    allowed (route A then uses ||.||_inf >= ||.||_q for the best finite q tried).
    Rate: (pdim or bits)^(-s/d).
    """
    d = V.dimension(d)
    s = V.smoothness(s)
    p = V.p_norm(p)
    R = V.positive_real("R", R)
    D = _resolve_pdim(pdim, widths, d)
    if bits is not None:
        bits = V.positive_real("bits", bits, allow_zero=True)
    if D is None and bits is None:
        raise ConfigError("lower_bound_holder needs pdim=, widths= or bits= to describe the approximating class")
    cands = []
    if D is not None:
        for q in (_FINITE_P_FOR_SUP if math.isinf(p) else (p,)):
            cands.append(_route("holder", d, q, s, R, D=D))
    if bits is not None:
        cands.append(_route("holder", d, p, s, R, bits=bits))
    assumptions = (f"F = Holder ball H^{s:g}_{d}(R={R:g}) on [0,1]^{d} (sup-norm convention, see docs)",
                   f"error in L^{p:g}([0,1]^{d}, Lebesgue)")
    complexity = "pdim" if bits is None else ("bits" if D is None else "pdim and bits")
    return _best_of(cands, assumptions, "worst-case approximation error", -s / d, 0.0, complexity)


# --------------------------------------------------------------------------- monotone
def monotone_exponents(d: int, p: float, route: str = "pdim") -> tuple[float, float]:
    """(exponent, log_power) of the monotone lower bound in pdim (or bits)."""
    if d == 1 or math.isinf(p) or p * (d - 1) <= d:
        return -1.0 / d, 0.0
    e = -1.0 / (p * (d - 1))
    return e, (e if route == "pdim" else 0.0)


def lower_bound_monotone(*, d: int, p: float = 2.0, pdim: float | None = None, widths=None,
                         bits: float | None = None, continuous: bool = True) -> Bound:
    """Lower bound on sup_{f in Mon_d} inf_{g in G} ||f - g||_p, Mon_d = non-decreasing
    [0,1]^d -> [0,1].

    Staircase family (rate D^(-1/d)) and antichain family (d >= 2, rate
    (D log D)^(-1/(p(d-1)))), the larger one.  For p = inf and a class of continuous
    functions the bound is 1/2 whatever the size of G (the jump 1{x_1 >= 1/2}).
    """
    d = V.dimension(d)
    p = V.p_norm(p)
    D = _resolve_pdim(pdim, widths, d)
    if bits is not None:
        bits = V.positive_real("bits", bits, allow_zero=True)
    if math.isinf(p) and continuous:
        return Bound(value=0.5, kind="rigorous", quantity="worst-case sup-norm error",
                     exponent=0.0, complexity="any",
                     assumptions=("F = non-decreasing functions [0,1]^d -> [0,1]",
                                  "G consists of continuous functions (e.g. any ReLU network)"),
                     sources=("achour22",),
                     certificate={"witness": "f = 1{x_1 >= 1/2}",
                                  "argument": "g continuous at x_1 = 1/2 misses 0 or 1 by >= 1/2"})
    if D is None and bits is None:
        raise ConfigError("lower_bound_monotone needs pdim=, widths= or bits= to describe the approximating class")
    names = ["staircase"] + (["antichain"] if d >= 2 else [])
    cands = []
    for name in names:
        if D is not None:
            for q in (_FINITE_P_FOR_SUP if math.isinf(p) else (p,)):
                cands.append(_route(name, d, q, 1.0, 1.0, D=D))
        if bits is not None:
            cands.append(_route(name, d, p, 1.0, 1.0, bits=bits))
    e, lp = monotone_exponents(d, p, "pdim" if bits is None else "bits")
    assumptions = (f"F = non-decreasing functions [0,1]^{d} -> [0,1]",
                   f"error in L^{p:g}([0,1]^{d}, Lebesgue)")
    complexity = "pdim" if bits is None else ("bits" if D is None else "pdim and bits")
    return _best_of(cands, assumptions, "worst-case approximation error", e, lp, complexity)


# --------------------------------------------------------------------------- Boolean windows
def lower_bound_boolean_window(*, bits: float, k: int) -> Bound:
    """Counting bound for sequence models reading binary inputs.

    Among all 2^(2^k) Boolean functions of the last k input bits, some function is
    computed wrongly on at least the returned fraction of the 2^k windows by every model in
    a class of at most 2^bits functions (e.g. any network stored in ``bits`` bits).
    """
    bits = V.positive_real("bits", bits, allow_zero=True)
    k = V.positive_int("k", k)
    if k > 40:
        raise ConfigError(f"k={k} is not allowed; window length k must be <= 40")
    m = 2 ** k
    best_t = 0
    if m * LN2 > bits * LN2:
        # largest t with GV size > 2^bits; log size decreases in t, so scan a candidate grid
        ts = np.unique(np.clip(np.round(np.geomspace(1, m / 2, 400)), 1, m // 2 if m > 1 else 1))
        ok = [t for t in ts.astype(int) if gv_log_size(m, int(t)) > bits * LN2]
        if ok:
            best_t = max(ok)
            while best_t + 1 <= m // 2 and gv_log_size(m, best_t + 1) > bits * LN2:
                best_t += 1
    if best_t == 0:
        return Bound(value=0.0, kind="rigorous", quantity="window error rate", complexity="bits",
                     assumptions=(f"2^{bits:g} >= number of Boolean functions guaranteed by the code",),
                     sources=("gilbert_varshamov",), certificate={"k": k, "bits": bits})
    b = proposition_b(boolean_window_family(k, best_t), bits)
    return Bound(value=b.value, kind="rigorous", quantity="window error rate", complexity="bits",
                 assumptions=(f"targets: all Boolean functions of the last k={k} input bits",
                              "error = fraction of the 2^k windows computed wrongly") + b.assumptions,
                 sources=b.sources, certificate=b.certificate)


# --------------------------------------------------------------------------- inverses
def _threshold(fn, eps: float, lo: int = 1, cap: float = 1e15) -> tuple[int, Bound]:
    """Smallest integer x with fn(x).value <= eps, given fn non-increasing per family."""
    b_lo = fn(lo)
    if b_lo.value <= eps:
        return lo, b_lo
    hi = max(2 * lo, 2)
    while fn(hi).value > eps:
        lo, hi = hi, hi * 2
        if hi > cap:
            raise ConfigError(f"eps={eps:g} is too small; the required complexity exceeds {cap:g}")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fn(mid).value > eps:
            lo = mid
        else:
            hi = mid
    return hi, fn(lo)


def _target_fn(target, *, d, p, s, R, mode):
    if target == "holder":
        s = V.smoothness(s)
        if mode == "pdim":
            return lambda x: lower_bound_holder(d=d, s=s, p=p, R=R, pdim=x)
        return lambda x: lower_bound_holder(d=d, s=s, p=p, R=R, bits=x)
    if target == "monotone":
        if mode == "pdim":
            return lambda x: lower_bound_monotone(d=d, p=p, pdim=x)
        return lambda x: lower_bound_monotone(d=d, p=p, bits=x)
    raise ConfigError(f"target={target!r} is not supported; use 'holder' or 'monotone'")


def minimal_pdim_for_error(eps: float, *, target: str = "holder", d: int = 1, p: float = 2.0,
                           s: float = 1.0, R: float = 1.0) -> Bound:
    """Smallest D such that Pdim(G) <= D - 1 provably forces worst-case error > eps."""
    eps = V.error_target(eps)
    d, p = V.dimension(d), V.p_norm(p)
    D, witness = _threshold(_target_fn(target, d=d, p=p, s=s, R=R, mode="pdim"), eps)
    return Bound(value=float(D), kind=witness.kind if D > 1 else "rigorous",
                 quantity="minimal pseudo-dimension", exponent=None, complexity="eps",
                 assumptions=(f"every class with Pdim <= {D - 1} has worst-case error > {eps:g}",)
                 + witness.assumptions, sources=witness.sources,
                 certificate={"eps": eps, "witness_at_D_minus_1": witness.value,
                              **witness.certificate})


def minimal_bits_for_error(eps: float, *, target: str = "holder", d: int = 1, p: float = 2.0,
                           s: float = 1.0, R: float = 1.0) -> Bound:
    """Smallest B such that any model stored in B - 1 bits (<= 2^(B-1) functions) has
    worst-case error > eps (counting route, Proposition B; rigorous)."""
    eps = V.error_target(eps)
    d, p = V.dimension(d), V.p_norm(p)
    fn = _target_fn(target, d=d, p=p, s=s, R=R, mode="bits")
    B, witness = _threshold(fn, eps, lo=1)
    return Bound(value=float(B), kind="rigorous", quantity="minimal storage (bits)",
                 complexity="eps",
                 assumptions=(f"every model stored in <= {B - 1} bits has worst-case error > {eps:g}",)
                 + witness.assumptions, sources=witness.sources,
                 certificate={"eps": eps, "witness_at_B_minus_1": witness.value,
                              **witness.certificate})


def minimal_weights_for_error(eps: float, *, target: str = "holder", depth: int = 1, d: int = 1,
                              p: float = 2.0, s: float = 1.0, R: float = 1.0,
                              bits_per_weight: float | None = None,
                              activation: str = "relu") -> Bound:
    """Fewest parameters a ReLU MLP with ``depth`` hidden layers of equal width (input d,
    one output) can have and still possibly reach worst-case error eps.

    Every narrower network of that shape provably has worst-case error > eps: by the
    pseudo-dimension route, and, if ``bits_per_weight`` is given (a quantized network with
    that many bits per parameter), also by the counting route.
    """
    eps = V.error_target(eps)
    depth = V.positive_int("depth", depth)
    d, p = V.dimension(d), V.p_norm(p)
    D_star = minimal_pdim_for_error(eps, target=target, d=d, p=p, s=s, R=R)

    def width_for(pred):
        lo, hi = 0, 1
        while not pred(hi):
            lo, hi = hi, hi * 2
            if hi > 10 ** 9:
                raise ConfigError(f"eps={eps:g} is too small for width search")
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if pred(mid) else (mid, hi)
        return hi

    w_a = width_for(lambda w: pdim_upper([w] * depth, d, activation).value >= D_star.value)
    w, parts = w_a, {"width_pdim_route": w_a, "pdim_needed": D_star.value}
    kind = D_star.kind
    if bits_per_weight is not None:
        b = V.positive_real("bits_per_weight", bits_per_weight)
        B_star = minimal_bits_for_error(eps, target=target, d=d, p=p, s=s, R=R)
        w_b = width_for(lambda w: b * mlp_param_count([w] * depth, d) >= B_star.value)
        parts.update(width_bits_route=w_b, bits_needed=B_star.value)
        if w_b >= w_a:
            kind = "rigorous"
        w = max(w_a, w_b)
    W = mlp_param_count([w] * depth, d)
    return Bound(value=float(W), kind=kind, quantity="minimal number of weights", complexity="eps",
                 assumptions=(f"ReLU MLP, input {d}, {depth} hidden layer(s) of equal width, 1 output",
                              f"widths < {w} provably give worst-case error > {eps:g}"),
                 sources=D_star.sources, certificate={"eps": eps, "width": w, **parts})


# --------------------------------------------------------------------------- upper bounds
def upper_bound_lipschitz_interp(N: int, p: float = 2.0, R: float = 1.0) -> Bound:
    """Exact worst case of piecewise-linear interpolation (N equal cells) over the
    R-Lipschitz functions on [0,1]: R / (2 (p+1)^(1/p) N)  (p = inf: R / (2N)).
    The interpolant is a ReLU net with widths [N] (W = 3N + 1)."""
    N = V.positive_int("N", N)
    p = V.p_norm(p)
    R = V.positive_real("R", R)
    c = 0.5 if math.isinf(p) else 0.5 / (p + 1) ** (1 / p)
    return Bound(value=R * c / N, kind="rigorous", quantity="worst-case error (upper bound)",
                 exponent=-1.0, complexity="N", assumptions=("H^1_1(R): R-Lipschitz on [0,1]",),
                 certificate={"widths": [N], "W": 3 * N + 1})


def upper_bound_c11_interp(N: int, R: float = 1.0) -> Bound:
    """Piecewise-linear interpolation of f with R-Lipschitz derivative (H^2_1(R)):
    sup error <= R h^2 / 8, h = 1/N, hence in every L^p.  ReLU net widths [N]."""
    N = V.positive_int("N", N)
    R = V.positive_real("R", R)
    return Bound(value=R / (8 * N * N), kind="rigorous", quantity="worst-case error (upper bound)",
                 exponent=-2.0, complexity="N", assumptions=("H^2_1(R)",),
                 certificate={"widths": [N], "W": 3 * N + 1})


def upper_bound_holder_quantized(N: int, s: float, d: int, delta: float, R: float = 1.0) -> Bound:
    """A finite class: piecewise-constant on the N^d grid, value = f(cell centre) rounded to
    a multiple of delta.  For s <= 1, sup error <= R (h/2)^s + delta/2 with
    N^d log2(floor(2R/delta) + 2) bits."""
    N = V.positive_int("N", N)
    s = V.smoothness(s)
    d = V.dimension(d)
    if s > 1:
        raise ConfigError(f"s={s} is not allowed here; this construction needs 0 < s <= 1")
    delta = V.positive_real("delta", delta)
    R = V.positive_real("R", R)
    bits = N ** d * math.log2(math.floor(2 * R / delta) + 2)
    return Bound(value=R * (0.5 / N) ** s + delta / 2, kind="rigorous",
                 quantity="worst-case sup error (upper bound)", complexity="bits",
                 assumptions=(f"H^{s:g}_{d}(R), s <= 1",), certificate={"bits": bits, "N": N})


def upper_bound_monotone_1d(N: int, p: float = 2.0, grid: int | None = None) -> Bound:
    """Monotone f: [0,1] -> [0,1] rounded to N levels: error <= 1/(2N).

    Real weights: a ReLU net of widths [2N] gets within 1/(2N) + any eps' in L^p (steep
    ramps), so inf_g <= 1/(2N).  With ``grid`` = G, the N thresholds are rounded to the grid
    {0, 1/G, .., 1}: error <= 1/(2N) + (1/(2G))^(1/p) with log2 C(N + G, N) bits.
    """
    N = V.positive_int("N", N)
    p = V.p_norm(p, allow_inf=False)
    if grid is None:
        return Bound(value=0.5 / N, kind="rigorous", quantity="worst-case error (upper bound)",
                     exponent=-1.0, complexity="N", assumptions=("monotone, d = 1",),
                     certificate={"widths": [2 * N], "W": 6 * N + 1})
    G = V.positive_int("grid", grid)
    bits = (gammaln(N + G + 1) - gammaln(N + 1) - gammaln(G + 1)) / LN2
    return Bound(value=0.5 / N + (0.5 / G) ** (1 / p), kind="rigorous",
                 quantity="worst-case error (upper bound)", complexity="bits",
                 assumptions=("monotone, d = 1",), certificate={"bits": float(bits), "N": N, "G": G})

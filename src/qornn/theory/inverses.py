"""Necessary sizes: how large must a class be before the lower bounds allow error eps?

Each function inverts a lower bound: it returns the smallest size (pseudo-dimension, bits,
weights) that the lower bound does *not* exclude.  This is a **necessary** condition, not a
sufficient one: every smaller class provably has worst-case error > eps, but a class of the
returned size may still be far from eps (the constructive upper bounds say how far).
The lower bounds are exactly non-increasing in the size, so a bisection finds the threshold.
"""
from __future__ import annotations

from ..errors import ConfigError
from . import _validate as V
from .bound import Bound, kind_from_sources, merge_keys
from .complexity import mlp_param_count, pdim_upper
from .lower_bounds import lower_bound_holder, lower_bound_monotone

NECESSARY = "necessary, not sufficient"


def _threshold(fn, eps: float, lo: int = 1, cap: float = 1e15) -> tuple[int, Bound]:
    """Smallest integer x >= lo with fn(x).value <= eps (fn non-increasing), and fn(x - 1)."""
    b_lo = fn(lo)
    if b_lo.value <= eps:
        return lo, b_lo
    hi = max(2 * lo, 2)
    while fn(hi).value > eps:
        lo, hi = hi, hi * 2
        if hi > cap:
            raise ConfigError(f"eps={eps:g} is too small; the required size exceeds {cap:g}")
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
        return lambda x: lower_bound_holder(d=d, s=s, p=p, R=R, **{mode: x})
    if target == "monotone":
        return lambda x: lower_bound_monotone(d=d, p=p, **{mode: x})
    raise ConfigError(f"target={target!r} is not supported; use 'holder' or 'monotone'")


def _necessary(value: float, quantity: str, witness: Bound, claim: str, cert: dict,
               extra_sources: tuple[str, ...] = ()) -> Bound:
    sources = merge_keys(witness.sources, extra_sources)
    return Bound(value=float(value), kind=kind_from_sources(sources),
                 quantity=f"{quantity} ({NECESSARY})", complexity="eps",
                 assumptions=(claim,) + witness.assumptions, sources=sources,
                 references=witness.references, certificate={**cert, **witness.certificate})


def minimal_pdim_for_error(eps: float, *, target: str = "holder", d: int = 1, p: float = 2.0,
                           s: float = 1.0, R: float = 1.0) -> Bound:
    """Smallest D not excluded: every class with Pdim <= D - 1 has worst-case error > eps."""
    eps = V.error_target(eps)
    d, p = V.dimension(d), V.p_norm(p)
    D, witness = _threshold(_target_fn(target, d=d, p=p, s=s, R=R, mode="pdim"), eps)
    claim = (f"every class with Pdim <= {D - 1} has worst-case error > {eps:g}" if D > 1 else
             f"no class is excluded: Pdim <= 1 is already compatible with error {eps:g}")
    return _necessary(D, "pseudo-dimension needed", witness, claim,
                      {"eps": eps, "lower_bound_at_D_minus_1": witness.value})


def minimal_bits_for_error(eps: float, *, target: str = "holder", d: int = 1, p: float = 2.0,
                           s: float = 1.0, R: float = 1.0) -> Bound:
    """Smallest B not excluded: every model stored in B - 1 bits (<= 2^(B-1) functions) has
    worst-case error > eps (counting route, Proposition B)."""
    eps = V.error_target(eps)
    d, p = V.dimension(d), V.p_norm(p)
    B, witness = _threshold(_target_fn(target, d=d, p=p, s=s, R=R, mode="bits"), eps)
    return _necessary(B, "storage needed (bits)", witness,
                      f"every model stored in <= {B - 1} bits has worst-case error > {eps:g}",
                      {"eps": eps, "lower_bound_at_B_minus_1": witness.value})


def _width_for(pred, eps: float) -> int:
    lo, hi = 0, 1
    while not pred(hi):
        lo, hi = hi, hi * 2
        if hi > 10 ** 9:
            raise ConfigError(f"eps={eps:g} is too small for the width search (width > 1e9)")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if pred(mid) else (mid, hi)
    return hi


def minimal_weights_for_error(eps: float, *, target: str = "holder", depth: int = 1, d: int = 1,
                              p: float = 2.0, s: float = 1.0, R: float = 1.0,
                              bits_per_weight: float | None = None,
                              activation: str = "relu") -> Bound:
    """Parameter count of the narrowest ReLU MLP (``depth`` hidden layers of equal width, input
    d, one output) that the lower bounds do not exclude for error eps: every narrower one
    provably has worst-case error > eps (pseudo-dimension route, and, with ``bits_per_weight``,
    the counting route).  A necessary size only."""
    eps = V.error_target(eps)
    depth = V.positive_int("depth", depth)
    d, p = V.dimension(d), V.p_norm(p)
    D_star = minimal_pdim_for_error(eps, target=target, d=d, p=p, s=s, R=R)
    w_a = _width_for(lambda w: pdim_upper([w] * depth, d, activation).value >= D_star.value, eps)
    w, parts, witness = w_a, {"width_pdim_route": w_a, "pdim_needed": D_star.value}, D_star
    extra = pdim_upper([max(w_a - 1, 1)] * depth, d, activation).sources
    if bits_per_weight is not None:
        b = V.positive_real("bits_per_weight", bits_per_weight)
        B_star = minimal_bits_for_error(eps, target=target, d=d, p=p, s=s, R=R)
        w_b = _width_for(lambda w: b * mlp_param_count([w] * depth, d) >= B_star.value, eps)
        parts.update(width_bits_route=w_b, bits_needed=B_star.value)
        if w_b >= w_a:
            witness, extra = B_star, ()
        w = max(w_a, w_b)
    W = mlp_param_count([w] * depth, d)
    claim = f"ReLU MLPs {d} -> {depth} x width < {w} -> 1 have worst-case error > {eps:g}"
    return _necessary(W, "weights needed", witness, claim, {"eps": eps, "width": w, **parts}, extra)

"""Rate-only curves: the shape of a bound known only up to constants, anchored at one point.

A rate-only curve carries no constant of its own: its value at W is
``anchor_value * shape(W) / shape(anchor_W)``.  Use it to compare slopes, never values.

* ``"pdim_holder"``   (W L log W)^(-s/d): lower-bound rate of Achour et al. (2022) for
  piecewise-linear networks with W weights and depth L (Pdim ~ W L log W, BHLM 2019);
* ``"deep_holder"``   W^(-2s/d): very deep networks with unbounded-precision weights
  (bit extraction; Yarotsky 2018, Lu et al. 2021), sup norm, hence every L^p;
* ``"shallow_holder"`` W^(-s/d): fixed depth up to logs, and quantized weights at any depth;
* ``"pdim_monotone"`` (W L log W)^(-1/max(d, p(d-1))): monotone functions;
* ``"size_monotone"`` D^(-1/max(d, p(d-1))): monotone functions vs pdim or bits (Gao-Wellner
  entropy rate).
"""
from __future__ import annotations

import math

from ..errors import ConfigError
from . import _validate as V
from .bound import Bound

_SOURCES = {"pdim_holder": ("achour22", "bhlm19"), "deep_holder": ("yarotsky18", "lu21"),
            "shallow_holder": ("achour22",), "pdim_monotone": ("achour22", "gao_wellner07"),
            "size_monotone": ("gao_wellner07",)}


def _log_shape(name: str, W: float, L: int, d: int, s: float, p: float) -> tuple[float, float]:
    """(ln shape(W), exponent)."""
    if name == "pdim_holder":
        e = -s / d
        return e * math.log(W * L * math.log(max(W, 2.0))), e
    if name == "deep_holder":
        return -2 * s / d * math.log(W), -2 * s / d
    if name == "shallow_holder":
        return -s / d * math.log(W), -s / d
    if name in ("pdim_monotone", "size_monotone"):
        e = -1.0 / max(d, p * (d - 1))
        size = W * L * math.log(max(W, 2.0)) if name == "pdim_monotone" else W
        return e * math.log(size), e
    raise ConfigError(f"rate={name!r} is not known; use one of {sorted(_SOURCES)}")


def rate_shape(name: str, W: float, *, anchor: tuple[float, float], L: int = 1, d: int = 1,
               s: float = 1.0, p: float = 2.0) -> Bound:
    """The rate ``name`` at W, normalised so that it equals ``anchor[1]`` at ``anchor[0]``.

    >>> round(rate_shape("shallow_holder", 100.0, anchor=(10.0, 1.0)).value, 6)
    0.1
    """
    W, L, d = V.positive_real("W", W), V.positive_int("L", L), V.dimension(d)
    s, p = V.smoothness(s), V.p_norm(p)
    W0, v0 = V.positive_real("anchor W", anchor[0]), V.positive_real("anchor value", anchor[1])
    log_w, e = _log_shape(name, W, L, d, s, p)
    log_0, _ = _log_shape(name, W0, L, d, s, p)
    return Bound(value=v0 * math.exp(log_w - log_0), kind="rate_only", quantity=f"rate {name}",
                 exponent=e, log_power=e if name.startswith("pdim") else 0.0, complexity="W",
                 references=_SOURCES[name], note=f"shape only, anchored at W0 = {W0:g}",
                 assumptions=("only the exponent is meaningful",), certificate={"anchor": [W0, v0]})

"""Argument checks shared by the theory functions; each failure is a one-line ConfigError."""
from __future__ import annotations

import math
import numbers

from ..errors import ConfigError


def _is_int(x) -> bool:
    if isinstance(x, bool):
        return False
    if isinstance(x, numbers.Integral):
        return True
    return isinstance(x, float) and math.isfinite(x) and x == int(x)


def p_norm(p, *, allow_inf: bool = True) -> float:
    """p must be a real number >= 1 (or inf when allowed)."""
    try:
        pf = float(p)
    except (TypeError, ValueError):
        raise ConfigError(f"p={p!r} is not a number; the L^p exponent must be a real p >= 1"
                          + (" or inf" if allow_inf else "")) from None
    if math.isnan(pf) or pf < 1 or (math.isinf(pf) and not allow_inf):
        allowed = "a real p >= 1" + (" or inf" if allow_inf else " (finite)")
        raise ConfigError(f"p={p!r} is not allowed; the L^p exponent must be {allowed}")
    return pf


def positive_int(name: str, x, *, minimum: int = 1) -> int:
    if not _is_int(x) or int(x) < minimum:
        raise ConfigError(f"{name}={x!r} is not allowed; {name} must be an integer >= {minimum}")
    return int(x)


def positive_real(name: str, x, *, allow_zero: bool = False) -> float:
    try:
        xf = float(x)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={x!r} is not a number; {name} must be a real number "
                          f"{'>= 0' if allow_zero else '> 0'}") from None
    if not math.isfinite(xf) or xf < 0 or (xf == 0 and not allow_zero):
        raise ConfigError(f"{name}={x!r} is not allowed; {name} must be a finite real number "
                          f"{'>= 0' if allow_zero else '> 0'}")
    return xf


def smoothness(s) -> float:
    return positive_real("s", s)


def dimension(d) -> int:
    return positive_int("d", d)


def error_target(eps) -> float:
    return positive_real("eps", eps)


def bits(name: str, k, *, minimum: int = 1, maximum: int = 32) -> int:
    k = positive_int(name, k, minimum=minimum)
    if k > maximum:
        raise ConfigError(f"{name}={k} is not allowed; {name} must be between {minimum} and {maximum}")
    return k


MAX_SIZE = 1e250


def size(name: str, x, *, allow_zero: bool = False) -> float:
    """A class size (pseudo-dimension, fat-shattering dimension, bits): finite, > 0 (or >= 0),
    at most 1e250 so that every derived quantity stays inside double precision."""
    xf = positive_real(name, x, allow_zero=allow_zero)
    if xf > MAX_SIZE:
        raise ConfigError(f"{name}={x!r} is not allowed; {name} must be at most {MAX_SIZE:g}")
    return xf

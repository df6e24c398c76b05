"""Upper bounds on the pseudo-dimension of piecewise-polynomial feed-forward networks.

A *larger* pseudo-dimension gives a *weaker* (hence safe) approximation lower bound, so
:func:`pdim_upper` takes the maximum of the implemented bounds.  All of them use constants
recalled from the literature and not transcribed here, so their ``kind`` is
``rigorous_if_sources_verified``:

* :func:`pdim_bhlm` - closed form of Bartlett, Harvey, Liaw & Mehrabian (JMLR 2019), Thm 7;
* :func:`pdim_growth_function` - the growth-function product from the same proof, solved
  numerically for the largest m with Pi(m) >= 2^m;
* :func:`pdim_anthony_bartlett` - Anthony & Bartlett (1999), Thm 8.8 (more conservative).

The network: input dimension ``d_in``, hidden layers of the given ``widths`` with a
piecewise-polynomial activation (``pieces`` pieces, degree ``degree``; ReLU: 2 and 1), one
linear output unit, a bias on every unit.  To pass from the VC dimension of the
thresholded network to the pseudo-dimension we add one parameter (the threshold), which
can only increase the bound.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.optimize import brentq

from ..errors import ConfigError
from . import _validate as V
from .bound import Bound

_ACTIVATIONS = {"relu": (2, 1), "leaky_relu": (2, 1), "hardtanh": (3, 1), "abs": (2, 1)}


def _layers(widths: Sequence[int], d_in: int) -> tuple[list[int], int]:
    d_in = V.positive_int("d_in", d_in)
    if isinstance(widths, (int, np.integer)):
        widths = [int(widths)]
    ws = [V.positive_int("width", w) for w in widths]
    return ws + [1], d_in


def mlp_param_count(widths: Sequence[int], d_in: int, d_out: int = 1) -> int:
    """Number of weights and biases of a fully connected net ``d_in -> widths -> d_out``."""
    ks, d_in = _layers(widths, d_in)
    ks[-1] = V.positive_int("d_out", d_out)
    prev, total = d_in, 0
    for k in ks:
        total += (prev + 1) * k
        prev = k
    return total


def _structure(widths, d_in, pieces, degree):
    pieces = V.positive_int("pieces", pieces, minimum=2)
    degree = V.positive_int("degree", degree, minimum=1)
    ks, d_in = _layers(widths, d_in)
    L = len(ks)
    per_layer, prev = [], d_in
    for k in ks:
        per_layer.append((prev + 1) * k)
        prev = k
    per_layer[-1] += 1  # the threshold parameter of the pseudo-dimension reduction
    W = sum(per_layer)
    Wi = np.cumsum(per_layer).astype(float)  # parameters feeding layers 1..i (degree >= 1)
    return ks, L, W, Wi, pieces, degree


def pdim_bhlm(widths: Sequence[int], d_in: int, pieces: int = 2, degree: int = 1) -> Bound:
    """Closed-form pseudo-dimension bound of BHLM (2019), Theorem 7 (constants recalled).

    VCdim <= L + Lbar * W * log2(4 e p R log2(2 e p R)), with p = pieces - 1 breakpoints,
    Lbar = sum_i W_i / W, R = sum_i k_i (1 + (i-1) degree^(i-1)).
    """
    ks, L, W, Wi, pieces, degree = _structure(widths, d_in, pieces, degree)
    p = pieces - 1
    R = sum(k * (1 + i * degree ** i) for i, k in enumerate(ks))
    Lbar = float(Wi.sum()) / W
    value = L + Lbar * W * math.log2(4 * math.e * p * R * math.log2(2 * math.e * p * R))
    return _bhlm_bound(value, ks, d_in, pieces, degree,
                       {"W": W, "L": L, "Lbar": Lbar, "R": R, "breakpoints": p})


def _bhlm_bound(value: float, ks, d_in: int, pieces: int, degree: int, certificate: dict) -> Bound:
    """A pseudo-dimension Bound from one of the BHLM 2019 forms (shared assumptions and source)."""
    return Bound(
        value=float(math.floor(value)), kind="rigorous_if_sources_verified", quantity="pdim",
        exponent=1.0, log_power=1.0, complexity="W (fixed depth)",
        assumptions=(f"fully connected net d_in={d_in}, widths={list(ks[:-1])}, linear output",
                     f"activation piecewise polynomial, {pieces} pieces, degree {degree}",
                     "one extra parameter for the pseudo-dimension threshold"),
        sources=("bhlm19",), certificate=certificate,
    )


def _log2_growth(m: float, ks, L, Wi, pieces, degree) -> float:
    p = pieces - 1
    total = 0.0
    for i in range(L):
        a = 2 * math.e * m * ks[i] * p * (1 + i * degree ** i) / Wi[i]
        total += 1 + Wi[i] * math.log2(max(a, 1e-300))
    return total


def pdim_growth_function(widths: Sequence[int], d_in: int, pieces: int = 2,
                         degree: int = 1) -> Bound:
    """Largest m with Pi(m) >= 2^m for the BHLM growth-function product (constants recalled).

    Pi(m) <= prod_i 2 (2 e m k_i p (1 + (i-1) degree^(i-1)) / W_i)^(W_i); usually tighter
    than the closed form of :func:`pdim_bhlm`.
    """
    ks, L, W, Wi, pieces, degree = _structure(widths, d_in, pieces, degree)

    def gap(m):
        return _log2_growth(m, ks, L, Wi, pieces, degree) - m

    lo = float(W)  # the product bound is stated for m >= W; gap(W) > 0 always here
    hi = 2.0 * lo
    while gap(hi) > 0:
        hi *= 2.0
    if gap(lo) <= 0:
        m_star = lo
    else:
        m_star = brentq(gap, lo, hi, xtol=1e-6)
    return _bhlm_bound(m_star, ks, d_in, pieces, degree, {"W": W, "L": L, "W_i": Wi.tolist()})


def pdim_anthony_bartlett(widths: Sequence[int], d_in: int, pieces: int = 2,
                          degree: int = 1) -> Bound:
    """Anthony & Bartlett (1999) Thm 8.8 form (constants recalled):

    VCdim <= 2 W L log2(4 W L p k / ln 2) + 2 W L^2 log2(degree + 1) + 2 L,
    with p = pieces and k = number of computation units.
    """
    ks, L, W, _, pieces, degree = _structure(widths, d_in, pieces, degree)
    k = sum(ks)
    value = (2 * W * L * math.log2(4 * W * L * pieces * k / math.log(2))
             + 2 * W * L * L * math.log2(degree + 1) + 2 * L)
    return Bound(
        value=float(math.floor(value)), kind="rigorous_if_sources_verified", quantity="pdim",
        exponent=1.0, log_power=1.0, complexity="W (fixed depth)",
        assumptions=(f"fully connected net d_in={d_in}, widths={list(ks[:-1])}",
                     f"activation piecewise polynomial, {pieces} pieces, degree {degree}"),
        sources=("anthony_bartlett99",), certificate={"W": W, "L": L, "units": k},
    )


def pdim_upper(widths: Sequence[int], d_in: int, activation: str = "relu",
               pieces: int | None = None, degree: int | None = None) -> Bound:
    """Conservative pseudo-dimension bound: the maximum of all implemented bounds.

    A larger value only weakens the lower bounds that use it, so taking the maximum keeps
    them valid as long as at least one of the recalled theorems is correct.
    """
    if pieces is None or degree is None:
        if activation not in _ACTIVATIONS:
            raise ConfigError(f"activation={activation!r} is not supported; use one of "
                              f"{sorted(_ACTIVATIONS)} or give pieces= and degree=")
        pieces, degree = _ACTIVATIONS[activation]
    parts = [pdim_bhlm(widths, d_in, pieces, degree),
             pdim_growth_function(widths, d_in, pieces, degree),
             pdim_anthony_bartlett(widths, d_in, pieces, degree)]
    best = max(parts, key=lambda b: b.value)
    return Bound(
        value=best.value, kind="rigorous_if_sources_verified", quantity="pdim", exponent=1.0,
        log_power=1.0, complexity="W (fixed depth)", assumptions=best.assumptions,
        sources=("bhlm19", "anthony_bartlett99"),
        certificate={"W": mlp_param_count(widths, d_in), "bhlm": parts[0].value,
                     "growth_function": parts[1].value, "anthony_bartlett": parts[2].value,
                     "policy": "max"},
    )


def total_bits(param_levels: Mapping[str, tuple[int, int]]) -> float:
    """Bits needed to store a parameter set: sum of n_params * log2(levels).

    ``param_levels`` maps a name to ``(n_params, levels)``; a float32 tensor is
    ``(n, 2**32)``, a ternary one ``(n, 3)``.  A network whose parameters take these values
    realises at most 2**total_bits distinct functions.
    """
    total = 0.0
    for name, (n, q) in param_levels.items():
        n = V.positive_int(f"{name}.n_params", n, minimum=0)
        q = V.positive_int(f"{name}.levels", q, minimum=1)
        total += n * math.log2(q)
    return total

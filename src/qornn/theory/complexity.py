"""Upper bounds on the pseudo-dimension of piecewise-polynomial feed-forward networks.

Each implemented bound is a valid upper bound if its source is right, so :func:`pdim_upper`
takes the *smallest* (the strongest valid lower bounds follow) and lists every candidate
with its source.  All of them use constants recalled from the literature and not transcribed
here, so their ``kind`` (computed from :data:`SOURCES`) is ``rigorous_if_sources_verified``
until the statements are checked:

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
from .bound import Bound, kind_from_sources

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


def _activation(activation: str, pieces, degree) -> tuple[int, int]:
    if pieces is None or degree is None:
        if activation not in _ACTIVATIONS:
            raise ConfigError(f"activation={activation!r} is not supported; use one of "
                              f"{sorted(_ACTIVATIONS)} or give pieces= and degree=")
        pieces, degree = _ACTIVATIONS[activation]
    return (V.positive_int("pieces", pieces, minimum=2), V.positive_int("degree", degree, minimum=1))


def _structure(widths, d_in, pieces, degree):
    """Fully connected net as a layered net: (units per layer, parameters per layer)."""
    ks, d_in = _layers(widths, d_in)
    per_layer, prev = [], d_in
    for k in ks:
        per_layer.append((prev + 1) * k)
        prev = k
    return _layered(ks, per_layer, pieces, degree)


def _layered(ks, per_layer, pieces, degree):
    """Units k_i and parameters feeding each layer (last = output), plus one threshold parameter
    for the pseudo-dimension; W_i = parameters feeding layers 1..i."""
    pieces = V.positive_int("pieces", pieces, minimum=2)
    degree = V.positive_int("degree", degree, minimum=1)
    ks = [V.positive_int("units", k) for k in ks]
    per_layer = [V.positive_int("parameters", w) for w in per_layer]
    if len(ks) != len(per_layer):
        raise ConfigError(f"{len(ks)} layers of units but {len(per_layer)} parameter counts")
    per_layer[-1] += 1  # the threshold parameter of the pseudo-dimension reduction
    W = sum(per_layer)
    Wi = np.cumsum(per_layer).astype(float)
    return ks, len(ks), W, Wi, pieces, degree


def _bhlm_closed(net) -> Bound:
    ks, L, W, Wi, pieces, degree = net
    p = pieces - 1
    R = sum(k * (1 + i * degree ** i) for i, k in enumerate(ks))
    Lbar = float(Wi.sum()) / W
    value = L + Lbar * W * math.log2(4 * math.e * p * R * math.log2(2 * math.e * p * R))
    return _pdim_bound(value, ks, pieces, degree, ("bhlm19",), "BHLM 2019 Thm 7, closed form",
                       {"W": W, "L": L, "Lbar": Lbar, "R": R, "breakpoints": p})


def pdim_bhlm(widths: Sequence[int], d_in: int, pieces: int = 2, degree: int = 1) -> Bound:
    """Closed-form pseudo-dimension bound of BHLM (2019), Theorem 7 (constants recalled).

    VCdim <= L + Lbar * W * log2(4 e p R log2(2 e p R)), with p = pieces - 1 breakpoints,
    Lbar = sum_i W_i / W, R = sum_i k_i (1 + (i-1) degree^(i-1)).
    """
    return _bhlm_closed(_structure(widths, d_in, pieces, degree))


def _pdim_bound(value: float, ks, pieces: int, degree: int, sources, name: str, certificate) -> Bound:
    """A pseudo-dimension Bound (shared assumptions; kind from the sources)."""
    return Bound(
        value=float(math.floor(value)), kind=kind_from_sources(sources), quantity="pdim",
        exponent=1.0, log_power=1.0, complexity="W (fixed depth)",
        assumptions=(f"layered net, units per layer {list(ks)} (last = output)",
                     f"activation piecewise polynomial, {pieces} pieces, degree {degree}",
                     "one extra parameter for the pseudo-dimension threshold"),
        sources=tuple(sources), certificate={"bound": name, **certificate},
    )


def _log2_growth(m: float, ks, L, Wi, pieces, degree) -> float:
    p = pieces - 1
    total = 0.0
    for i in range(L):
        a = 2 * math.e * m * ks[i] * p * (1 + i * degree ** i) / Wi[i]
        total += 1 + Wi[i] * math.log2(max(a, 1e-300))
    return total


def _growth(net) -> Bound:
    ks, L, W, Wi, pieces, degree = net

    def gap(m):
        return _log2_growth(m, ks, L, Wi, pieces, degree) - m

    lo = float(W)  # the product bound is stated for m >= W
    hi = 2.0 * lo
    while gap(hi) > 0:
        hi *= 2.0
    m_star = lo if gap(lo) <= 0 else brentq(gap, lo, hi, xtol=1e-6)
    return _pdim_bound(m_star, ks, pieces, degree, ("bhlm19",), "BHLM 2019 growth function",
                       {"W": W, "L": L, "W_i": Wi.tolist()})


def pdim_growth_function(widths: Sequence[int], d_in: int, pieces: int = 2,
                         degree: int = 1) -> Bound:
    """Largest m with Pi(m) >= 2^m for the BHLM growth-function product (constants recalled).

    Pi(m) <= prod_i 2 (2 e m k_i p (1 + (i-1) degree^(i-1)) / W_i)^(W_i); usually tighter
    than the closed form of :func:`pdim_bhlm`.
    """
    return _growth(_structure(widths, d_in, pieces, degree))


def _anthony_bartlett(net) -> Bound:
    ks, L, W, _, pieces, degree = net
    k = sum(ks)
    value = (2 * W * L * math.log2(4 * W * L * pieces * k / math.log(2))
             + 2 * W * L * L * math.log2(degree + 1) + 2 * L)
    return _pdim_bound(value, ks, pieces, degree, ("anthony_bartlett99",),
                       "Anthony-Bartlett 1999 Thm 8.8", {"W": W, "L": L, "units": k})


def pdim_anthony_bartlett(widths: Sequence[int], d_in: int, pieces: int = 2,
                          degree: int = 1) -> Bound:
    """Anthony & Bartlett (1999) Thm 8.8 form (constants recalled):

    VCdim <= 2 W L log2(4 W L p k / ln 2) + 2 W L^2 log2(degree + 1) + 2 L,
    with p = pieces and k = number of computation units.
    """
    return _anthony_bartlett(_structure(widths, d_in, pieces, degree))


def _smallest(net, W_count: int, description: str) -> Bound:
    parts = [_bhlm_closed(net), _growth(net), _anthony_bartlett(net)]
    best = min(parts, key=lambda b: b.value)
    return Bound(
        value=best.value, kind=best.kind, quantity="pdim", exponent=1.0, log_power=1.0,
        complexity="W (fixed depth)", assumptions=(description,) + best.assumptions,
        sources=best.sources,
        certificate={"W": W_count, "policy": "min", "chosen": best.certificate["bound"],
                     "candidates": [{"bound": b.certificate["bound"], "value": b.value,
                                     "sources": list(b.sources), "kind": b.kind} for b in parts]},
    )


def pdim_upper(widths: Sequence[int], d_in: int, activation: str = "relu",
               pieces: int | None = None, degree: int | None = None) -> Bound:
    """Pseudo-dimension bound: the *smallest* of the implemented upper bounds.

    Each is a valid upper bound if its source is right, so the smallest gives the strongest
    valid lower bounds; the Bound's sources (hence its kind) are those of the chosen bound and
    the certificate lists every candidate with its source.

    >>> pdim_upper([10], 1).certificate["chosen"]
    'BHLM 2019 growth function'
    """
    pieces, degree = _activation(activation, pieces, degree)
    net = _structure(widths, d_in, pieces, degree)
    return _smallest(net, mlp_param_count(widths, d_in),
                     f"fully connected ReLU-type net, d_in={d_in}, widths={list(net[0][:-1])}")


def pdim_upper_layers(units: Sequence[int], params: Sequence[int], activation: str = "relu") -> Bound:
    """:func:`pdim_upper` for a layered (possibly sparse) net: ``units[i]`` units in layer i
    (the last is the output) fed by ``params[i]`` parameters."""
    pieces, degree = _activation(activation, None, None)
    net = _layered(units, params, pieces, degree)
    return _smallest(net, int(sum(params)), f"layered net, {int(sum(params))} parameters")


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

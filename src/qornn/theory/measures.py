"""Probability measures on [0,1]^d for the lower bounds, and the cell masses they need.

The lower bounds hold in L^p(mu) for *any* probability measure mu (docs/theory.md, section 2).
A packing family puts one unit-amplitude profile phi_c on each cell c of a grid (a bump for
Holder balls, an indicator for monotone functions), so two members whose codewords differ on
a set S of cells are at distance

    ||f_sigma - f_sigma'||_{L^p(mu)}^p = a^p * sum_{c in S} v_c,     v_c = int phi_c^p dmu,

with a the amplitude.  Everything a bound needs from mu is therefore the list of cell masses
v_c.  Three kinds of measure are accepted:

* ``None`` (or ``"lebesgue"``): closed forms, handled by :mod:`qornn.theory.optimise`;
* :class:`DiscreteMeasure` (points and weights): exact masses;
* :class:`SampledMeasure` (a sampler): lower confidence bounds on the masses from n draws,
  valid simultaneously for every cell of every grid tried with probability >= 1 - delta
  (Chernoff-Hoeffding bound for [0,1]-valued variables, inverted in Kullback-Leibler form).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy.special import gammaln

from ..errors import ConfigError, ShapeError
from . import _validate as V

_CELLS_PER_ATOM = 16     # finest grid tried for a discrete measure: cells per atom
_SAMPLES_PER_CELL = 8    # finest grid tried for a sampled measure: samples per cell (finer grids
                         # only get vanishing confidence bounds)
_LATTICE_SIZE = 64       # number of grid sizes tried for a non-Lebesgue measure


@dataclass
class DiscreteMeasure:
    """mu = sum_i w_i delta_{x_i} on [0,1]^d (weights renormalised to sum to 1).

    >>> mu = DiscreteMeasure(np.array([[0.25], [0.75]]))
    >>> mu.weights.tolist(), mu.d
    ([0.5, 0.5], 1)
    """

    points: np.ndarray
    weights: np.ndarray | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        x = np.asarray(self.points, dtype=float)
        x = x.reshape(-1, 1) if x.ndim == 1 else x
        if x.ndim != 2 or len(x) == 0:
            raise ShapeError(f"measure points have shape {np.shape(self.points)}; need (n, d) with n >= 1")
        if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
            raise ConfigError("measure points must be finite and lie in [0,1]^d")
        w = np.full(len(x), 1.0 / len(x)) if self.weights is None else np.asarray(self.weights, float)
        if w.shape != (len(x),) or not np.isfinite(w).all() or w.min() < 0 or w.sum() <= 0:
            raise ConfigError(f"measure weights must be {len(x)} finite numbers >= 0 with a positive sum")
        self.points, self.weights = x, w / w.sum()

    @property
    def d(self) -> int:
        return self.points.shape[1]

    def describe(self) -> str:
        return f"discrete measure with {len(self.points)} atoms"


@dataclass
class SampledMeasure:
    """A measure known through a sampler ``sampler(rng, n) -> (n, d) array in [0,1]^d``.

    ``n_samples`` points are drawn once (seeded); cell masses are replaced by lower
    confidence bounds that hold together with probability >= 1 - ``delta``.
    """

    sampler: Callable[[np.random.Generator, int], np.ndarray]
    n_samples: int = 100_000
    delta: float = 1e-6
    seed: int = 0
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.n_samples = V.positive_int("n_samples", self.n_samples)
        self.delta = V.positive_real("delta", self.delta)
        if self.delta >= 1:
            raise ConfigError(f"delta={self.delta:g} is not allowed; the failure probability must be in (0, 1)")
        x = np.asarray(self.sampler(np.random.default_rng(self.seed), self.n_samples), dtype=float)
        self.sample = DiscreteMeasure(x.reshape(self.n_samples, -1)).points

    @property
    def d(self) -> int:
        return self.sample.shape[1]

    def describe(self) -> str:
        return (f"sampled measure: holds with probability >= 1 - {self.delta:g} over the "
                f"{self.n_samples} points drawn (seed {self.seed})")


def as_measure(measure, d: int):
    """None for Lebesgue, else a checked DiscreteMeasure / SampledMeasure of dimension d."""
    if measure is None or (isinstance(measure, str) and measure.lower() == "lebesgue"):
        return None
    if not isinstance(measure, (DiscreteMeasure, SampledMeasure)):
        raise ConfigError(f"measure={measure!r} is not supported; use None ('lebesgue'), "
                          "DiscreteMeasure(points, weights) or SampledMeasure(sampler)")
    if measure.d != d:
        raise ShapeError(f"the measure lives in dimension {measure.d}, the bound asks for d={d}")
    return measure


def n_cells(name: str, n: int, d: int) -> int:
    """Number of cells carrying a codeword bit: n^d, or the antichain size C(n+d-2, d-1)."""
    return math.comb(n + d - 2, d - 1) if name == "antichain" else n ** d


def scale_lattice(measure, name: str, d: int) -> np.ndarray:
    """The grid sizes tried for a non-Lebesgue measure (fixed by the measure alone)."""
    if isinstance(measure, SampledMeasure):
        cap = max(1, measure.n_samples // _SAMPLES_PER_CELL)
    else:
        cap = _CELLS_PER_ATOM * len(measure.points)
    n = 2 if name == "antichain" else 1
    while n_cells(name, n + 1, d) <= cap and n < 10 ** 7:
        n = n + 1 if n < 64 else int(n * 1.25)
    lo = 2 if name == "antichain" else 1
    return np.unique(np.round(np.geomspace(lo, max(n, lo), _LATTICE_SIZE)).astype(np.int64))


def _profile_values(name: str, x: np.ndarray, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(cell id, phi_c(x) / sup phi) of every point; points off the antichain get id -1."""
    idx = np.clip(np.floor(x * n).astype(np.int64), 0, n - 1)
    cid = np.ravel_multi_index(tuple(idx.T), (n,) * x.shape[1])
    if name == "holder":
        u = x * n - idx
        val = np.prod((4.0 * u * (1.0 - u)) ** (k + 1), axis=1)  # psi / sup psi, in [0, 1]
    else:
        val = np.ones(len(x))
    if name == "antichain":
        cid = np.where(idx.sum(axis=1) == n - 1, cid, -1)
    return cid, val


def _kl_lower(mean: np.ndarray, n: int, log_inv_delta: float) -> np.ndarray:
    """Smallest w <= mean with n kl(mean || w) <= log(1/delta), by bisection (vectorised)."""
    lo, hi = np.zeros_like(mean), mean.copy()
    a = np.clip(mean, 1e-300, 1 - 1e-16)
    for _ in range(44):
        w = 0.5 * (lo + hi)
        wc = np.clip(w, 1e-300, 1 - 1e-16)
        kl = a * np.log(a / wc) + (1 - a) * np.log((1 - a) / (1 - wc))
        inside = n * kl <= log_inv_delta
        hi, lo = np.where(inside, w, hi), np.where(inside, lo, w)
    return hi


def _union_log_count(measure: SampledMeasure, name: str, d: int) -> float:
    """log of the number of (grid, cell) pairs the confidence bound must cover."""
    key = ("union", name, d)
    if key not in measure._cache:
        measure._cache[key] = _log_count(scale_lattice(measure, name, d), name, d)
    return measure._cache[key]


def _log_count(sizes, name: str, d: int) -> float:
    if name == "antichain":
        logs = [gammaln(n + d - 1) - gammaln(d) - gammaln(n) for n in sizes]
    else:
        logs = [d * math.log(n) for n in sizes]
    top = max(logs)
    return float(top + math.log(sum(math.exp(v - top) for v in logs)))


def cell_masses(measure, name: str, n: int, d: int, p: float, k: int = 0) -> np.ndarray:
    """Masses v_c = int (phi_c / sup phi_c)^p dmu of the cells of grid n, in decreasing order,
    zeros dropped (lower confidence bounds for a :class:`SampledMeasure`)."""
    key = (name, int(n), float(p) if name == "holder" else 1.0, int(k))
    if key in measure._cache:
        return measure._cache[key]
    sampled = isinstance(measure, SampledMeasure)
    x = measure.sample if sampled else measure.points
    w = np.full(len(x), 1.0 / len(x)) if sampled else measure.weights
    cid, val = _profile_values(name, x, int(n), k)
    keep = (cid >= 0) & (val > 0)
    _, inverse = np.unique(cid[keep], return_inverse=True)
    v = np.bincount(inverse, weights=w[keep] * val[keep] ** p) if keep.any() else np.zeros(0)
    if sampled and len(v):
        log_inv = math.log(1.0 / measure.delta) + _union_log_count(measure, name, d)
        v = _kl_lower(np.minimum(v, 1.0), measure.n_samples, log_inv)
    v = np.sort(v[v > 0])[::-1]
    measure._cache[key] = v
    return v

"""Binary codes with a guaranteed size: the Gilbert-Varshamov bound and an explicit greedy code.

A packing family (:mod:`qornn.theory.packing`) is indexed by the words of a binary code of
length ``m`` and minimum Hamming distance ``t``; its size is what the lower bounds count.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln

from ..errors import ConfigError
from . import _validate as V

LN2 = math.log(2.0)


def binary_entropy(x):
    """H2(x) in bits, vectorised, with H2(0) = 0."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(x * np.log2(x) + (1 - x) * np.log2(1 - x))
    return np.where((x <= 0) | (x >= 1), 0.0, h)


def log_binom(m, i):
    """ln C(m, i), vectorised."""
    return gammaln(np.asarray(m) + 1.0) - gammaln(np.asarray(i) + 1.0) - gammaln(
        np.asarray(m) - np.asarray(i) + 1.0)


def gv_log_size(m: int, t: int, exact_limit: int = 20000) -> float:
    """Natural log of a size guaranteed by the Gilbert-Varshamov bound.

    A binary code of length ``m`` with minimum distance ``t`` and at least
    2^m / sum_{i<t} C(m, i) words exists (greedy construction).  The Hamming-ball volume is
    summed exactly for m <= ``exact_limit``; the entropy bound
    sum_{i<=lam m} C(m,i) <= 2^(m H2(lam)) (lam <= 1/2) is used as well, and the larger
    (both valid) guarantee is returned.
    """
    m = V.positive_int("m", m)
    t = V.positive_int("t", t)
    if t > m:
        raise ConfigError(f"t={t} is not allowed; the code distance must be between 1 and m={m}")
    if t == 1:
        return m * LN2
    best = -math.inf
    lam = (t - 1) / m
    if lam <= 0.5:
        best = m * LN2 * (1.0 - float(binary_entropy(lam)))
    if m <= exact_limit:
        i = np.arange(t)
        lb = log_binom(m, i)
        vol = float(lb.max() + np.log(np.exp(lb - lb.max()).sum()))
        best = max(best, m * LN2 - vol)
    return max(best, 0.0)


def vg_code(m: int) -> tuple[float, int]:
    """Varshamov-Gilbert in Tsybakov's form: for m >= 8, ln M >= m ln2 / 8 with distance >= m/8.

    Returned as (ln M, t), recomputed from :func:`gv_log_size` so it is proved here too.
    """
    m = V.positive_int("m", m, minimum=8)
    t = math.ceil(m / 8)
    return gv_log_size(m, t), t


def greedy_code(m: int, t: int, max_words: int | None = None) -> np.ndarray:
    """The lexicographic greedy code of length m <= 20 and minimum distance t (rows, 0/1).

    Scanning all 2^m words in order and keeping each word at distance >= t from the kept
    ones is exactly the Gilbert-Varshamov argument, so the result has at least
    exp(gv_log_size(m, t)) words.  Used by experiments and tests that need real codewords.
    """
    m = V.positive_int("m", m)
    t = V.positive_int("t", t)
    if m > 20:
        raise ConfigError(f"m={m} is too long for an explicit code; use m <= 20")
    kept = np.zeros(1 << m, dtype=np.int64)
    n_kept = 0
    popcount = np.array([bin(i).count("1") for i in range(1 << m)], dtype=np.int32) \
        if m <= 16 else None
    for w in range(1 << m):
        if n_kept:
            x = np.bitwise_xor(kept[:n_kept], w)
            dist = popcount[x] if popcount is not None else np.array(
                [bin(int(v)).count("1") for v in x])
            if dist.min() < t:
                continue
        kept[n_kept] = w
        n_kept += 1
        if max_words is not None and n_kept >= max_words:
            break
    words = kept[:n_kept]
    return ((words[:, None] >> np.arange(m)[None, :]) & 1).astype(np.int8)



def gv_largest_distance(m: int, log_size: float) -> int:
    """Largest t in [1, m] with ``gv_log_size(m, t) > log_size`` (0 if even t = 1 fails).

    ``gv_log_size`` is non-increasing in t (the Hamming ball grows), so this is a bisection:
    about log2(m) evaluations instead of one per t.

    >>> gv_largest_distance(2 ** 10, 100 * LN2)
    330
    """
    m = V.positive_int("m", m)
    if not gv_log_size(m, 1) > log_size:
        return 0
    lo, hi = 1, m  # invariant: lo passes; every t > hi fails
    while hi > lo:
        mid = (lo + hi + 1) // 2
        if gv_log_size(m, mid) > log_size:
            lo = mid
        else:
            hi = mid - 1
    return lo

"""Exhaustive enumeration of tiny finite-precision networks (to check Proposition B exactly).

A 1 -> h -> 1 ReLU network g(x) = sum_j v_j relu(w_j x + b_j) + c whose parameters each
take values in a finite set realises at most prod_j |levels_j| = 2^bits functions.
:func:`enumerate_relu_1d` evaluates all of them on a grid, and
:func:`exact_best_errors` gives, for every target, the exact best error over the class in
L^p(mu_grid), mu_grid = uniform measure on the grid - a setting in which Proposition B
(counting route) can be checked with no approximation at all.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ..errors import ConfigError
from . import _validate as V


def enumerate_relu_1d(x: np.ndarray, h: int, w_levels, b_levels, v_levels, c_levels,
                      max_configs: int = 2 ** 22) -> tuple[np.ndarray, float]:
    """Outputs (n_configs, len(x)) of every 1 -> h -> 1 ReLU net with parameters in the
    given level sets, and log2 of the number of configurations."""
    h = V.positive_int("h", h)
    x = np.asarray(x, dtype=float)
    w_levels, b_levels, v_levels, c_levels = (np.asarray(v, float) for v in
                                              (w_levels, b_levels, v_levels, c_levels))
    n_unit = len(w_levels) * len(b_levels) * len(v_levels)
    n_cfg = n_unit ** h * len(c_levels)
    if n_cfg > max_configs:
        raise ConfigError(f"{n_cfg} configurations is too many to enumerate (max {max_configs})")
    # contribution of one hidden unit for each (w, b, v)
    units = np.array([v * np.maximum(w * x + b, 0.0)
                      for w, b, v in itertools.product(w_levels, b_levels, v_levels)])
    out = np.zeros((1, len(x)))
    for _ in range(h):
        out = (out[:, None, :] + units[None, :, :]).reshape(-1, len(x))
    out = (out[:, None, :] + c_levels[None, :, None]).reshape(-1, len(x))
    return out, math.log2(n_cfg)


def pairwise_lp(A: np.ndarray, B: np.ndarray, p: float, chunk: int = 16) -> np.ndarray:
    """Matrix of L^p(uniform grid) distances between the rows of A and of B."""
    p = V.p_norm(p)
    out = np.empty((len(A), len(B)))
    for i in range(0, len(A), chunk):
        a = A[i:i + chunk]
        if p == 2:
            d2 = (a * a).mean(1)[:, None] + (B * B).mean(1)[None, :] - 2 * a @ B.T / A.shape[1]
            out[i:i + chunk] = np.sqrt(np.maximum(d2, 0.0))
        else:
            diff = np.abs(a[:, None, :] - B[None, :, :])
            out[i:i + chunk] = diff.max(-1) if math.isinf(p) else (diff ** p).mean(-1) ** (1 / p)
    return out


def exact_best_errors(targets: np.ndarray, outputs: np.ndarray, p: float) -> np.ndarray:
    """min over the class of ||f - g||_{L^p(mu_grid)} for every target row f."""
    return pairwise_lp(targets, outputs, p).min(axis=1)

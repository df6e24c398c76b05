"""How far is a k-bit quantized orthogonal matrix from orthogonal?

Quantizer (the library's definition, re-implemented here in NumPy): per-tensor symmetric
uniform quantization with alpha = max|W|; for k >= 2

    Q(W) = (alpha / 2^(k-1)) * clip(round(W 2^(k-1) / alpha), -2^(k-1), 2^(k-1) - 1),

and for k = 1 the ternary Q(W) = alpha * clip(round(W / alpha), -1, 1).  The step is
delta = alpha 2^(1-k) (k >= 2) or alpha (k = 1).

Deterministic bound (derived in docs/theory.md; the QORNN paper, Foucault, Mamalet &
Malgouyres, arXiv:2402.04012, announces bounds of this kind but its statement was not
available).  Let W be orthogonal, E = Q(W) - W.

* |E_ij| <= delta/2, except on *clipped* entries (W_ij >= alpha(1 - 2^-k), k >= 2) where
  |E_ij| <= delta.  Each row/column of W has unit norm, so it holds at most
  c = min(n, floor(1/(alpha(1 - 2^-k))^2)) clipped entries.
* ||E||_2 <= sqrt(||E||_1 ||E||_inf) <= (delta/2)(n + c)   and   ||E||_2 <= ||E||_F.
* Weyl: |sigma_i(Q(W)) - 1| <= ||E||_2 and ||Q^T Q - I||_2 <= 2||E||_2 + ||E||_2^2.
* Without knowing alpha (1/sqrt(n) <= alpha <= 1): ||E||_2 <= 2^-k (n + sqrt(n)/(1 - 2^-k))
  (k >= 2) and n/2 (k = 1).

Typical size (heuristic, random-matrix model): if the entries of E behaved like i.i.d.
centred variables of variance v, ||E||_2 ~ 2 sqrt(n v) (Bai-Yin).  With uniform rounding
errors v = delta^2/12, giving ||E||_2 ~ delta sqrt(n/3).  For a Haar-random W,
alpha ~ sqrt(4 ln n / n) gives ||E||_2 ~ 2^(2-k) sqrt(ln n / 3).  This is an estimate, not a
bound; :func:`typical_deviation` also offers ``model="gaussian"`` which computes v for
Gaussian entries N(0, 1/n) exactly (better for k <= 2).
"""
from __future__ import annotations

import math

import numpy as np
from ..errors import ConfigError, ShapeError
from . import _validate as V
from .bound import Bound, kind_from_sources


def quantize(W: np.ndarray, k: int) -> np.ndarray:
    """Per-tensor symmetric uniform k-bit quantization (k = 1: ternary); see module docstring."""
    k = V.bits("k", k)
    W = np.asarray(W, dtype=float)
    alpha = float(np.max(np.abs(W)))
    if alpha == 0.0:
        return np.zeros_like(W)
    if k == 1:
        return alpha * np.clip(np.round(W / alpha), -1, 1)
    levels = 2.0 ** (k - 1)
    return (alpha / levels) * np.clip(np.round(W * levels / alpha), -levels, levels - 1)


def step(alpha: float, k: int) -> float:
    """Quantization step delta (alpha 2^(1-k); alpha for ternary k = 1)."""
    k = V.bits("k", k)
    return alpha if k == 1 else alpha * 2.0 ** (1 - k)


def haar_orthogonal(n: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """A Haar-distributed n x n orthogonal matrix (QR of a Gaussian matrix, sign-corrected)."""
    n = V.positive_int("n", n)
    rng = rng if rng is not None else np.random.default_rng()
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))[None, :]


def _clip_count(n: int, alpha: float, k: int) -> int:
    if k == 1:
        return 0
    thr = alpha * (1 - 2.0 ** (-k))
    return int(min(n, math.floor(1.0 / (thr * thr) + 1e-12)))


def deterministic_deviation(n: int, k: int, alpha: float | None = None) -> Bound:
    """Upper bound on ||Q(W) - W||_2 for every n x n orthogonal W (with max|W| = alpha if
    given).  Certificate: the singular-value interval and ||Q^T Q - I||_2 bound (Weyl)."""
    n = V.positive_int("n", n)
    k = V.bits("k", k)
    if alpha is None:
        if k == 1:
            e = n / 2.0
        else:
            e = 2.0 ** (-k) * (n + math.sqrt(n) / (1 - 2.0 ** (-k)))
        a_txt = "any alpha in [1/sqrt(n), 1]"
        cert = {}
    else:
        alpha = V.positive_real("alpha", alpha)
        if alpha > 1 + 1e-12 or alpha < 1 / math.sqrt(n) - 1e-12:
            raise ConfigError(f"alpha={alpha:g} is impossible for an orthogonal {n}x{n} matrix; "
                              f"it must lie in [1/sqrt(n), 1] = [{1 / math.sqrt(n):.4g}, 1]")
        dlt = step(alpha, k)
        c = _clip_count(n, alpha, k)
        rowsum = dlt / 2 * (n + c)
        frob = dlt / 2 * math.sqrt(n * n + 3 * n * c)
        e = min(rowsum, frob)
        a_txt = f"alpha = max|W| = {alpha:g}"
        cert = {"delta": dlt, "clipped_per_row_max": c, "rowsum_bound": rowsum,
                "frobenius_bound": frob}
    return Bound(value=e, kind=kind_from_sources(("weyl",)), quantity="||Q(W) - W||_2 (upper bound)",
                 exponent=None, complexity="n, k",
                 assumptions=(f"W is {n}x{n} orthogonal, {a_txt}",
                              f"Q = per-tensor symmetric {k}-bit quantizer"
                              + (" (ternary)" if k == 1 else "")),
                 sources=("weyl",),
                 certificate={**cert, "sigma_min_ge": max(0.0, 1 - e), "sigma_max_le": 1 + e,
                              "gram_deviation_le": 2 * e + e * e})


def haar_alpha(n: int) -> float:
    """Typical max|W_ij| of a Haar-random orthogonal n x n matrix, sqrt(4 ln n / n) (n >= 2)."""
    n = V.positive_int("n", n, minimum=2)
    return min(1.0, math.sqrt(4 * math.log(n) / n))


def _gaussian_error_variance(n: int, k: int, alpha: float) -> float:
    """E[(Q(x) - x)^2] for x ~ N(0, 1/n) conditioned on |x| <= alpha (alpha = max|W| by
    definition), for the scalar quantizer with scale alpha (fine midpoint quadrature)."""
    sd = 1 / math.sqrt(n)
    x = np.linspace(-alpha, alpha, 400001)
    x = 0.5 * (x[1:] + x[:-1])
    w = np.exp(-0.5 * (x / sd) ** 2)
    if k == 1:
        qx = alpha * np.clip(np.round(x / alpha), -1, 1)
    else:
        lv, dlt = 2.0 ** (k - 1), step(alpha, k)
        qx = dlt * np.clip(np.round(x / dlt), -lv, lv - 1)
    return float(np.sum(w * (qx - x) ** 2) / np.sum(w))


def typical_deviation(n: int, k: int, alpha: float | None = None, model: str = "uniform") -> Bound:
    """Heuristic typical ||Q(W) - W||_2 for a Haar-like W: 2 sqrt(n v).

    ``model="uniform"``: v = delta^2/12 (i.i.d. uniform rounding errors), i.e.
    delta sqrt(n/3).  ``model="gaussian"``: v = E[(Q(x)-x)^2] for x ~ N(0, 1/n).
    ``alpha`` defaults to the Haar typical value sqrt(4 ln n / n).
    """
    n = V.positive_int("n", n, minimum=2)
    k = V.bits("k", k)
    a = haar_alpha(n) if alpha is None else V.positive_real("alpha", alpha)
    if model == "uniform":
        v = step(a, k) ** 2 / 12
    elif model == "gaussian":
        v = _gaussian_error_variance(n, k, a)
    else:
        raise ConfigError(f"model={model!r} is not supported; use 'uniform' or 'gaussian'")
    e = 2 * math.sqrt(n * v)
    return Bound(value=e, kind="heuristic", quantity="typical ||Q(W) - W||_2",
                 exponent=None, complexity="n, k",
                 assumptions=(f"entries of E modelled as i.i.d. centred with variance v ({model})",
                              f"alpha = {a:g}" + (" (Haar typical)" if alpha is None else "")),
                 sources=("bai_yin",),
                 certificate={"alpha": a, "variance": v, "sigma_min_approx": max(0.0, 1 - e),
                              "sigma_max_approx": 1 + e})


def measure_deviation(W: np.ndarray, k: int) -> dict[str, float]:
    """Measured quantities for one orthogonal W: alpha, ||E||_2, ||E||_F, max|E_ij|,
    sigma_min/max of Q(W) and ||Q^T Q - I||_2."""
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ShapeError(f"W has shape {W.shape}; a square matrix is needed")
    Q = quantize(W, k)
    E = Q - W
    sv = np.linalg.svd(Q, compute_uv=False)
    n = W.shape[0]
    return {"alpha": float(np.max(np.abs(W))), "E_2": float(np.linalg.norm(E, 2)),
            "E_F": float(np.linalg.norm(E)), "E_max": float(np.max(np.abs(E))),
            "sigma_min": float(sv.min()), "sigma_max": float(sv.max()),
            "gram_dev": float(np.linalg.norm(Q.T @ Q - np.eye(n), 2))}


def _sample_columns(mats, n: int, k: int) -> dict:
    """Measured ||E||_2 of quantized samples, each compared with the bound at its *own* alpha."""
    meas = [measure_deviation(W, k) for W in mats]
    own = [deterministic_deviation(n, k, alpha=m["alpha"]).value for m in meas]
    typ = [typical_deviation(n, k, alpha=m["alpha"], model="gaussian" if k == 1 else "uniform").value
           for m in meas]
    return {"measured mean": float(np.mean([m["E_2"] for m in meas])),
            "measured max": float(np.max([m["E_2"] for m in meas])),
            "bound at sample alpha (max)": float(np.max(own)),
            "max measured / own bound": float(np.max([m["E_2"] / b for m, b in zip(meas, own)])),
            "typical at sample alpha (mean)": float(np.mean(typ))}


def orthogonality_report(n: int, ks, alpha: float | None = None, samples: int = 0,
                         seed: int = 0) -> dict:
    """Table behind ``qornn bound orthogonality``: for each bit width k, the rigorous bound at
    alpha (given, or the Haar-typical sqrt(4 ln n / n)), the a-priori bound (any alpha), the
    heuristic typical size and, with ``samples`` Haar matrices, measured values each compared
    with the bound at the sample's own alpha (never with the Haar-typical one)."""
    n = V.positive_int("n", n, minimum=2)
    samples = V.positive_int("samples", samples, minimum=0)
    if samples > 10000:
        raise ConfigError(f"samples={samples} is not allowed; use 0..10000")
    a = haar_alpha(n) if alpha is None else V.positive_real("alpha", alpha)
    a_label = f"alpha={a:.3g}" + (" (Haar typical)" if alpha is None else " (given)")
    rng = np.random.default_rng(V.positive_int("seed", seed, minimum=0))
    mats = [haar_orthogonal(n, rng) for _ in range(samples)]
    rows, bounds = [], {}
    for k in ks:
        det = deterministic_deviation(n, k, alpha=a)
        typ = typical_deviation(n, k, alpha=a, model="gaussian" if k == 1 else "uniform")
        bounds.update({f"k{k}": det, f"k{k}_a_priori": deterministic_deviation(n, k),
                       f"k{k}_typical": typ})
        row = {"k": k, f"bound at {a_label}": det.value, "a priori (any alpha)": bounds[f"k{k}_a_priori"].value,
               f"typical at {a_label}": typ.value,
               "sigma range (bound)": f"[{det.certificate['sigma_min_ge']:.3g}, {det.certificate['sigma_max_le']:.3g}]"}
        if mats:
            row.update(_sample_columns(mats, n, k))
        rows.append(row)
    alphas = [float(np.max(np.abs(W))) for W in mats]
    return {"n": n, "alpha": a, "alpha_source": "Haar typical" if alpha is None else "given",
            "sample_alpha_range": [min(alphas), max(alphas)] if alphas else None,
            "rows": rows, "columns": list(rows[0].keys()) if rows else [], "bounds": bounds}

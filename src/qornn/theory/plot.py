"""Pictures of bound versus size: lower bounds, a constructive upper bound and rate-only
shapes on log-log axes, each labelled with how rigorous it is.

:func:`bound_curves` computes the series (no matplotlib); :func:`plot_bounds` draws them with
matplotlib's Agg canvas (no display, no global pyplot state) and writes the file atomically.
The x axis is the number of weights (``widths=`` given: the architecture is scaled), the
storage in bits (``bits=`` only) or the pseudo-dimension (``pdim=`` only).
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from . import _validate as V
from .bound import combine_kind
from .complexity import mlp_param_count
from .lower_bounds import lower_bound_holder, lower_bound_monotone, sup_norm_monotone
from .monotone_upper import upper_bound_monotone_for_bits, upper_bound_monotone_for_weights
from .rates import rate_shape
from .upper_bounds import upper_bound_holder_for_bits, upper_bound_holder_for_weights

KIND_LABELS = {"rigorous": "rigorous", "rigorous_if_sources_verified": "rigorous if sources verified",
               "heuristic": "heuristic", "rate_only": "rate only: shape, anchored"}
_FORMATS = (".png", ".pdf", ".svg")


def _series(label, points, style):
    """A plotted series from (x, Bound or None) pairs; zero/underflowing values are dropped."""
    pts = [(x, b) for x, b in points if b is not None and b.value is not None and b.value > 0]
    if not pts:
        return None
    kind = combine_kind(*(b.kind for _, b in pts))
    return {"label": f"{label} [{KIND_LABELS[kind]}]", "kind": kind, "style": style,
            "x": [float(x) for x, _ in pts], "y": [float(b.value) for _, b in pts]}


def _lower(target, **kw):
    return lower_bound_holder(**kw) if target == "holder" else lower_bound_monotone(
        **{k: v for k, v in kw.items() if k not in ("s", "R")})


def _widths_mode(target, widths, d, p, s, R, points):
    L, top = len(widths), max(widths)
    factors = np.unique(np.concatenate([np.geomspace(1.0 / top, 64.0, points), [1.0]]))
    archs = sorted({tuple(max(1, round(w * c)) for w in widths) for c in factors})
    xs = [mlp_param_count(list(a), d) for a in archs]
    kw = dict(d=d, p=p, s=s, R=R)
    lb = [(x, _lower(target, widths=list(a), **kw)) for x, a in zip(xs, archs)]
    fp32 = [(x, _lower(target, bits=32.0 * x, **kw)) for x in xs]
    ub_fn = (lambda x: upper_bound_holder_for_weights(x, s, d, p, R)) if target == "holder" else (
        lambda x: None if math.isinf(p) else upper_bound_monotone_for_weights(x, d, p))
    ub = [(x, ub_fn(x)) for x in xs]
    w0 = mlp_param_count(list(widths), d)
    series = [_series(f"lower bound, any real weights, depth {L}", lb, "b-o"),
              _series("lower bound, float32 weights (counting)", fp32, "r--"),
              _series(_ub_label(target, d), ub, "k-")]
    b0 = dict(lb).get(w0)
    rate = "pdim_holder" if target == "holder" else "pdim_monotone"
    if b0 is not None and b0.value > 0:
        series.append(_rate_series(rate, xs, (w0, b0.value), L, d, s, p))
    u0 = ub_fn(w0)
    if target == "holder" and u0 is not None:
        series.append(_rate_series("deep_holder", xs, (w0, u0.value), L, d, s, p))
    mark = (w0, f"widths {','.join(map(str, widths))} (W = {w0})")
    return "number of weights W (ReLU MLP, input d, one output)", series, mark


def _size_mode(target, key, size, d, p, s, R, points):
    xs = sorted(set(np.geomspace(max(1.0, size / 1e3), size * 1e3, points).tolist()) | {size})
    kw = dict(d=d, p=p, s=s, R=R)
    lb = [(x, _lower(target, **{key: x}, **kw)) for x in xs]
    if target == "holder":
        ub = [(x, upper_bound_holder_for_bits(x, s, d, R)) for x in xs]
    else:
        ub = [(x, None if math.isinf(p) else upper_bound_monotone_for_bits(x, d, p)) for x in xs]
    what = "bits" if key == "bits" else "pseudo-dimension"
    ub_label = ("upper bound, finite class with log2|G| <= bits" if key == "bits" else
                "upper bound, finite class with log2|G| <= D (so Pdim <= D)")
    how = " (piecewise Taylor)" if target == "holder" else " (adaptive dyadic cubes)"
    series = [_series(f"lower bound, any class with these {what}", lb, "b-o"),
              _series(ub_label + how, ub, "k-")]
    b0 = dict(lb).get(size)
    rate = "shallow_holder" if target == "holder" else "size_monotone"
    if b0 is not None and b0.value > 0:
        series.append(_rate_series(rate, xs, (size, b0.value), 1, d, s, p))
    xlabel = "storage in bits" if key == "bits" else "pseudo-dimension D"
    return xlabel, series, (size, f"{key} = {size:g}")


def _rate_series(rate, xs, anchor, L, d, s, p):
    pts = [(x, rate_shape(rate, x, anchor=anchor, L=L, d=d, s=s, p=p)) for x in xs]
    style = "y:" if "deep" in rate else "c-."
    return _series(f"{_rate_label(rate, s, d, p)}, anchored at the marked size", pts, style)


def _ub_label(target, d):
    if target == "holder":
        how = "piecewise-linear interpolation, 1 hidden layer" if d == 1 else "box net, 2 hidden layers"
    else:
        how = "steep ramps, 1 hidden layer" if d == 1 else "adaptive dyadic box net, 2 hidden layers"
    return f"upper bound, {how}"


def _rate_label(rate, s, d, p):
    e = -s / d if "holder" in rate else -1.0 / max(d, p * (d - 1))
    return {"pdim_holder": f"(W L log W)^({e:.3g})", "deep_holder": f"W^({2 * e:.3g}), very deep nets",
            "shallow_holder": f"size^({e:.3g})", "pdim_monotone": f"(W L log W)^({e:.3g})",
            "size_monotone": f"size^({e:.3g})"}[rate]


def bound_curves(target: str, *, d: int = 1, p: float = 2.0, s: float = 1.0, R: float = 1.0,
                 widths=None, pdim=None, bits=None, points: int = 16) -> dict:
    """The series of a bound-vs-size picture (see module docstring)."""
    if target not in ("holder", "monotone"):
        raise ConfigError(f"target={target!r} is not supported; use 'holder' or 'monotone'")
    d, p, s, R = V.dimension(d), V.p_norm(p), V.smoothness(s), V.positive_real("R", R)
    if widths is not None:
        xlabel, series, mark = _widths_mode(target, list(widths), d, p, s, R, points)
    elif bits is not None or pdim is not None:
        key, size = ("bits", bits) if bits is not None else ("pdim", pdim)
        xlabel, series, mark = _size_mode(target, key, V.size(key, size), d, p, s, R, points)
    else:
        raise ConfigError("no approximating class given; pass widths=, bits= or pdim=")
    if target == "monotone":
        sup = sup_norm_monotone(d)
        xs = [x for ser in series if ser for x in ser["x"]]
        ends = [(min(xs), sup), (max(xs), sup)]
        series.append(_series("sup-norm lower bound 1/2, any continuous class", ends, "g-"))
        title = f"monotone functions [0,1]^{d} -> [0,1], L^{p:g} error (Lebesgue)"
    else:
        title = f"Holder ball H^{s:g}_{d}(R={R:g}), L^{p:g} error on [0,1]^{d} (Lebesgue)"
    return {"title": title, "xlabel": xlabel, "series": [x for x in series if x], "mark": mark}


def _atomic_savefig(fig, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp made it private; give it a normal file's mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def plot_bounds(path, target: str, **kw) -> Path:
    """Draw :func:`bound_curves` to ``path`` (.png, .pdf or .svg), log-log, legend below."""
    path = Path(path)
    if path.suffix.lower() not in _FORMATS:
        raise ConfigError(f"plot file {path} is not allowed; use a name ending in {', '.join(_FORMATS)}")
    if not path.parent.resolve().is_dir():
        raise ConfigError(f"plot file {path}: folder {path.parent} does not exist")
    curves = bound_curves(target, **kw)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 7))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.1, 0.31, 0.86, 0.63))
    for ser in curves["series"]:
        ax.loglog(ser["x"], ser["y"], ser["style"], label=ser["label"], ms=3,
                  lw=2 if ser["style"] == "k-" else 1.3)
    bounds = [y for ser in curves["series"] if ser["kind"] != "rate_only" for y in ser["y"]]
    ax.set_ylim(min(bounds) / 5, max(bounds) * 5)  # rate-only shapes may leave the frame
    x0, label = curves["mark"]
    ax.axvline(x0, color="0.5", ls=":", lw=1, label=label)
    ax.set_xlabel(curves["xlabel"])
    ax.set_ylabel("worst-case error over the class")
    ax.set_title(curves["title"], fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", bbox_to_anchor=(0.5, 0.005),
               fontsize=8.5, ncol=1, frameon=False)
    _atomic_savefig(fig, path)
    return path

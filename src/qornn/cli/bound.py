"""``qornn bound``: approximation lower bounds and quantized-orthogonality bounds.

Subcommands
  holder         lower bound for a Holder ball H^s_d(R) (pseudo-dimension and/or bits)
  monotone       lower bound for monotone functions [0,1]^d -> [0,1]
  bits           what a storage size (``--bits B`` or a trained RUN_DIR) implies
  orthogonality  how far a k-bit quantized orthogonal matrix can be from orthogonal

Theory: docs/theory.md (Achour et al., NeurIPS 2022, arXiv:2206.04360, and derived variants).
"""
from __future__ import annotations

import math

from ..errors import CheckpointError, ConfigError
from .common import print_json


# ----------------------------------------------------------------------------- parsing
def _num(name: str, text, kind: str = "float"):
    """Convert a command-line string; errors are one-line ConfigErrors naming the option."""
    if text is None:
        return None
    t = str(text).strip().lower()
    try:
        if kind == "int":
            v = float(t)
            if not math.isfinite(v) or v != int(v):
                raise ValueError
            return int(v)
        if t in ("inf", "infinity", "oo"):
            return math.inf
        return float(t)
    except ValueError:
        allowed = "an integer" if kind == "int" else "a number (or inf)"
        raise ConfigError(f"--{name}={text} is not allowed; it must be {allowed}") from None


def _widths(text):
    if text is None:
        return None
    try:
        ws = [int(w) for w in str(text).replace("x", ",").split(",") if w.strip()]
    except ValueError:
        raise ConfigError(f"--widths={text} is not allowed; give comma-separated hidden widths, e.g. 32,32") from None
    if not ws or min(ws) < 1 or max(ws) > 10 ** 9:
        raise ConfigError(f"--widths={text} is not allowed; every hidden width must be an integer in 1..1e9")
    return ws


def _measure(path, d: int):
    """A discrete measure from a .npy / text file: n x d points (uniform) or n x (d+1) with weights."""
    if path is None:
        return None
    import warnings

    import numpy as np

    from .. import theory as T
    from ..errors import DataError

    try:
        if str(path).endswith(".npy"):
            x = np.load(path)
        else:
            with open(path) as f:
                sep = "," if "," in f.readline() else None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # an empty file is reported below, in one line
                x = np.loadtxt(path, delimiter=sep, ndmin=2)
    except (OSError, ValueError) as exc:
        raise DataError(f"--measure={path} could not be read as a table of numbers ({type(exc).__name__})") from None
    if np.size(x) == 0:
        raise DataError(f"--measure={path} holds no points; give n x d points (or n x (d+1) with weights)")
    x = np.asarray(x, dtype=float).reshape(len(x), -1)
    if x.shape[1] not in (d, d + 1):
        raise DataError(f"--measure={path} has {x.shape[1]} columns; need d={d} (points) or d+1 (points, weight)")
    return T.DiscreteMeasure(x[:, :d], x[:, d] if x.shape[1] == d + 1 else None)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if math.isinf(v):
            return "inf"
        return f"{v:.4g}"
    return str(v)


def _table(rows: list[dict], cols: list[str]) -> None:
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in cols}
    print("  ".join(f"{c:<{widths[c]}}" for c in cols))
    for r in rows:
        print("  ".join(f"{_fmt(r.get(c)):<{widths[c]}}" for c in cols).rstrip())


def _value_text(b) -> str:
    """The value, or why it is 0: an underflow (with its power of ten) or a trivial bound."""
    if b.value is not None and b.value == 0 and b.log10_value is not None and math.isfinite(b.log10_value):
        return f"10^{b.log10_value:.2f} (underflow)"
    if b.value == 0 and b.note:
        return f"0 ({b.note})"
    return _fmt(b.value)


def _row(label: str, b) -> dict:
    rate = "-" if b.exponent is None else (
        f"{b.complexity}^{b.exponent:.3g}" + (f" log^{b.log_power:.3g}" if b.log_power else ""))
    return {"quantity": label, "value": _value_text(b), "kind": b.kind, "rate": rate}


COLS = ["quantity", "value", "kind", "rate"]


def _emit(args, rows: list[dict], bounds: dict, header: str) -> int:
    if getattr(args, "plot", None):
        rows.append({"quantity": "plot written", "value": str(args.plot_written), "kind": "-", "rate": "-"})
    if args.json:
        out = {"command": f"bound {args.bound_command}", "bounds": {k: b.to_dict() for k, b in bounds.items()}}
        if getattr(args, "plot", None):
            out["plot"] = str(args.plot_written)
        print_json(out)
        return 0
    print(header)
    _table(rows, COLS)
    return 0


def _common(p, *, complexity: bool = True) -> None:
    p.add_argument("--d", default="1", help="input dimension (integer >= 1, default 1)")
    p.add_argument("--p", default="2", help="L^p exponent, >= 1 or inf (default 2)")
    if complexity:
        g = p.add_argument_group("approximating class (at least one)")
        g.add_argument("--pdim", help="pseudo-dimension of the class")
        g.add_argument("--fat", help="bound on the fat-shattering dimension of the class (every scale)")
        g.add_argument("--widths", help="hidden widths of a ReLU MLP, e.g. 32,32 (pdim computed)")
        g.add_argument("--bits", help="storage size of the model in bits (counting route)")
        p.add_argument("--measure", metavar="FILE", help="error in L^p(mu), mu = the points of FILE "
                       "(.npy or text; n x d, or n x (d+1) with weights); default Lebesgue")
        p.add_argument("--eps", help="also report the sizes *necessary* for this error")
        p.add_argument("--depth", default="1", help="hidden layers for the necessary-weights report")
        p.add_argument("--plot", metavar="FILE.png", help="draw lower bound, constructive upper bound and "
                       "rate-only curve against the number of weights (or bits, or pdim)")
    p.add_argument("--json", action="store_true", help="print JSON")


# ----------------------------------------------------------------------------- commands
def _class_kwargs(args):
    kw = {}
    for name in ("pdim", "fat", "bits"):
        if getattr(args, name, None) is not None:
            kw[name] = _num(name, getattr(args, name))
    if args.widths is not None:
        kw["widths"] = _widths(args.widths)
    if not kw:
        raise ConfigError("no approximating class given; pass --pdim D, --fat F, --widths W1,W2 or --bits B")
    if "pdim" in kw and "widths" in kw:
        raise ConfigError("give either --pdim or --widths, not both")
    return kw


def _inverse_rows(args, target, rows, bounds, **kw):
    from .. import theory as T

    if args.eps is None:
        return
    eps = _num("eps", args.eps)
    depth = _num("depth", args.depth, "int")
    B = T.minimal_bits_for_error(eps, target=target, **kw)
    D = T.minimal_pdim_for_error(eps, target=target, **kw)
    W = T.minimal_weights_for_error(eps, target=target, depth=depth, **kw)
    bounds.update(necessary_bits=B, necessary_pdim=D, necessary_weights=W)
    rows += [{"quantity": f"necessary (not sufficient) for eps={eps:g}: bits >=", "value": int(B.value),
              "kind": B.kind, "rate": "-"},
             {"quantity": f"necessary (not sufficient) for eps={eps:g}: pdim >=", "value": int(D.value),
              "kind": D.kind, "rate": "-"},
             {"quantity": f"necessary (not sufficient): weights, depth {depth} >=", "value": int(W.value),
              "kind": W.kind, "rate": "-"}]


def _lower_rows(lower, rows, bounds, d, kw):
    """The pdim row (for --widths) and the lower-bound rows of each route."""
    from .. import theory as T

    real = {k: v for k, v in kw.items() if k != "bits"}
    if "widths" in kw:
        D = T.pdim_upper(kw["widths"], d)
        bounds["pdim"] = D
        rows.append({"quantity": f"pdim <= (smallest bound: {D.certificate['chosen']})",
                     "value": _fmt(D.value), "kind": D.kind, "rate": "-"})
    if real:
        bounds["real_weights"] = lower(**real)
        rows.append(_row("lower bound, " + " / ".join(sorted(real)), bounds["real_weights"]))
    if "bits" in kw:
        bounds["bits_route"] = lower(bits=kw["bits"])
        rows.append(_row("lower bound, bits (counting)", bounds["bits_route"]))


def _plot(args, target, d, p, s=1.0, R=1.0) -> None:
    from ..theory.plot import plot_bounds

    if args.plot is None:
        return
    if args.measure is not None:
        raise ConfigError("--plot draws Lebesgue-measure bounds; drop --measure")
    kw = _class_kwargs(args)
    if "fat" in kw and len(kw) == 1:
        raise ConfigError("--plot needs --widths, --bits or --pdim (not only --fat)")
    size = {"widths": kw.get("widths"), "bits": kw.get("bits"), "pdim": kw.get("pdim")}
    args.plot_written = plot_bounds(args.plot, target, d=d, p=p, s=s, R=R, **size)


def cmd_holder(args) -> int:
    from .. import theory as T

    d, p = _num("d", args.d, "int"), _num("p", args.p)
    s, R = _num("s", args.s), _num("R", args.R)
    kw = _class_kwargs(args)
    mu = _measure(args.measure, d)
    rows, bounds = [], {}
    _lower_rows(lambda **c: T.lower_bound_holder(d=d, s=s, p=p, R=R, measure=mu, **c),
                rows, bounds, d, kw)
    _inverse_rows(args, "holder", rows, bounds, d=d, p=p, s=s, R=R)
    _plot(args, "holder", d, p, s, R)
    mu_text = "Lebesgue" if mu is None else mu.describe()
    return _emit(args, rows, bounds, f"worst-case L^{_fmt(p)}(mu) error over the Holder ball "
                 f"H^{_fmt(s)}_{d}(R={_fmt(R)}) on [0,1]^{d}, mu = {mu_text}")


def cmd_monotone(args) -> int:
    from .. import theory as T

    d, p = _num("d", args.d, "int"), _num("p", args.p)
    kw = _class_kwargs(args)
    mu = _measure(args.measure, d)
    rows, bounds = [], {}
    _lower_rows(lambda **c: T.lower_bound_monotone(d=d, p=p, measure=mu, **c),
                rows, bounds, d, kw)
    if not math.isinf(p):
        _inverse_rows(args, "monotone", rows, bounds, d=d, p=p)
    _plot(args, "monotone", d, p)
    mu_text = "Lebesgue" if mu is None else mu.describe()
    return _emit(args, rows, bounds, f"worst-case L^{_fmt(p)}(mu) error over monotone functions "
                 f"[0,1]^{d} -> [0,1], mu = {mu_text}")


def _bits_from_run(run_dir: str) -> int:
    try:
        from ..size import model_size_from_run
    except ImportError as exc:
        raise ConfigError(f"cannot read model sizes in this build ({exc}); pass --bits B instead") from None
    from pathlib import Path

    path = Path(run_dir)
    if not path.is_dir() or not (path / "config.yaml").exists():
        raise CheckpointError(f"{run_dir} is not a run folder (no config.yaml); pass a trained run or --bits B")
    try:
        size = model_size_from_run(path)
    except (CheckpointError, ConfigError):
        raise
    except Exception as exc:  # a broken run folder: report one line, no traceback
        raise CheckpointError(f"could not read the model in {run_dir}: {type(exc).__name__}: {exc}") from None
    return int(size["total_bits"])


def cmd_bits(args) -> int:
    from .. import theory as T

    if (args.run_dir is None) == (args.bits is None):
        raise ConfigError("give exactly one of RUN_DIR or --bits B")
    bits = _bits_from_run(args.run_dir) if args.run_dir is not None else _num("bits", args.bits)
    if bits < 0:
        raise ConfigError(f"--bits={args.bits} is not allowed; it must be >= 0")
    d, p, s = _num("d", args.d, "int"), _num("p", args.p), _num("s", args.s)
    rows = [{"quantity": "storage", "value": f"{bits:g} bits", "kind": "-", "rate": "-"}]
    bounds = {"holder": T.lower_bound_holder(d=d, s=s, p=p, bits=bits)}
    rows.append(_row(f"Holder H^{_fmt(s)}_{d}(1), L^{_fmt(p)} error >=", bounds["holder"]))
    if not math.isinf(p):
        bounds["monotone"] = T.lower_bound_monotone(d=d, p=p, bits=bits)
        rows.append(_row(f"monotone [0,1]^{d}, L^{_fmt(p)} error >=", bounds["monotone"]))
    # windows of k bits with 2^k > bits: shorter ones are all computable (trivial bound 0)
    k0 = max(1, int(math.floor(math.log2(max(bits, 1.0)))) + 1)
    for k in range(min(k0, 40), min(k0 + 3, 40) + 1):
        b = T.lower_bound_boolean_window(bits=bits, k=k)
        bounds[f"window_k{k}"] = b
        rows.append({"quantity": f"some {k}-bit window function: error rate >=", "value": _value_text(b),
                     "kind": b.kind, "rate": "-"})
    src = args.run_dir if args.run_dir is not None else "--bits"
    return _emit(args, rows, bounds,
                 f"what {bits:g} bits ({src}) imply: every model stored in them has, for some target,")


def cmd_orthogonality(args) -> int:
    from .. import theory as T

    n = _num("n", args.n, "int")
    ks = [_num("k", k, "int") for k in str(args.k).split(",") if k.strip()]
    if n is None or n < 2:
        raise ConfigError(f"--n={args.n} is not allowed; the matrix size must be an integer >= 2")
    samples = _num("samples", args.samples, "int")
    if samples < 0 or samples > 10000:
        raise ConfigError(f"--samples={args.samples} is not allowed; use 0..10000")
    rep = T.orthogonality_report(n, ks, alpha=_num("alpha", args.alpha), samples=samples,
                                 seed=_num("seed", args.seed, "int"))
    if args.json:
        print_json({"command": "bound orthogonality", **{k: v for k, v in rep.items() if k != "bounds"},
                    "bounds": {k: b.to_dict() for k, b in rep["bounds"].items()}})
        return 0
    print(f"||E||_2 for a k-bit quantized {n}x{n} orthogonal W, E = Q(W) - W, alpha = max|W|")
    print("bound / a priori: rigorous (Weyl gives the sigma range); typical: heuristic")
    if rep["sample_alpha_range"]:
        lo, hi = rep["sample_alpha_range"]
        print(f"{samples} Haar samples, alpha in [{lo:.3g}, {hi:.3g}]: each measured ||E||_2 is "
              "compared with the bound at its own alpha")
    _table(rep["rows"], rep["columns"])
    return 0


def register(sub) -> None:
    parser = sub.add_parser("bound", help="approximation lower bounds and quantized-orthogonality bounds",
                            description=__doc__.split("\n\n")[1] if __doc__ else None)
    bsub = parser.add_subparsers(dest="bound_command", metavar="SUBCOMMAND")
    bsub.required = True

    p = bsub.add_parser("holder", help="lower bound for the Holder ball H^s_d(R)")
    _common(p)
    p.add_argument("--s", default="1", help="smoothness s > 0 (default 1: Lipschitz)")
    p.add_argument("--R", default="1", help="radius of the Holder ball (default 1)")
    p.set_defaults(func=cmd_holder)

    p = bsub.add_parser("monotone", help="lower bound for monotone functions [0,1]^d -> [0,1]")
    _common(p)
    p.set_defaults(func=cmd_monotone)

    p = bsub.add_parser("bits", help="what a storage size (or a trained run) implies")
    p.add_argument("run_dir", nargs="?", metavar="RUN_DIR", help="trained run folder")
    p.add_argument("--bits", help="storage size in bits (instead of RUN_DIR)")
    p.add_argument("--d", default="1", help="input dimension for the Holder/monotone rows (default 1)")
    p.add_argument("--s", default="1", help="Holder smoothness (default 1)")
    p.add_argument("--p", default="2", help="L^p exponent (default 2)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_bits)

    p = bsub.add_parser("orthogonality", help="deviation from orthogonality of a k-bit quantized orthogonal matrix")
    p.add_argument("--n", default="64", help="matrix size (default 64)")
    p.add_argument("--k", default="1,2,3,4,6,8", help="bit widths, comma separated (1 = ternary)")
    p.add_argument("--alpha", help="max|W| for the bound and typical columns (default: the Haar-typical "
                   "sqrt(4 ln n / n)); sampled matrices always use their own alpha")
    p.add_argument("--samples", default="0", help="also measure this many quantized Haar matrices")
    p.add_argument("--seed", default="0", help="seed for --samples")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_orthogonality)

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
    if not ws or min(ws) < 1:
        raise ConfigError(f"--widths={text} is not allowed; every hidden width must be an integer >= 1")
    return ws


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
        print("  ".join(f"{_fmt(r.get(c)):<{widths[c]}}" for c in cols))


def _row(label: str, b) -> dict:
    return {"quantity": label, "value": b.value, "kind": b.kind,
            "rate": ("-" if b.exponent is None else
                     f"{b.complexity}^{b.exponent:.3g}" + (f" log^{b.log_power:.3g}" if b.log_power else ""))}


COLS = ["quantity", "value", "kind", "rate"]


def _emit(args, rows: list[dict], bounds: dict, header: str) -> int:
    if args.json:
        print_json({"command": f"bound {args.bound_command}", "bounds":
                    {k: b.to_dict() for k, b in bounds.items()}})
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
        g.add_argument("--widths", help="hidden widths of a ReLU MLP, e.g. 32,32 (pdim computed)")
        g.add_argument("--bits", help="storage size of the model in bits (counting route)")
        p.add_argument("--eps", help="also report the minimal pdim / bits / weights for this error")
        p.add_argument("--depth", default="1", help="hidden layers for the minimal-weights report")
    p.add_argument("--json", action="store_true", help="print JSON")


# ----------------------------------------------------------------------------- commands
def _class_kwargs(args):
    kw = {}
    if args.pdim is not None:
        kw["pdim"] = _num("pdim", args.pdim)
    if args.widths is not None:
        kw["widths"] = _widths(args.widths)
    if args.bits is not None:
        kw["bits"] = _num("bits", args.bits)
    if not kw:
        raise ConfigError("no approximating class given; pass --pdim D, --widths W1,W2 or --bits B")
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
    bounds.update(min_bits=B, min_pdim=D, min_weights=W)
    rows += [{"quantity": f"min bits for eps={eps:g}", "value": int(B.value), "kind": B.kind, "rate": "-"},
             {"quantity": f"min pdim for eps={eps:g}", "value": int(D.value), "kind": D.kind, "rate": "-"},
             {"quantity": f"min weights, depth {depth}", "value": int(W.value), "kind": W.kind, "rate": "-"}]


def cmd_holder(args) -> int:
    from .. import theory as T

    d, p = _num("d", args.d, "int"), _num("p", args.p)
    s, R = _num("s", args.s), _num("R", args.R)
    kw = _class_kwargs(args)
    rows, bounds = [], {}
    if "pdim" in kw or "widths" in kw:
        b = T.lower_bound_holder(d=d, s=s, p=p, R=R, **{k: v for k, v in kw.items() if k != "bits"})
        bounds["pdim_route"] = b
        rows.append(_row("lower bound, pdim route", b))
        if "widths" in kw:
            rows.insert(0, {"quantity": "pdim (upper bound)", "value": b.certificate["D"],
                            "kind": "rigorous_if_sources_verified", "rate": "-"})
    if "bits" in kw:
        b = T.lower_bound_holder(d=d, s=s, p=p, R=R, bits=kw["bits"])
        bounds["bits_route"] = b
        rows.append(_row("lower bound, bits route", b))
    _inverse_rows(args, "holder", rows, bounds, d=d, p=p, s=s, R=R)
    return _emit(args, rows, bounds,
                 f"worst-case L^{_fmt(p)} error over the Holder ball H^{_fmt(s)}_{d}(R={_fmt(R)}) on [0,1]^{d}")


def cmd_monotone(args) -> int:
    from .. import theory as T

    d, p = _num("d", args.d, "int"), _num("p", args.p)
    kw = _class_kwargs(args)
    rows, bounds = [], {}
    if "pdim" in kw or "widths" in kw:
        b = T.lower_bound_monotone(d=d, p=p, **{k: v for k, v in kw.items() if k != "bits"})
        bounds["pdim_route"] = b
        rows.append(_row("lower bound, pdim route", b))
    if "bits" in kw:
        b = T.lower_bound_monotone(d=d, p=p, bits=kw["bits"])
        bounds["bits_route"] = b
        rows.append(_row("lower bound, bits route", b))
    if not math.isinf(p):
        _inverse_rows(args, "monotone", rows, bounds, d=d, p=p)
    return _emit(args, rows, bounds,
                 f"worst-case L^{_fmt(p)} error over monotone functions [0,1]^{d} -> [0,1]")


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
    k0 = max(1, int(math.floor(math.log2(max(bits, 1.0)))))
    for k in range(k0, min(k0 + 4, 40) + 1):
        b = T.lower_bound_boolean_window(bits=bits, k=k)
        bounds[f"window_k{k}"] = b
        rows.append({"quantity": f"some {k}-bit window function: error rate >=", "value": b.value,
                     "kind": b.kind, "rate": "-"})
    src = args.run_dir if args.run_dir is not None else "--bits"
    return _emit(args, rows, bounds,
                 f"what {bits:g} bits ({src}) imply: every model stored in them has, for some target,")


def cmd_orthogonality(args) -> int:
    import numpy as np

    from .. import theory as T

    n = _num("n", args.n, "int")
    ks = [_num("k", k, "int") for k in str(args.k).split(",") if k.strip()]
    alpha = _num("alpha", args.alpha)
    samples = _num("samples", args.samples, "int")
    if samples < 0 or samples > 10000:
        raise ConfigError(f"--samples={args.samples} is not allowed; use 0..10000")
    if n is None or n < 2:
        raise ConfigError(f"--n={args.n} is not allowed; the matrix size must be an integer >= 2")
    rng = np.random.default_rng(_num("seed", args.seed, "int"))
    mats = [T.haar_orthogonal(n, rng) for _ in range(samples)]
    rows, bounds = [], {}
    for k in ks:
        det = T.deterministic_deviation(n, k, alpha=alpha if alpha is not None else T.haar_alpha(n))
        apri = T.deterministic_deviation(n, k)
        typ = T.typical_deviation(n, k, alpha=alpha, model="gaussian" if k == 1 else "uniform")
        bounds[f"k{k}"] = det
        bounds[f"k{k}_a_priori"] = apri
        bounds[f"k{k}_typical"] = typ
        row = {"k": k, "bound at alpha": det.value, "a priori": apri.value, "typical": typ.value,
               "sigma range (bound)": f"[{det.certificate['sigma_min_ge']:.3g}, {det.certificate['sigma_max_le']:.3g}]"}
        if mats:
            meas = [T.measure_deviation(W, k) for W in mats]
            row["measured mean"] = float(np.mean([m["E_2"] for m in meas]))
            row["measured max"] = float(np.max([m["E_2"] for m in meas]))
            bounds[f"k{k}_measured"] = row.copy()
        rows.append(row)
    if args.json:
        out = {"command": "bound orthogonality", "n": n,
               "alpha": alpha if alpha is not None else T.haar_alpha(n), "rows": rows,
               "bounds": {k: (b.to_dict() if hasattr(b, "to_dict") else b) for k, b in bounds.items()}}
        print_json(out)
        return 0
    a_txt = f"{alpha:g}" if alpha is not None else f"{T.haar_alpha(n):.3g} (Haar typical)"
    print(f"||E||_2 for a k-bit quantized {n}x{n} orthogonal W, E = Q(W) - W, alpha = max|W| = {a_txt}")
    print("bound at alpha / a priori (any alpha): rigorous (Weyl gives sigma range); typical: heuristic")
    cols = ["k", "bound at alpha", "a priori", "typical", "sigma range (bound)"]
    if mats:
        cols += ["measured mean", "measured max"]
    _table(rows, cols)
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
    p.add_argument("--alpha", help="max|W| (default: the Haar typical value for the typical column)")
    p.add_argument("--samples", default="0", help="also measure this many quantized Haar matrices")
    p.add_argument("--seed", default="0", help="seed for --samples")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_orthogonality)

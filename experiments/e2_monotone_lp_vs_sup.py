"""E2: L^p versus sup norm on monotone targets.

Targets (non-decreasing, values in [0,1]): the jump 1{x_1 >= 1/2} and a random member of the
staircase packing family, in d = 1 and d = 2.  ReLU nets of growing size are trained on the L^2
loss; L^1, L^2, L^4 errors decay with W, while the sup error stays >= 1/2 for the jump whatever
the network (a continuous g cannot follow a jump: docs/theory.md).  The sup error is measured on
the closure of the target's graph: at every grid point both the value and the limit from below
are compared with g.
"""
from _common import fit_slope, md_table, np, parse_args, plt, write_summary
from _torchfit import fit, n_params, predict

import qornn.theory as T

ETA = 1e-9


def grid(n: int, d: int) -> np.ndarray:
    g1 = (np.arange(n) + 0.5) / n
    return g1.reshape(-1, 1) if d == 1 else np.stack(np.meshgrid(g1, g1, indexing="ij"), -1).reshape(-1, 2)


def closed_grid(n: int, d: int) -> np.ndarray:
    """Grid including the points k/n (where the targets jump)."""
    g1 = np.arange(n + 1) / n
    return g1.reshape(-1, 1) if d == 1 else np.stack(np.meshgrid(g1, g1, indexing="ij"), -1).reshape(-1, 2)


def main() -> None:
    args = parse_args(__doc__)
    rng = np.random.default_rng(args.seed)
    steps = 30 if args.tiny else 2000
    N_stair = 4 if args.tiny else 8
    setups = []
    for d in (1, 2):
        fam = T.monotone_staircase_family(N_stair, d, 2.0)
        sig = rng.integers(0, 2, fam.m)
        setups.append((d, "jump 1{x1>=1/2}", lambda x: (x[:, 0] >= 0.5).astype(float)))
        setups.append((d, f"staircase member (N={N_stair})", (lambda f, s: (lambda x: f.member(s, x)))(fam, sig)))
    archs = {1: ([[2], [8]] if args.tiny else [[w] for w in (2, 4, 8, 16, 32, 64, 128)]),
             2: ([[4, 4]] if args.tiny else [[w, w] for w in (4, 8, 16, 32, 64)])}
    n_tr = {1: 256 if args.tiny else 2048, 2: 16 if args.tiny else 48}
    rows = []
    for d, tname, f in setups:
        x_tr = grid(n_tr[d], d)
        y_tr = f(x_tr)
        x_ev = closed_grid(4 * n_tr[d] if d == 1 else 2 * n_tr[d], d)
        y_ev, y_left = f(x_ev), f(np.clip(x_ev - ETA, 0, 1))
        x_in = grid(4 * n_tr[d] if d == 1 else 2 * n_tr[d], d)
        y_in = f(x_in)
        for widths in archs[d]:
            model = fit(x_tr, y_tr, widths, steps, seed=args.seed, lr=1e-2)
            err = predict(model, x_in) - y_in
            g = predict(model, x_ev)
            sup = float(np.maximum(np.abs(g - y_ev), np.abs(g - y_left)).max())
            rows.append({"d": d, "target": tname, "widths": "x".join(map(str, widths)), "W": n_params(model),
                         "L1": float(np.mean(np.abs(err))), "L2": float(np.sqrt(np.mean(err ** 2))),
                         "L4": float(np.mean(err ** 4) ** 0.25), "sup (closure)": sup})
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    slopes = []
    for ax, d in zip(axes, (1, 2)):
        for tname in dict.fromkeys(r["target"] for r in rows if r["d"] == d):
            rr = [r for r in rows if r["d"] == d and r["target"] == tname]
            W = [r["W"] for r in rr]
            for key, ls in (("L1", "o-"), ("L2", "s-"), ("L4", "^-"), ("sup (closure)", "x--")):
                ax.loglog(W, [r[key] for r in rr], ls, label=f"{tname}: {key}")
            slopes.append({"d": d, "target": tname, **{f"slope {k}": fit_slope(W, [r[k] for r in rr])
                                                       for k in ("L1", "L2", "L4", "sup (closure)")},
                           "slope L1 without the smallest net": fit_slope(W[1:], [r["L1"] for r in rr[1:]])})
        Ws = np.array(sorted({r["W"] for r in rows if r["d"] == d}))
        ax.axhline(0.5, color="k", lw=1.5, label="sup-norm LB = 1/2 (any continuous g)")
        wid = [[int(w)] * (1 if d == 1 else 2) for w in (archs[d][i][0] for i in range(len(archs[d])))]
        for p, ls in ((1, "b:"), (2, "g:")):
            lb = [T.lower_bound_monotone(d=d, p=p, widths=w).value for w in wid]
            ax.loglog(Ws, lb, ls, label=f"L{p} LB (pdim route)")
        ubs = [T.upper_bound_monotone_for_weights(float(w), d, 2.0) for w in Ws]
        ax.loglog([w for w, u in zip(Ws, ubs) if u], [u.value for u in ubs if u], "k-.", lw=0.8,
                  label="L2 UB, construction with <= W weights (rigorous)")
        ax.set_xlabel("number of weights W")
        ax.set_ylabel("error")
        ax.set_title(f"monotone targets, d = {d}")
        ax.legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    fig.savefig(args.out / "e2_monotone_lp_vs_sup.png", dpi=120)
    jump_sup = [r["sup (closure)"] for r in rows if r["target"].startswith("jump")]
    steep = min(slopes, key=lambda r: r["slope L1"] if np.isfinite(r["slope L1"]) else 0.0)
    body = f"""
Monotone targets, {steps} full-batch Adam steps (L^2 loss) per net, 1 seed.

* The sup error (on the closure of the target's graph) of every network on the jump target is
  >= {min(jump_sup):.3f}, consistent with the rigorous sup-norm lower bound 1/2, which holds for any class
  of continuous functions whatever its size: monotone functions have no sup-norm approximation
  rate at all.
* Worst-case theory (over the whole class; derived in docs/theory.md, sections 3-4, not taken from
  the paper, whose abstract only says its bounds shed light on L^p-vs-sup differences): d = 1:
  W^-1 in every L^p; d = 2: D^(-1/max(d, p(d-1))), i.e. exponent -1/2 for p <= 2 and -1/(p(d-1))
  beyond.  The dash-dotted curve is a rigorous L^2 upper bound of a construction with W weights.
* The trained networks do **not** show these rates: the fitted L^p slopes below are between
  {min(v for r in slopes for k, v in r.items() if k.startswith("slope L")):.2f} and {max(v for r in slopes for k, v in r.items() if k.startswith("slope L")):.2f}.  The steepest L^1 slope, {steep["slope L1"]:.2f}
  (d = {steep["d"]}, {steep["target"]}), becomes {steep["slope L1 without the smallest net"]:.2f} without the smallest net: {"it rests on that one point, and no target shows a clear decay" if steep["slope L1 without the smallest net"] > -0.3 else "a decay that does not rest on one point"}.
  Gradient training on an L^2 loss over a finite grid plateaus
  (the fit cannot be sharper than the training grid and Adam does not place kinks precisely).
  The sup-norm floor 1/2, in contrast, is a property of every continuous network and is seen everywhere.

Fitted slopes vs W (trained nets, specific targets - not the worst case):

{md_table(slopes, list(slopes[0].keys()))}

All runs:

{md_table(rows, list(rows[0].keys()))}
"""
    write_summary(args, "e2_monotone_lp_vs_sup", "E2: L^p vs sup norm on monotone functions", body)


if __name__ == "__main__":
    main()

"""E1: L^p error vs number of weights (log-log) for ReLU networks trained on the lower bound's
own hard functions (random members of the Lipschitz bump family) and on a smooth control, with
the rigorous lower-bound curves and the constructive upper bound.

H^1_1(1) (1-Lipschitz functions on [0,1]); trained with full-batch Adam on the L^2 loss over a
dense grid, evaluated in L^1, L^2, L^4 and sup on a 4x finer grid.
"""
from _common import fit_slope, md_table, np, parse_args, plt, write_summary
from _torchfit import fit, n_params, predict

import qornn.theory as T


def smooth_target(x, rng):
    j = np.arange(1, 6)
    a = rng.normal(size=5) / j ** 2
    ph = rng.uniform(0, 2 * np.pi, 5)
    f = (a[None, :] * np.sin(2 * np.pi * j[None, :] * x[:, None] + ph[None, :])).sum(1)
    lip = np.sum(np.abs(a) * 2 * np.pi * j)
    return f / lip  # 1-Lipschitz, |f| <= 1/(2 pi) <= 1


def interp_l2(x_ev, y_ev, tname, w, targets_fn) -> float:
    """L2 error of piecewise-linear interpolation on w equal cells (a ReLU net of widths [w])."""
    knots = np.linspace(0.0, 1.0, w + 1)
    return float(np.sqrt(np.mean((np.interp(x_ev, knots, targets_fn[tname](knots)) - y_ev) ** 2)))


def main() -> None:
    args = parse_args(__doc__)
    rng = np.random.default_rng(args.seed)
    n_cells = 8 if args.tiny else 24
    fam = T.holder_family(n_cells, 1.0, 1, 2.0, R=1.0)
    sigma = rng.integers(0, 2, fam.m)
    x_tr = (np.arange(512 if args.tiny else 2048) + 0.5) / (512 if args.tiny else 2048)
    x_ev = (np.arange(4 * len(x_tr)) + 0.5) / (4 * len(x_tr))
    smooth_coef_rng = np.random.default_rng(args.seed + 1)
    s_tr = smooth_target(x_tr, np.random.default_rng(args.seed + 1))
    s_ev = smooth_target(x_ev, np.random.default_rng(args.seed + 1))
    targets = {"hard (bump family member)": (fam.member(sigma, x_tr), fam.member(sigma, x_ev)),
               "smooth control": (s_tr, s_ev)}
    targets_fn = {"hard (bump family member)": lambda x: fam.member(sigma, x),
                  "smooth control": lambda x: smooth_target(x, np.random.default_rng(args.seed + 1))}
    del smooth_coef_rng
    archs = ([[2], [8]] if args.tiny else
             [[w] for w in (2, 4, 8, 16, 32, 64, 128)] + [[w, w] for w in (4, 8, 16, 32)])
    steps = 30 if args.tiny else 2500
    rows = []
    for tname, (y_tr, y_ev) in targets.items():
        for widths in archs:
            model = fit(x_tr, y_tr, widths, steps, seed=args.seed)
            err = predict(model, x_ev) - y_ev
            row = {"target": tname, "widths": "x".join(map(str, widths)), "W": n_params(model),
                   "depth": len(widths), "L1": float(np.mean(np.abs(err))),
                   "L2": float(np.sqrt(np.mean(err ** 2))),
                   "L4": float(np.mean(err ** 4) ** 0.25), "sup": float(np.abs(err).max())}
            if len(widths) == 1:  # a 1 -> w -> 1 net set by hand: interpolation on w equal cells
                row["L2, interpolation (same W)"] = interp_l2(x_ev, y_ev, tname, widths[0], targets_fn)
            rows.append(row)
    # bounds for the worst case over the ball, as functions of W (depth-1 nets, widths [N])
    Ns = np.unique(np.round(np.geomspace(2, 256, 12 if not args.tiny else 4)).astype(int))
    Ws = 3 * Ns + 1
    lb_pdim = [T.lower_bound_holder(d=1, s=1, p=2, widths=[int(n)]).value for n in Ns]
    lb_fp32 = [T.lower_bound_holder(d=1, s=1, p=2, bits=32 * int(w)).value for w in Ws]
    lb_bin = [T.lower_bound_holder(d=1, s=1, p=2, bits=int(w)).value for w in Ws]
    ub = [T.upper_bound_lipschitz_interp(int(n), 2).value for n in Ns]
    fig, ax = plt.subplots(figsize=(7.5, 5))
    markers = {1: "o", 2: "s"}
    for tname in targets:
        for depth in (1, 2):
            rr = [r for r in rows if r["target"] == tname and r["depth"] == depth]
            if rr:
                ax.loglog([r["W"] for r in rr], [r["L2"] for r in rr], markers[depth] + "-",
                          label=f"trained, {tname}, depth {depth}")
    ax.loglog(Ws, ub, "k-", lw=2, label="constructive UB (interpolation, worst case)")
    ax.loglog(Ws, lb_bin, "r--", label="LB, binary weights (bits = W), rigorous")
    ax.loglog(Ws, lb_fp32, "m--", label="LB, float32 weights (bits = 32W), rigorous")
    ax.loglog(Ws, lb_pdim, "b:", label="LB, real weights (pdim route), if sources verified")
    w0 = Ws[len(Ws) // 2]
    ref = ub[len(Ws) // 2]
    ax.loglog(Ws, ref * (Ws / w0) ** -1.0, color="grey", lw=0.8, ls="-.", label="shape W^-1 (s/d = 1)")
    ax.loglog(Ws, ref * (Ws / w0) ** -2.0, color="grey", lw=0.8, ls=(0, (1, 3)), label="shape W^-2 (deep, bit extraction)")
    ax.set_xlabel("number of weights W")
    ax.set_ylabel("L2 error")
    ax.set_title("1-Lipschitz targets on [0,1]: trained ReLU nets vs bounds")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(args.out / "e1_holder_rates.png", dpi=120)
    slopes = []
    for tname in targets:
        for depth in (1, 2):
            rr = [r for r in rows if r["target"] == tname and r["depth"] == depth]
            if len(rr) >= 2:
                big = [r for r in rr if r["W"] >= 3 * n_cells] or rr
                slopes.append({"target": tname, "depth": depth,
                               "slope L2 vs W (all)": fit_slope([r["W"] for r in rr], [r["L2"] for r in rr]),
                               "slope L2 vs W (W >= 3N)": fit_slope([r["W"] for r in big], [r["L2"] for r in big])})
    hard1 = [r for r in rows if r["target"].startswith("hard") and r["depth"] == 1]
    hard_first, hard_last = hard1[0]["L2"], hard1[-1]["L2"]
    hard_interp = hard1[-1]["L2, interpolation (same W)"]
    hard_norm = float(np.sqrt(np.mean(targets["hard (bump family member)"][1] ** 2)))
    per_bump = hard1[-1]["W"] // 3 / n_cells
    body = f"""
Target class: 1-Lipschitz functions on [0,1] (s = d = 1), error in L^2.  The hard target is a random
member of the lower bound's own packing family (N = {n_cells} bumps); the control is a smooth
random Fourier sum rescaled to be 1-Lipschitz.  {steps} full-batch Adam steps per net, 1 seed.

Reading the plot (see the caveat in docs/theory.md): a lower bound is a worst case over the whole
ball, so "trained error above the LB" is *not* a test of the theorem; only the slopes and LB <= UB
are meaningful.  The rigorous bounds sit {min(u / l for u, l in zip(ub, lb_bin)):.0f}-{max(u / l for u, l in zip(ub, lb_bin)):.0f}x (binary counting route) and
{min(u / l for u, l in zip(ub, lb_pdim)):.0f}-{max(u / l for u, l in zip(ub, lb_pdim)):.0f}x (pseudo-dimension route) below the constructive upper bound, all with slope -1 = -s/d
(fitted: UB {fit_slope(Ws, ub):.2f}, binary LB {fit_slope(Ws, lb_bin):.2f}, pdim LB {fit_slope(Ws, lb_pdim):.2f} - the last includes the log W in Pdim).

Fitted slopes of the trained errors:

{md_table(slopes, list(slopes[0].keys()))}

Hard target: L2 error {hard_first:.2g} at the smallest net, {hard_last:.2g} at the largest depth-1 net
(W = {hard1[-1]["W"]}); the target's own L2 norm is {hard_norm:.2g}.  Its bumps are quadratic
(phi(t) = t(1-t)), so no ReLU network fits them exactly; a depth-1 net of the same size set by hand
(piecewise-linear interpolation on {hard1[-1]["W"] // 3} equal cells, about {per_bump:.1f} pieces per bump) reaches
{hard_interp:.2g} (column "interpolation (same W)").  Gradient training ends {hard_last / hard_interp:.2g}x {"above" if hard_last > hard_interp else "below"} what that
construction reaches on the hard target, and shows no W^-2 (bit-extraction) rate on either target.

All runs:

{md_table(rows, list(rows[0].keys()))}
"""
    write_summary(args, "e1_holder_rates", "E1: L^p error vs weights for Lipschitz targets", body)


if __name__ == "__main__":
    main()

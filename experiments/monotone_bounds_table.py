"""Table for docs/theory.md: monotone functions [0,1]^d -> [0,1], L^p lower and upper bounds
against the sup-norm lower bound, for the adaptive dyadic box network (no training, seconds).

For each budget W the construction is the best adaptive dyadic box net with at most W weights
(upper bound, rigorous, Lebesgue); the lower bound is for *every* net of that same
architecture (pseudo-dimension route, the pdim computed for that architecture); the sup-norm
lower bound 1/2 holds for every continuous network whatever its size.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402

import qornn.theory as T  # noqa: E402


def row(d: int, p: float, W: float):
    """(construction, lower bound for every net of its architecture) at budget W."""
    ub = T.upper_bound_monotone_for_weights(W, d, p)
    units = ub.certificate.get("units")
    D = (T.pdim_upper_layers(units, ub.certificate["params"]).value if units else
         T.pdim_upper(ub.certificate["widths"], 1).value)
    return ub, T.lower_bound_monotone(d=d, p=p, pdim=D)


def slope(xs, ys) -> float:
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def main() -> None:
    budgets = (1e3, 1e5, 1e7)
    print("| d | p | W (weights) | L^p lower bound, every net of this architecture | L^p upper bound, "
          "construction | UB / LB | sup-norm lower bound, every continuous net |")
    print("|---|---|---|---|---|---|---|")
    slopes = []
    for d in (1, 2, 3):
        for p in (1.0, 2.0, 4.0):
            rows = [row(d, p, W) for W in budgets]
            for ub, lb in rows:
                print(f"| {d} | {p:g} | {ub.certificate['W']:.3g} | {lb.value:.2e} | {ub.value:.3g} "
                      f"| {ub.value / lb.value:.2g} | 1/2 |")
            Ws = [ub.certificate["W"] for ub, _ in rows]
            slopes.append((d, p, T.monotone_exponents(d, p)[0], slope(Ws, [lb.value for _, lb in rows]),
                           slope(Ws, [ub.value for ub, _ in rows])))
    print()
    print("| d | p | rate exponent -1/max(d, p(d-1)) | fitted slope of the lower bound | "
          "fitted slope of the upper bound |")
    print("|---|---|---|---|---|")
    for d, p, e, a, b in slopes:
        print(f"| {d} | {p:g} | {e:.3g} | {a:.3g} | {b:.3g} |")


if __name__ == "__main__":
    main()

"""Shared helpers of the theory experiments: arguments, plotting backend, summaries."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402,F401
import numpy as np  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def parse_args(description: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default experiments/results/)")
    ap.add_argument("--tiny", action="store_true", help="tiny sizes: runs in seconds (used by the tests)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.out = Path(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    args.t0 = time.time()
    return args


def fit_slope(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = (x > 0) & (y > 0) & np.isfinite(y)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


def md_table(rows: list[dict], cols: list[str]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}"
        return str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def write_summary(args, name: str, title: str, body: str) -> Path:
    path = args.out / f"{name}.md"
    cmd = "python experiments/" + name + ".py" + (" --tiny" if args.tiny else "")
    text = (f"# {title}\n\n![{name}]({name}.png)\n\n{body.strip()}\n\n"
            f"_Produced by `{cmd}` in {time.time() - args.t0:.0f} s (CPU, 1 thread)._\n")
    path.write_text(text)
    print(f"wrote {path}")
    return path

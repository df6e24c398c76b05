"""Run E1-E4 (optionally --tiny) and write results/summary.md linking every plot."""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMES = ["e1_holder_rates", "e2_monotone_lp_vs_sup", "e3_exact_minimax_binary", "e4_quantized_orthogonality"]


def main() -> int:
    extra = [a for a in sys.argv[1:] if a != "--summary-only"]
    out = Path(extra[extra.index("--out") + 1]) if "--out" in extra else HERE / "results"
    if "--summary-only" not in sys.argv:  # --summary-only: just rebuild summary.md
        for name in NAMES:
            subprocess.run([sys.executable, str(HERE / f"{name}.py"), *extra], check=True)
    lines = ["# Theory experiments (E1-E4)", "",
             "Statements and proofs: [docs/theory.md](../../docs/theory.md).", ""]
    for name in NAMES:
        md = (out / f"{name}.md").read_text().splitlines()
        lines += [f"## [{md[0].lstrip('# ')}]({name}.md)", "", f"![{name}]({name}.png)", ""]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'summary.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``qornn report RUN_DIRS... --out DIR``: results table (Markdown, CSV) and plots of finished runs."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("report", help="results table and plots of finished runs (results.md/.csv, PNGs)",
                       description="Collect finished runs (run folders, multi-seed folders from --seeds, or folders "
                                   "above them), group the seeds of each model, and write results.md, results.csv, "
                                   "size_vs_accuracy.png and training_curves.png into --out.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="folder for the report files, or PAGE.md (figures then go into the folder PAGE/)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..report import write_report

    result = write_report(args.run_dirs, args.out)
    print(Path(result["files"][0]).read_text(), end="")
    print("wrote " + ", ".join(result["files"]))
    return 0

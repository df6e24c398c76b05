"""``qornn report RUN_DIRS... --out DIR``: results table (Markdown, CSV) and plots of finished runs."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("report", help="results table and plots of finished runs (results.md/.csv, PNGs)",
                       description="Collect finished runs (run folders, multi-seed folders from --seeds, or folders "
                                   "above them), group the seeds of each model, and write results.md, results.csv, "
                                   "size_vs_accuracy.png and training_curves.png into --out. A sweep folder (from "
                                   "`qornn sweep`) given alone gives sweep.md, sweep.csv and sweep.png: its trials.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="folder for the report files, or PAGE.md (figures then go into the folder PAGE/)")
    p.add_argument("--published", metavar="CSV",
                   help="published figures to put beside the rows: a CSV file with the columns run,published,source")
    p.add_argument("--intro", metavar="MD", help="a Markdown file placed between the title and the table")
    p.add_argument("--title", default="Results", help="the page's title (default: Results)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..report import write_report
    from ..sweep_report import is_sweep, write_sweep_report

    if len(args.run_dirs) == 1 and is_sweep(args.run_dirs[0]):
        result = write_sweep_report(args.run_dirs[0], args.out)
    else:
        result = write_report(args.run_dirs, args.out, args.published, args.intro, args.title)
    print(Path(result["files"][0]).read_text(), end="")
    print("wrote " + ", ".join(result["files"]))
    return 0

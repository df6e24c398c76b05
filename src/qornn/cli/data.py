"""``qornn data check|download``: which data sets are in the data folder; fetch public ones."""
from __future__ import annotations

from pathlib import Path

from ..errors import QornnError


def register(sub) -> None:
    p = sub.add_parser("data", help="list the data sets present in the data folder, or download public ones")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")
    dsub.required = True
    c = dsub.add_parser("check", help="say which data sets are present and which files are looked for")
    c.add_argument("--data-dir", default=None, help="data folder (default $QORNN_DATA, else ~/.cache/qornn-data)")
    c.add_argument("--load", action="store_true", help="also read each present data set and print its sizes")
    c.set_defaults(func=check)
    d = dsub.add_parser("download", help="download a public data set (needs the network): mnist or imdb")
    d.add_argument("name", help="mnist or imdb")
    d.add_argument("--data-dir", default=None, help="data folder (default $QORNN_DATA, else ~/.cache/qornn-data)")
    d.set_defaults(func=download)


def _sizes(name: str, root: Path) -> str:
    from ..data.glue import load_qqp, load_sst2
    from ..data.imdb import load_imdb
    from ..data.mnist import load_mnist
    from ..data.sequences import load_har

    if name == "har":
        data, classes = load_har(root)
        shape = data["train"][0].shape
        return f"train {shape[0]} x {shape[1]} steps x {shape[2]} features, test {len(data['test'][1])}, {len(classes)} classes"
    loader = {"mnist": load_mnist, "imdb": load_imdb, "sst2": load_sst2, "qqp": load_qqp}[name]
    return ", ".join(f"{split} {len(v[1])}" for split, v in loader(root).items())


def check(args) -> int:
    from ..data import LAYOUTS, data_dir

    root = data_dir(args.data_dir)
    print(f"data folder: {root}")
    for name, layout in LAYOUTS.items():
        hit = layout.present(root)
        if hit:
            line = f"{name:<6} present  {', '.join(str(p.relative_to(root)) for p in hit[1])}"
            if args.load:
                try:
                    line += f"  [{_sizes(name, root)}]"
                except QornnError as exc:
                    line += f"  [UNREADABLE: {exc}]"
        else:
            line = f"{name:<6} missing  looked for {layout.describe()}; {layout.how}"
        print(line)
    return 0


def download(args) -> int:
    from ..data import data_dir
    from ..data.download import download as fetch

    root = data_dir(args.data_dir)
    fetch(args.name, root)
    print(f"{args.name}: ready in {root}")
    return 0

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


def _present(name: str, root: Path) -> list[Path]:
    """Files or folders of data set ``name`` found under ``root`` (empty if missing)."""
    if name == "mnist":
        raw = root / "MNIST" / "raw"
        stems = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
        found = [next((raw / (s + e) for e in ("", ".gz") if (raw / (s + e)).is_file()), None) for s in stems]
        return found if all(found) else []
    pairs = {"imdb": [(root / "imdb" / "train.csv", root / "imdb" / "test.csv"), (root / "aclImdb" / "train",
                                                                                 root / "aclImdb" / "test")],
             "sst2": [(root / "SST-2" / "train.tsv", root / "SST-2" / "dev.tsv")],
             "qqp": [(root / "QQP" / "train.tsv", root / "QQP" / "dev.tsv")],
             "har": [(root / "har" / "har.npz",), (root / "UCI HAR Dataset" / "train", root / "UCI HAR Dataset" / "test")]}
    for option in pairs[name]:
        if all(p.exists() for p in option):
            return list(option)
    return []


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
    for name, (wanted, how) in LAYOUTS.items():
        found = _present(name, root)
        if found:
            line = f"{name:<6} present  {', '.join(str(p.relative_to(root)) for p in found)}"
            if args.load:
                try:
                    line += f"  [{_sizes(name, root)}]"
                except QornnError as exc:
                    line += f"  [UNREADABLE: {exc}]"
        else:
            line = f"{name:<6} missing  looked for {wanted}; {how}"
        print(line)
    return 0


def download(args) -> int:
    from ..data import data_dir
    from ..data.download import download as fetch

    root = data_dir(args.data_dir)
    fetch(args.name, root)
    print(f"{args.name}: ready in {root}")
    return 0

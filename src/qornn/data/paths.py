"""Where data sets live, the files each one is read from, and the error raised when one is missing.

The data folder is, in this order: the ``--data-dir`` option (``task.data_dir``),
the ``QORNN_DATA`` environment variable, then ``~/.cache/qornn-data``.  Each data set
has a fixed layout below it (torchvision's for MNIST, GLUE's for SST-2 / QQP, ...):
:data:`LAYOUTS` is the one list of the files looked for; the readers find their files
through it (:meth:`Layout.find`) and ``qornn data check`` prints it.

>>> LAYOUTS["sst2"].describe()
'SST-2/train.tsv, SST-2/dev.tsv'
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import MissingDataError

ENV_VAR = "QORNN_DATA"
DEFAULT_DIR = Path("~/.cache/qornn-data")
#: A path ending in this may also be gzip-compressed (``name`` or ``name.gz``).
GZ = "[.gz]"


@dataclass(frozen=True)
class Layout:
    """The files (or folders) of one data set under the data folder.

    ``options`` are alternatives, tried in order; each is a tuple of relative paths that
    must all exist (a path ending in ``[.gz]`` may be the plain or the gzip-compressed file).  A folder stands
    for the files its reader expects inside, and the reader names any that is missing.
    """

    name: str
    options: tuple[tuple[str, ...], ...]
    how: str  # how to get the data

    def describe(self) -> str:
        return " | ".join(", ".join(option) for option in self.options)

    def present(self, root: Path) -> tuple[int, tuple[Path, ...]] | None:
        """(index of the first complete option, its paths) under ``root``, or None."""
        for k, option in enumerate(self.options):
            found = tuple(_existing(Path(root), rel) for rel in option)
            if all(p is not None for p in found):
                return k, found
        return None

    def find(self, root: Path) -> tuple[int, tuple[Path, ...]]:
        """:meth:`present`, or a :class:`MissingDataError` saying what is looked for and how to get it."""
        hit = self.present(root)
        if hit is None:
            raise missing(self.name, Path(root))
        return hit


def _existing(root: Path, rel: str) -> Path | None:
    names = (rel[:-len(GZ)], rel[:-len(GZ)] + ".gz") if rel.endswith(GZ) else (rel,)
    return next((root / name for name in names if (root / name).exists()), None)


def _mnist_files() -> tuple[str, ...]:
    return tuple(f"MNIST/raw/{split}-{kind}-ubyte{GZ}" for split in ("train", "t10k")
                 for kind in ("images-idx3", "labels-idx1"))


LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (
    Layout("mnist", (_mnist_files(),),
           "run `qornn data download mnist` (online), or copy torchvision's MNIST/raw folder there"),
    Layout("imdb", (("imdb/train.csv", "imdb/test.csv"), ("aclImdb",)),
           "CSV files with columns text,label, or run `qornn data download imdb` (online), or unpack "
           "aclImdb_v1.tar.gz there"),
    Layout("sst2", (("SST-2/train.tsv", "SST-2/dev.tsv"),),
           "unpack GLUE's SST-2.zip there (header sentence<TAB>label; https://gluebenchmark.com/tasks)"),
    Layout("qqp", (("QQP/train.tsv", "QQP/dev.tsv"),),
           "unpack GLUE's QQP.zip there (columns question1, question2, is_duplicate; https://gluebenchmark.com/tasks)"),
    Layout("har", (("har/har.npz",), ("UCI HAR Dataset",)),
           "unpack the UCI HAR Dataset zip there, or write your own har.npz (X_train, y_train, X_test, y_test)"),
)}


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The data folder: ``explicit`` > ``$QORNN_DATA`` > ``~/.cache/qornn-data``."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return DEFAULT_DIR.expanduser()


def missing(name: str, root: Path) -> MissingDataError:
    """A one-line MissingDataError: which files are looked for, where, and how to get them."""
    layout = LAYOUTS[name]
    return MissingDataError(f"{name} data not found: looked for {layout.describe()} under {root} "
                            f"(set by --data-dir, ${ENV_VAR} or the default {DEFAULT_DIR}); to get it: {layout.how}",
                            dataset=name, root=Path(root))

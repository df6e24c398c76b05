"""Where data sets live, and the error raised when one is missing.

The data folder is, in this order: the ``--data-dir`` option (``task.data_dir``),
the ``QORNN_DATA`` environment variable, then ``~/.cache/qornn-data``.  Each data set
has a fixed layout below it (torchvision's for MNIST, GLUE's for SST-2 / QQP, ...);
:data:`LAYOUTS` lists the files looked for, which ``qornn data check`` prints.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError

ENV_VAR = "QORNN_DATA"
DEFAULT_DIR = Path("~/.cache/qornn-data")

#: data set → (files or folders looked for, alternatives separated by " | ", how to get them)
LAYOUTS: dict[str, tuple[str, str]] = {
    "mnist": ("MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]",
              "run `qornn data download mnist` (online), or copy torchvision's MNIST/raw folder there"),
    "imdb": ("imdb/{train,test}.csv (columns text,label) | aclImdb/{train,test}/{pos,neg}/*.txt",
             "run `qornn data download imdb` (online), or unpack aclImdb_v1.tar.gz there"),
    "sst2": ("SST-2/{train,dev}.tsv (header sentence<TAB>label)",
             "unpack GLUE's SST-2.zip there (https://gluebenchmark.com/tasks)"),
    "qqp": ("QQP/{train,dev}.tsv (columns question1, question2, is_duplicate)",
            "unpack GLUE's QQP.zip there (https://gluebenchmark.com/tasks)"),
    "har": ("har/har.npz (X_train, y_train, X_test, y_test) | UCI HAR Dataset/{train,test}/Inertial Signals/*.txt",
            "unpack the UCI HAR Dataset zip there, or write your own har.npz"),
}


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The data folder: ``explicit`` > ``$QORNN_DATA`` > ``~/.cache/qornn-data``."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return DEFAULT_DIR.expanduser()


def missing(name: str, root: Path) -> DataError:
    """A one-line DataError: which files are looked for, where, and how to get them."""
    wanted, how = LAYOUTS[name]
    return DataError(f"{name} data not found: looked for {wanted} under {root} "
                     f"(set by --data-dir, ${ENV_VAR} or the default {DEFAULT_DIR}); to get it: {how}")


def first_existing(*candidates: Path) -> Path | None:
    for c in candidates:
        if c.exists():
            return c
    return None

"""IMDB movie reviews (Maas et al. 2011): CSV files or the original ``aclImdb/`` folders.

Looked for under the data folder, first match wins:

* ``imdb/train.csv`` and ``imdb/test.csv`` with a header row holding the columns
  ``text`` and ``label`` (0/1, or neg/pos, negative/positive);
* ``aclImdb/{train,test}/{neg,pos}/*.txt`` (the layout of ``aclImdb_v1.tar.gz``), files
  read in sorted name order;
* with ``hf=True`` and the optional ``datasets`` package installed, Hugging Face's
  ``imdb`` data set (needs the network, or its cache).

Returns texts and 0/1 labels per split ("train", "test").
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DataError
from .paths import LAYOUTS

LABELS = {"0": 0, "1": 1, "neg": 0, "pos": 1, "negative": 0, "positive": 1}


def _label(value: str, where: str) -> int:
    key = value.strip().lower()
    if key not in LABELS:
        raise DataError(f"{where}: label {value!r} is not allowed; use 0/1, neg/pos or negative/positive")
    return LABELS[key]


def read_table(path: Path, delimiter: str, parse: Callable):
    """``parse(reader, path)`` for a ``csv.DictReader`` over a UTF-8 CSV (``,``) or TSV (tab, no quoting) file;
    bad bytes, CSV syntax errors and unreadable files become one-line DataErrors naming the file."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        with open(path, newline="", encoding="utf-8") as f:
            quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
            return parse(csv.DictReader(f, delimiter=delimiter, quoting=quoting), path)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: malformed {'TSV' if delimiter == chr(9) else 'CSV'} ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_labelled_csv(path: Path, text_col: str = "text", label_col: str = "label",
                      delimiter: str = ",") -> tuple[list[str], np.ndarray]:
    """(texts, labels) of a CSV/TSV file with a header naming ``text_col`` and ``label_col``."""
    def parse(reader, path):
        fields = reader.fieldnames or []
        for col in (text_col, label_col):
            if col not in fields:
                raise DataError(f"{path}: no {col!r} column in the header {fields}; "
                                f"expected columns {text_col},{label_col}")
        texts, labels = [], []
        for i, row in enumerate(reader, start=2):
            if row[text_col] is None or row[label_col] is None:
                raise DataError(f"{path}:{i}: row has fewer columns than the header")
            texts.append(row[text_col])
            labels.append(_label(row[label_col], f"{path}:{i}"))
        if not texts:
            raise DataError(f"{path}: no data rows")
        return texts, np.asarray(labels, dtype=np.int64)

    return read_table(path, delimiter, parse)


def read_aclimdb(folder: Path, split: str) -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for label, sub in ((0, "neg"), (1, "pos")):
        d = folder / split / sub
        if not d.is_dir():
            raise DataError(f"{d}: folder missing; the aclImdb layout needs {split}/neg and {split}/pos")
        for f in sorted(d.glob("*.txt")):
            try:
                texts.append(f.read_text(encoding="utf-8", errors="replace"))
            except OSError as exc:
                raise DataError(f"{f}: cannot read ({exc.strerror or exc})") from None
            labels.append(label)
    if not texts:
        raise DataError(f"{folder / split}: no review files (*.txt) in neg/ or pos/")
    return texts, np.asarray(labels, dtype=np.int64)


def read_hf_imdb() -> dict[str, tuple[list[str], np.ndarray]]:  # pragma: no cover - optional, needs network
    try:
        import datasets  # type: ignore
    except ImportError:
        raise DataError("the optional package `datasets` is not installed; put IMDB files in the data folder") from None
    try:
        ds = datasets.load_dataset("imdb")
    except Exception as exc:  # network or hub errors of an optional dependency
        raise DataError(f"Hugging Face `datasets` could not load imdb ({type(exc).__name__}: {exc})") from None
    return {s: (list(ds[s]["text"]), np.asarray(ds[s]["label"], dtype=np.int64)) for s in ("train", "test")}


def load_imdb(root: Path, hf: bool = False) -> dict[str, tuple[list[str], np.ndarray]]:
    hit = LAYOUTS["imdb"].present(Path(root))
    if hit is None and hf:  # pragma: no cover
        return read_hf_imdb()
    option, files = hit if hit is not None else LAYOUTS["imdb"].find(Path(root))
    if option == 0:  # imdb/{train,test}.csv
        return {"train": read_labelled_csv(files[0]), "test": read_labelled_csv(files[1])}
    return {s: read_aclimdb(files[0], s) for s in ("train", "test")}  # the aclImdb folder

"""GLUE sentence tasks in GLUE's TSV layout (Wang et al. 2019).

* SST-2: ``SST-2/train.tsv`` and ``SST-2/dev.tsv``, header ``sentence<TAB>label``.
* QQP: ``QQP/train.tsv`` and ``QQP/dev.tsv``, columns ``question1``, ``question2``,
  ``is_duplicate``; a pair is read as the text ``question1 [SEP] [SEP] question2``, as in the
  HadamRNN authors' code (our tokenizer turns the marker into the word ``sep``).

GLUE's test files carry no labels, so only train and dev are read.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .imdb import read_labelled_csv, read_table
from .paths import LAYOUTS


def load_sst2(root: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    _, files = LAYOUTS["sst2"].find(Path(root))
    return {s: read_labelled_csv(f, "sentence", "label", delimiter="\t") for s, f in zip(("train", "dev"), files)}


def _read_qqp(path: Path) -> tuple[list[str], np.ndarray]:
    return read_table(path, "\t", _qqp_rows)


def _qqp_rows(reader, path: Path) -> tuple[list[str], np.ndarray]:
    need = ("question1", "question2", "is_duplicate")
    if not all(c in (reader.fieldnames or []) for c in need):
        raise DataError(f"{path}: header {reader.fieldnames} lacks one of the columns {', '.join(need)}")
    texts, labels = [], []
    for i, row in enumerate(reader, start=2):
        if row["is_duplicate"] is None:
            continue  # GLUE's QQP has a few broken lines; skip them as GLUE's own loader does
        lab = row["is_duplicate"].strip()
        if lab not in ("0", "1"):
            raise DataError(f"{path}:{i}: is_duplicate {lab!r} is not allowed; use 0 or 1")
        texts.append(f"{row['question1']} [SEP] [SEP] {row['question2']}")
        labels.append(int(lab))
    if not texts:
        raise DataError(f"{path}: no data rows")
    return texts, np.asarray(labels, dtype=np.int64)


def load_qqp(root: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    _, files = LAYOUTS["qqp"].find(Path(root))
    return {s: _read_qqp(f) for s, f in zip(("train", "dev"), files)}

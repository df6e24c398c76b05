"""Sequence classification arrays: a generic ``.npz`` file, and the UCI HAR Dataset folder.

The ``.npz`` format (``task.name=npz task.path=FILE``, or ``har/har.npz`` for HAR):

* ``X_train`` (N, T, F) or (N, T) numbers, ``y_train`` (N,) integer labels 0..C−1,
* ``X_test``, ``y_test`` the same with the same T and F,
* optional ``X_val``, ``y_val`` (otherwise the validation set is split from train),
* optional ``classes`` (C names); without it C = max(y_train) + 1.

All sequences of a split share one length T (pad them yourself if needed).
UCI HAR Dataset (Anguita et al. 2013): ``UCI HAR Dataset/{train,test}/Inertial Signals/``
holds nine files of 128-sample windows (body_acc, body_gyro, total_acc, each x/y/z)
and ``{train,test}/y_{split}.txt`` holds activity codes 1..6, read as classes 0..5.
"""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from .paths import LAYOUTS

HAR_SIGNALS = [f"{kind}_{axis}" for kind in ("body_acc", "body_gyro", "total_acc") for axis in "xyz"]
#: Samples per window of the UCI HAR Dataset (2.56 s at 50 Hz).
HAR_WINDOW = 128
HAR_CLASSES = ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING"]


def _array(z, key: str, path: Path) -> np.ndarray:
    try:
        return z[key]
    except ValueError as exc:  # object arrays: ragged sequences saved with allow_pickle
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise DataError(f"{path}: {key} holds sequences of different lengths (an object array); "
                            f"pad them to one length T and save a (N, T, F) number array") from None
        raise DataError(f"{path}: cannot read {key} ({exc})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:  # e.g. "Bad CRC-32": damaged file
        raise DataError(f"{path}: array {key} is damaged ({str(exc).splitlines()[0][:120] or type(exc).__name__}); "
                        f"the .npz file is corrupted") from None


def _check_split(path: Path, X: np.ndarray, y: np.ndarray, split: str) -> tuple[np.ndarray, np.ndarray]:
    if X.dtype == object:
        raise DataError(f"{path}: X_{split} holds sequences of different lengths; pad them to one length T")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise DataError(f"{path}: X_{split} has dtype {X.dtype}; expected numbers")
    if X.ndim == 2:
        X = X[:, :, None]
    if X.ndim != 3:
        raise DataError(f"{path}: X_{split} has shape {X.shape}; expected (N, T, F) or (N, T)")
    if y.ndim != 1 or len(y) != len(X):
        raise DataError(f"{path}: y_{split} has shape {y.shape}; expected ({len(X)},) to match X_{split}")
    if len(X) == 0:
        raise DataError(f"{path}: X_{split} is empty")
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
            y = y.astype(np.int64)
        else:
            raise DataError(f"{path}: y_{split} has dtype {y.dtype}; expected integer class labels 0..C-1")
    if not np.isfinite(X).all():
        raise DataError(f"{path}: X_{split} contains NaN or infinite values")
    return X.astype(np.float32), y.astype(np.int64)


def load_npz(path: str | Path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """({split: (X (N, T, F) float32, y (N,) int64)}, class names); DataError if malformed."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found; task.path must name an .npz file with X_train, y_train, "
                        f"X_test, y_test")
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    if not hasattr(z, "files"):
        raise DataError(f"{path}: holds a single array, not an .npz archive with X_train, y_train, X_test, y_test")
    with z:
        absent = [k for k in ("X_train", "y_train", "X_test", "y_test") if k not in z.files]
        if absent:
            raise DataError(f"{path}: missing array(s) {', '.join(absent)}; found {', '.join(z.files) or 'none'}")
        splits = ["train", "test"] + (["val"] if "X_val" in z.files and "y_val" in z.files else [])
        data = {s: _check_split(path, _array(z, f"X_{s}", path), _array(z, f"y_{s}", path), s) for s in splits}
        classes = [str(c) for c in _array(z, "classes", path).tolist()] if "classes" in z.files else None
    shape = data["train"][0].shape[1:]
    for s, (X, _) in data.items():
        if X.shape[1:] != shape:
            raise DataError(f"{path}: X_{s} has steps×features {X.shape[1:]} but X_train has {shape}; "
                            f"all splits need one sequence length and feature count")
    n_classes = len(classes) if classes is not None else int(data["train"][1].max()) + 1
    for s, (_, y) in data.items():
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= n_classes:
            raise DataError(f"{path}: y_{s} has labels in [{lo}, {hi}], out of range; labels must lie in "
                            f"0..{n_classes - 1}" + (" (the classes array)" if classes is not None else
                                                    " (C = max(y_train) + 1)"))
    if n_classes < 2:
        raise DataError(f"{path}: y_train holds a single class; classification needs at least 2")
    return data, classes or [str(i) for i in range(n_classes)]


def _load_txt(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"{path}: file missing from the UCI HAR Dataset layout")
    try:
        table = np.loadtxt(path, dtype=np.float32, ndmin=2, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except ValueError as exc:
        raise DataError(f"{path}: not a whitespace-separated number table ({str(exc).splitlines()[0][:120]})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not np.isfinite(table).all():
        raise DataError(f"{path}: contains NaN or infinite values")
    return table


def load_uci_har(folder: Path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """The nine inertial signals as (N, 128, 9) windows and labels 0..5."""
    folder = Path(folder)
    data = {}
    for split in ("train", "test"):
        signals = [_load_txt(folder / split / "Inertial Signals" / f"{s}_{split}.txt") for s in HAR_SIGNALS]
        if len({s.shape for s in signals}) != 1:
            raise DataError(f"{folder / split / 'Inertial Signals'}: the nine signal files differ in shape "
                            f"({sorted({s.shape for s in signals})})")
        labels_path = folder / split / f"y_{split}.txt"
        y = _load_txt(labels_path).reshape(-1).astype(np.int64) - 1
        X = np.stack(signals, axis=-1)
        if len(y) != len(X):
            raise DataError(f"{labels_path}: {len(y)} labels for {len(X)} windows")
        if y.min() < 0 or y.max() > 5:
            raise DataError(f"{labels_path}: activity codes in [{y.min() + 1}, {y.max() + 1}] out of range; "
                            f"UCI HAR uses 1..6")
        data[split] = (X, y)
    return data, list(HAR_CLASSES)


def load_har(root: Path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """``har/har.npz`` if present, else the ``UCI HAR Dataset`` folder."""
    option, files = LAYOUTS["har"].find(Path(root))
    return load_npz(files[0]) if option == 0 else load_uci_har(files[0])

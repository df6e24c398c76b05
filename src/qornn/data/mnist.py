"""MNIST from torchvision's on-disk layout: ``DATA/MNIST/raw/*-idx?-ubyte[.gz]``.

Sequential MNIST (Le, Jaitly & Hinton 2015) reads each 28×28 image row by row as
784 steps of one pixel, scaled to [0, 1]; permuted MNIST applies one fixed
permutation of the 784 positions to every image.  As in the HadamRNN authors'
code, the permutation is ``numpy.random.RandomState(92916).permutation(784)``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from .idx import read_idx
from .paths import missing

PERMUTATION_SEED = 92916
#: Seed of the fixed train/validation split (50,000 / 10,000 of the 60,000 training images).
SPLIT_SEED = 5544
FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def pmnist_permutation(length: int = 784) -> np.ndarray:
    """The fixed pixel order of permuted MNIST."""
    return np.random.RandomState(PERMUTATION_SEED).permutation(length)


def _find(raw: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (raw / name).is_file():
            return raw / name
    return None


def load_mnist(root: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (images (60000, 784) uint8, labels (60000,) int64), "test": (...)}``."""
    raw = Path(root) / "MNIST" / "raw"
    out = {}
    for split, (img_stem, lab_stem) in FILES.items():
        img_path, lab_path = _find(raw, img_stem), _find(raw, lab_stem)
        if img_path is None or lab_path is None:
            raise missing("mnist", Path(root))
        images, labels = read_idx(img_path, ndim=3), read_idx(lab_path, ndim=1)
        if len(images) != len(labels):
            raise DataError(f"{img_path}: {len(images)} images but {lab_path.name} has {len(labels)} labels")
        if len(labels) and int(labels.max()) > 9:
            raise DataError(f"{lab_path}: label {int(labels.max())} out of range; MNIST labels are 0..9")
        out[split] = (images.reshape(len(images), -1), labels.astype(np.int64))
    return out


def train_val_split(n: int, val_fraction: float = 1 / 6) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val) of a fixed random split; 1/6 gives MNIST's 50k/10k."""
    if not isinstance(val_fraction, (int, float)) or not 0 < val_fraction < 1:
        raise ConfigError(f"task.val_fraction={val_fraction!r} is not allowed; use a number between 0 and 1 (e.g. 0.1)")
    order = np.random.RandomState(SPLIT_SEED).permutation(n)
    n_val = int(round(n * val_fraction))
    if n_val < 1 or n_val >= n:
        raise DataError(f"cannot split {n} training samples into train and validation (val fraction {val_fraction})")
    return np.sort(order[n_val:]), np.sort(order[:n_val])

"""MNIST from torchvision's on-disk layout: ``DATA/MNIST/raw/*-idx?-ubyte[.gz]``.

Sequential MNIST (Le, Jaitly & Hinton 2015) reads each 28×28 image row by row as
784 steps of one pixel, scaled to [0, 1]; permuted MNIST applies one fixed
permutation of the 784 positions to every image.  As in the HadamRNN authors'
code, the permutation is ``numpy.random.RandomState(92916).permutation(784)``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .idx import read_idx
from .paths import LAYOUTS

PERMUTATION_SEED = 92916

#: Pixels of one 28×28 image: the steps of sequential MNIST.
IMAGE_PIXELS = 784


def pmnist_permutation(length: int = IMAGE_PIXELS) -> np.ndarray:
    """The fixed pixel order of permuted MNIST."""
    return np.random.RandomState(PERMUTATION_SEED).permutation(length)


def load_mnist(root: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (images (60000, 784) uint8, labels (60000,) int64), "test": (...)}``."""
    _, files = LAYOUTS["mnist"].find(root)  # train images, train labels, t10k images, t10k labels
    out = {}
    for split, img_path, lab_path in (("train", *files[:2]), ("test", *files[2:])):
        images, labels = read_idx(img_path, ndim=3), read_idx(lab_path, ndim=1)
        if len(images) != len(labels):
            raise DataError(f"{img_path}: {len(images)} images but {lab_path.name} has {len(labels)} labels")
        if len(labels) and int(labels.max()) > 9:
            raise DataError(f"{lab_path}: label {int(labels.max())} out of range; MNIST labels are 0..9")
        out[split] = (images.reshape(len(images), -1), labels.astype(np.int64))
    return out

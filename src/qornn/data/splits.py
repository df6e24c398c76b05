"""Fixed random splits of a data set's samples: one seed for every task.

The training/validation split of MNIST, GLUE and HAR and the test/validation halves of
IMDB's test file all draw their order from ``numpy.random.RandomState(SPLIT_SEED)``
(the HadamRNN authors' seed), so a split depends only on the number of samples.

>>> train, val = train_val_split(6, 1 / 3)
>>> sorted(train.tolist() + val.tolist()), len(val)
([0, 1, 2, 3, 4, 5], 2)
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError, DataError

SPLIT_SEED = 5544


def fixed_order(n: int) -> np.ndarray:
    """The fixed random order of n samples that every split below cuts."""
    return np.random.RandomState(SPLIT_SEED).permutation(n)


def train_val_split(n: int, val_fraction: float = 1 / 6) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices (train, val), val a fixed random ``val_fraction`` of n; 1/6 gives MNIST's 50k/10k."""
    if not isinstance(val_fraction, (int, float)) or not 0 < val_fraction < 1:
        raise ConfigError(f"task.val_fraction={val_fraction!r} is not allowed; use a number between 0 and 1 (e.g. 0.1)")
    order = fixed_order(n)
    n_val = int(round(n * val_fraction))
    if n_val < 1 or n_val >= n:
        raise DataError(f"cannot split {n} training samples into train and validation (val fraction {val_fraction})")
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def halves(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(first half, second half) of the fixed order of n samples (IMDB: test, validation)."""
    order = fixed_order(n)
    return order[:n // 2], order[n // 2:]

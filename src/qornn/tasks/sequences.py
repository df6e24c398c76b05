"""Sequence classification from arrays: HAR (human activity recognition) and any ``.npz``.

``npz`` reads the file named by ``task.path`` (format in :mod:`qornn.data.sequences`);
``har`` reads ``har/har.npz`` or the ``UCI HAR Dataset`` folder under the data folder
(``task.path`` overrides).  Each feature is standardised with the mean and standard
deviation of the training split.  Validation: ``X_val``/``y_val`` if the file has them,
else a fixed random ``task.val_fraction`` (default 10 %) of the training split.
Cross-entropy on the last step, accuracy.
"""
from __future__ import annotations

import numpy as np
import torch

from ..data import data_dir
from ..data.splits import train_val_split
from ..data.sequences import HAR_CLASSES, HAR_SIGNALS, HAR_WINDOW, load_har, load_npz
from ..errors import ConfigError
from .base import ArrayTask, TaskInfo


def har_info(cfg) -> TaskInfo:
    """The UCI HAR Dataset's shapes (no data needed): windows of 128 steps, nine signals, six activities."""
    return TaskInfo(input_kind="features", input_size=len(HAR_SIGNALS), output_size=len(HAR_CLASSES),
                    many_to_many=False, loss="ce", seq_len=HAR_WINDOW)


def array_task(name: str, cfg, data: dict, classes: list[str]) -> ArrayTask:
    if "val" not in data:
        X, y = data["train"]
        tr, va = train_val_split(len(y), cfg.task.val_fraction or 0.1)
        data = {**data, "train": (X[tr], y[tr]), "val": (X[va], y[va])}
    X = data["train"][0]
    mean = X.mean(axis=(0, 1), dtype=np.float64)
    std = X.std(axis=(0, 1), dtype=np.float64)
    std = np.where(std > 0, std, 1.0)
    splits = {s: (torch.from_numpy(((Xs - mean) / std).astype(np.float32)), torch.from_numpy(ys))
              for s, (Xs, ys) in data.items()}
    info = TaskInfo(input_kind="features", input_size=X.shape[2], output_size=len(classes),
                    many_to_many=False, loss="ce", seq_len=X.shape[1])
    task = ArrayTask(name, info, splits, seed=cfg.seed)
    task.classes = classes
    return task


def build_npz(cfg) -> ArrayTask:
    if not cfg.task.path:
        raise ConfigError("task.name=npz needs task.path=FILE.npz (arrays X_train, y_train, X_test, y_test)")
    return array_task("npz", cfg, *load_npz(cfg.task.path))


def build_har(cfg) -> ArrayTask:
    if cfg.task.path:
        return array_task("har", cfg, *load_npz(cfg.task.path))
    return array_task("har", cfg, *load_har(data_dir(cfg.task.data_dir)))

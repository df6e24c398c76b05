"""Sequential and permuted MNIST: 784 steps of one pixel (Le, Jaitly & Hinton 2015).

Each image is read row by row, one pixel per step (input size 1), scaled to [0, 1];
``pmnist`` first reorders the pixels by the fixed permutation of
:func:`qornn.data.mnist.pmnist_permutation`.  Splits: a fixed random 5/6 : 1/6 split of
the training file (50,000 / 10,000 for MNIST; ``task.val_fraction`` changes the share)
and the official 10,000 test images.  The label is read from the last step.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..data import data_dir
from ..data.mnist import IMAGE_PIXELS, load_mnist, pmnist_permutation
from ..data.splits import train_val_split
from .base import ArrayTask, TaskInfo


class PixelMNIST(ArrayTask):
    """Images kept as uint8 (N, 784) and turned into float (B, 784, 1) per batch."""

    def _prepare(self, x, y):
        return x.to(torch.float32).div_(255.0).unsqueeze(-1), y

    def train_rows(self, step: int, batch_size: int, rows: slice):
        return self._prepare(*super().train_rows(step, batch_size, rows))

    def eval_batches(self, split: str, batch_size: int):
        for x, y in super().eval_batches(split, batch_size):
            yield self._prepare(x, y)


def mnist_info(cfg) -> TaskInfo:
    """784 steps of one pixel, 10 classes read at the last step (no data needed)."""
    return TaskInfo(input_kind="features", input_size=1, output_size=10, many_to_many=False, loss="ce",
                    seq_len=IMAGE_PIXELS)


def build_mnist(cfg, permuted: bool) -> PixelMNIST:
    data = load_mnist(data_dir(cfg.task.data_dir))
    images, labels = data["train"]
    order = pmnist_permutation(images.shape[1]) if permuted else None
    tr, va = train_val_split(len(labels), cfg.task.val_fraction or 1 / 6)

    def split(x, y):
        x = x[:, order] if order is not None else x
        return torch.from_numpy(np.array(x)), torch.from_numpy(np.array(y))

    splits = {"train": split(images[tr], labels[tr]), "val": split(images[va], labels[va]),
              "test": split(*data["test"])}
    info = dataclasses.replace(mnist_info(cfg), seq_len=images.shape[1])
    return PixelMNIST("pmnist" if permuted else "smnist", info, splits, seed=cfg.seed)

"""What a task gives the trainer: batches, and how to score predictions.

Every batch is a pair ``(x, y)``: ``x`` is (B, T) integer tokens or (B, T, F)
features; ``y`` is (B, T) class indices (many-to-many), (B,) class indices,
(B,) 0/1 floats (``bce``) or (B,) / (B, 1) reals (``mse``).  Training batches are a
pure function of (seed, step), so a resumed run sees exactly the batches an
uninterrupted run would have seen.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F

LOSSES = ("ce", "bce", "mse")


@dataclass
class TaskInfo:
    input_kind: str  # "tokens" or "features"
    input_size: int  # vocabulary size (tokens) or feature count
    output_size: int  # classes (ce), 1 (bce / mse)
    many_to_many: bool
    loss: str  # "ce", "bce" or "mse"
    #: Loss of the best predictor that ignores the inputs' memory (None if not defined).
    baseline: float | None = None
    baseline_name: str = ""
    #: Token id used for padding (tokens only), ignored by mean pooling.
    padding_idx: int | None = None
    has_accuracy: bool = True
    #: Steps per sequence (the longest, when sequences are padded to the batch's longest); None if unknown.
    seq_len: int | None = None


def seeded_generator(*parts) -> torch.Generator:
    """A CPU generator seeded by a stable hash of ``parts`` (e.g. seed, split, step)."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))


class Task:
    """Base class; subclasses set ``info`` and implement the batch methods."""

    info: TaskInfo
    name: str = "task"

    def split_size(self, split: str) -> int:
        raise NotImplementedError

    def steps_per_epoch(self, batch_size: int) -> int:
        return max(1, self.split_size("train") // batch_size)

    def train_batch(self, step: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def train_rows(self, step: int, batch_size: int, rows: slice) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows ``rows`` of ``train_batch(step, batch_size)``: one process's share of the global batch in
        data-parallel training (:mod:`qornn.distributed`).  Generated tasks draw the whole batch (the
        draws of a generator come in order), then slice it."""
        x, y = self.train_batch(step, batch_size)
        return x[rows], y[rows]

    def eval_batches(self, split: str, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        raise NotImplementedError

    # ---- scoring -------------------------------------------------------------------------
    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean loss of a batch (cross-entropy over all steps for many-to-many)."""
        kind = self.info.loss
        if kind == "ce":
            if logits.dim() == 3:  # (B, T, C): classes on dim 1 is ~4x faster than flattening
                return F.cross_entropy(logits.transpose(1, 2), y)
            return F.cross_entropy(logits, y)
        if kind == "bce":
            return F.binary_cross_entropy_with_logits(logits.reshape(-1), y.reshape(-1).to(logits.dtype))
        return F.mse_loss(logits.reshape(-1), y.reshape(-1).to(logits.dtype))

    def correct(self, logits: torch.Tensor, y: torch.Tensor) -> tuple[int, int]:
        """(number correct, number scored) for the accuracy metric."""
        if self.info.loss == "ce":
            pred = logits.argmax(-1)
        elif self.info.loss == "bce":
            pred = (logits.reshape(y.shape) > 0).long()
        else:
            return 0, 0
        return int((pred == y.long()).sum()), y.numel()


class ArrayTask(Task):
    """A task backed by in-memory tensors per split ("train", "val", "test").

    Training order: epoch e uses a permutation drawn from ``seeded_generator(seed, "epoch", e)``;
    step s reads batch s mod (steps per epoch) of epoch s // (steps per epoch).
    """

    def __init__(self, name: str, info: TaskInfo, splits: dict[str, tuple[torch.Tensor, torch.Tensor]], seed: int = 0):
        self.name = name
        self.info = info
        self.splits = splits
        self.seed = seed
        self._perm_cache: tuple[int, torch.Tensor] | None = None

    def split_size(self, split: str) -> int:
        return len(self.splits[split][1])

    def _epoch_perm(self, epoch: int) -> torch.Tensor:
        if self._perm_cache is None or self._perm_cache[0] != epoch:
            g = seeded_generator(self.seed, "epoch", epoch)
            self._perm_cache = (epoch, torch.randperm(self.split_size("train"), generator=g))
        return self._perm_cache[1]

    def train_batch(self, step: int, batch_size: int):
        return self.train_rows(step, batch_size, slice(None))

    def train_rows(self, step: int, batch_size: int, rows: slice):
        """Only the rows asked for are gathered from the training split."""
        per_epoch = self.steps_per_epoch(batch_size)
        epoch, k = divmod(step, per_epoch)
        idx = self._epoch_perm(epoch)[k * batch_size:(k + 1) * batch_size][rows]
        x, y = self.splits["train"]
        return x[idx], y[idx]

    def eval_batches(self, split: str, batch_size: int):
        x, y = self.splits[split]
        for i in range(0, len(y), batch_size):
            yield x[i:i + batch_size], y[i:i + batch_size]

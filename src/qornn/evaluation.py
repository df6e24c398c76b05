"""Scoring a model on a split of its task: :func:`evaluate` and the score runs are selected by.

>>> selection_score({"loss": 0.5, "accuracy": 0.9}), selection_score({"loss": 0.5})
(0.9, -0.5)
"""
from __future__ import annotations

import itertools

import torch

from .distributed import DataParallel
from .tasks import Task

__all__ = ["evaluate", "selection_score"]


@torch.no_grad()
def evaluate(model: torch.nn.Module, task: Task, split: str, batch_size: int, dp: DataParallel | None = None) -> dict:
    """Mean loss (and accuracy where defined) over a whole split, on the device of the model.

    With ``dp`` (a data-parallel run), rank r evaluates the batches i with i mod N = r and the sums
    are added over the ranks: every rank gets the metrics of the whole split.
    """
    was_training = model.training
    model.eval()
    first = next(itertools.chain(model.parameters(), model.buffers()), None)  # an integer-exact model: maybe neither
    device = first.device if first is not None else torch.device("cpu")
    rank, world = (dp.rank, dp.world_size) if dp is not None else (0, 1)
    loss_sum, count, correct, scored = 0.0, 0, 0, 0
    for i, (x, y) in enumerate(task.eval_batches(split, batch_size)):
        if i % world != rank:
            continue
        x, y = x.to(device), y.to(device)
        logits = model(x)
        loss_sum += float(task.loss(logits, y)) * len(x)
        count += len(x)
        c, s = task.correct(logits, y)
        correct, scored = correct + c, scored + s
    model.train(was_training)
    if dp is not None:
        loss_sum, count, correct, scored = dp.sum([loss_sum, count, correct, scored])
    out = {"split": split, "loss": loss_sum / max(count, 1)}
    if task.info.has_accuracy and scored:
        out["accuracy"] = correct / scored
    if task.info.baseline is not None:
        out["baseline"] = task.info.baseline
    return out


def selection_score(metrics: dict) -> float:
    """Higher is better: validation accuracy where defined, else minus the loss."""
    return metrics["accuracy"] if "accuracy" in metrics else -metrics["loss"]

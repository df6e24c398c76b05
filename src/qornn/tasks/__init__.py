"""Tasks: synthetic (generated from a seed) and data-backed.

``build_task(cfg)`` turns ``cfg.task`` into a :class:`Task`.  New tasks register a
builder ``builder(cfg) -> Task`` in ``TASKS``.
"""
from __future__ import annotations

from typing import Callable

from ..errors import ConfigError
from .adding import AddingTask
from .base import ArrayTask, Task, TaskInfo, seeded_generator
from .copy import CopyTask, copy_batch, memoryless_baseline

TASKS: dict[str, Callable] = {
    "copy": lambda cfg: CopyTask(cfg.task.seq_len, cfg.task.n_symbols, cfg.task.alphabet, cfg.task.train_size,
                                 cfg.task.val_size, cfg.task.test_size, seed=cfg.seed, layout=cfg.task.layout),
    "adding": lambda cfg: AddingTask(cfg.task.seq_len, cfg.task.train_size, cfg.task.val_size,
                                     cfg.task.test_size, seed=cfg.seed),
}


def _data_tasks() -> dict[str, Callable]:
    """Data-backed tasks; each reads its files only when built."""
    from . import mnist, sequences, text

    return {"smnist": lambda cfg: mnist.build_mnist(cfg, permuted=False),
            "pmnist": lambda cfg: mnist.build_mnist(cfg, permuted=True),
            "imdb": text.build_imdb, "sst2": text.build_sst2, "qqp": text.build_qqp,
            "har": sequences.build_har, "npz": sequences.build_npz}


TASKS.update(_data_tasks())


def register_task(name: str, builder: Callable) -> None:
    TASKS[name] = builder


def build_task(cfg) -> Task:
    name = cfg.task.name
    if name not in TASKS:
        raise ConfigError(f"task.name={name!r} is unknown; allowed: {', '.join(sorted(TASKS))}")
    return TASKS[name](cfg)


__all__ = ["Task", "TaskInfo", "ArrayTask", "CopyTask", "AddingTask", "TASKS", "build_task", "register_task",
           "copy_batch", "memoryless_baseline", "seeded_generator"]

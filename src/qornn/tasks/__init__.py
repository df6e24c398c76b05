"""Tasks: synthetic (generated from a seed) and data-backed.

``build_task(cfg)`` turns ``cfg.task`` into a :class:`Task`; ``task_info(cfg)`` gives its
:class:`TaskInfo` (shapes, loss, sequence length) from the configuration alone, without
reading any data (``qornn bench`` times random inputs of these shapes when a data set is
missing).  New tasks register a builder ``builder(cfg) -> Task`` with :func:`register_task`,
and, if reading data, the function giving their info without it.
"""
from __future__ import annotations

import functools
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


#: The TaskInfo of data-backed tasks from the configuration alone (the synthetic tasks build themselves).
TASK_INFO: dict[str, Callable] = {}


def _data_tasks() -> None:
    """Data-backed tasks; each reads its files only when built."""
    from . import mnist, sequences, text

    TASKS.update({"smnist": lambda cfg: mnist.build_mnist(cfg, permuted=False),
                  "pmnist": lambda cfg: mnist.build_mnist(cfg, permuted=True),
                  "imdb": text.build_imdb, "sst2": text.build_sst2, "qqp": text.build_qqp,
                  "har": sequences.build_har, "npz": sequences.build_npz})
    TASK_INFO.update({"smnist": mnist.mnist_info, "pmnist": mnist.mnist_info, "har": sequences.har_info,
                      **{name: functools.partial(text.text_info, name) for name in ("imdb", "sst2", "qqp")}})


_data_tasks()


def register_task(name: str, builder: Callable, info: Callable | None = None) -> None:
    """Make ``task.name=name`` available; ``info(cfg) -> TaskInfo`` for a task that reads data."""
    TASKS[name] = builder
    if info is not None:
        TASK_INFO[name] = info


def task_info(cfg) -> TaskInfo:
    """The TaskInfo (with ``seq_len``) of ``cfg.task``: from ``TASK_INFO`` without reading data, else from the
    built task (the synthetic tasks read no data; ``npz`` reads its file)."""
    if cfg.task.name in TASK_INFO:
        return TASK_INFO[cfg.task.name](cfg)
    return build_task(cfg).info


def build_task(cfg) -> Task:
    name = cfg.task.name
    if name not in TASKS:
        raise ConfigError(f"task.name={name!r} is unknown; allowed: {', '.join(sorted(TASKS))}")
    return TASKS[name](cfg)


__all__ = ["Task", "TaskInfo", "ArrayTask", "CopyTask", "AddingTask", "TASKS", "TASK_INFO", "build_task", "task_info",
           "register_task",
           "copy_batch", "memoryless_baseline", "seeded_generator"]

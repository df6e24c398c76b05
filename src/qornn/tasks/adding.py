"""The adding task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016).

Input (B, T, 2): channel 0 holds values drawn from U(0, 1); channel 1 marks two
positions, one uniformly in the first half and one in the second.  Target: the sum
of the two marked values.  Loss: mean squared error; predicting 1 always scores the
baseline variance 1/6 ≈ 0.167.
"""
from __future__ import annotations

import torch

from ..errors import ConfigError
from .base import Task, TaskInfo, seeded_generator


def adding_batch(batch_size: int, length: int, generator: torch.Generator | None = None):
    values = torch.rand(batch_size, length, generator=generator)
    half = length // 2
    first = torch.randint(0, half, (batch_size,), generator=generator)
    second = torch.randint(half, length, (batch_size,), generator=generator)
    marks = torch.zeros(batch_size, length)
    rows = torch.arange(batch_size)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    x = torch.stack((values, marks), dim=-1)
    y = values[rows, first] + values[rows, second]
    return x, y


class AddingTask(Task):
    name = "adding"

    def __init__(self, length: int = 200, train_size: int = 100_000, val_size: int = 2000, test_size: int = 2000,
                 seed: int = 0):
        if not isinstance(length, int) or length < 2:
            raise ConfigError(f"task.seq_len={length!r} is not allowed for the adding task; use an integer >= 2")
        self.length, self.seed = length, seed
        self.sizes = {"train": train_size, "val": val_size, "test": test_size}
        self.info = TaskInfo(input_kind="features", input_size=2, output_size=1, many_to_many=False,
                             loss="mse", baseline=1.0 / 6.0, baseline_name="predict 1", has_accuracy=False,
                             seq_len=length)
        self._fixed = {}

    def split_size(self, split: str) -> int:
        return self.sizes[split]

    def train_batch(self, step: int, batch_size: int):
        return adding_batch(batch_size, self.length, seeded_generator(self.seed, "adding-train", step))

    def eval_batches(self, split: str, batch_size: int):
        if split not in self._fixed:
            self._fixed[split] = adding_batch(self.sizes[split], self.length,
                                              seeded_generator(self.seed, "adding", split))
        x, y = self._fixed[split]
        for i in range(0, len(y), batch_size):
            yield x[i:i + batch_size], y[i:i + batch_size]

"""The copy task (Hochreiter & Schmidhuber 1997; Arjovsky, Shah & Bengio 2016).

K symbols drawn uniformly from an alphabet of 8, then T − 1 blanks, a marker, and
K more blanks; the target is blank everywhere except the last K steps, which must
reproduce the K symbols.  Total length T + 2K (T = 1000 gives 1020 steps).

Tokens: 0 = blank, 1..8 = symbols, 9 = marker (10 input tokens); 9 output classes
(blank and the 8 symbols).  Loss: cross-entropy averaged over all T + 2K steps.
A memoryless model that outputs blank until the marker and then a uniform guess
scores the baseline K·log(8)/(T + 2K).  Accuracy is scored on the K copy steps.
"""
from __future__ import annotations

import math

import torch

from ..errors import ConfigError
from .base import Task, TaskInfo, seeded_generator


def copy_batch(batch_size: int, delay: int, n_symbols: int = 10, alphabet: int = 8,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) of shape (B, T + 2K) int64, following the module docstring."""
    k = n_symbols
    length = delay + 2 * k
    symbols = torch.randint(1, alphabet + 1, (batch_size, k), generator=generator)
    x = torch.zeros(batch_size, length, dtype=torch.long)
    x[:, :k] = symbols
    x[:, delay + k - 1] = alphabet + 1  # the marker
    y = torch.zeros(batch_size, length, dtype=torch.long)
    y[:, -k:] = symbols
    return x, y


def memoryless_baseline(delay: int, n_symbols: int = 10, alphabet: int = 8) -> float:
    return n_symbols * math.log(alphabet) / (delay + 2 * n_symbols)


class CopyTask(Task):
    name = "copy"

    def __init__(self, delay: int = 1000, n_symbols: int = 10, alphabet: int = 8, train_size: int = 512_000,
                 val_size: int = 2000, test_size: int = 2000, seed: int = 0):
        for key, value, low in (("task.seq_len", delay, 1), ("task.n_symbols", n_symbols, 1),
                                ("task.alphabet", alphabet, 2), ("task.train_size", train_size, 1),
                                ("task.val_size", val_size, 1), ("task.test_size", test_size, 1)):
            if not isinstance(value, int) or value < low:
                raise ConfigError(f"{key}={value!r} is not allowed for the copy task; use an integer >= {low}")
        self.delay, self.k, self.alphabet, self.seed = delay, n_symbols, alphabet, seed
        self.sizes = {"train": train_size, "val": val_size, "test": test_size}
        self.info = TaskInfo(input_kind="tokens", input_size=alphabet + 2, output_size=alphabet + 1,
                             many_to_many=True, loss="ce",
                             baseline=memoryless_baseline(delay, n_symbols, alphabet),
                             baseline_name="memoryless")
        self._fixed: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def split_size(self, split: str) -> int:
        return self.sizes[split]

    def train_batch(self, step: int, batch_size: int):
        return copy_batch(batch_size, self.delay, self.k, self.alphabet,
                          seeded_generator(self.seed, "copy-train", step))

    def eval_batches(self, split: str, batch_size: int):
        if split not in self._fixed:
            self._fixed[split] = copy_batch(self.sizes[split], self.delay, self.k, self.alphabet,
                                            seeded_generator(self.seed, "copy", split))
        x, y = self._fixed[split]
        for i in range(0, len(x), batch_size):
            yield x[i:i + batch_size], y[i:i + batch_size]

    def correct(self, logits, y):
        pred = logits[:, -self.k:].argmax(-1)
        return int((pred == y[:, -self.k:]).sum()), pred.numel()

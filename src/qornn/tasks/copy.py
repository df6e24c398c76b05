"""The copy task (Hochreiter & Schmidhuber 1997; Arjovsky, Shah & Bengio 2016).

K symbols drawn uniformly from an alphabet of 8, then T − 1 blanks, a marker, and
K more blanks; the target is blank everywhere except the last K steps, which must
reproduce the K symbols.  Total length T + 2K (T = 1000 gives 1020 steps).

``layout="authors"`` is the HadamRNN authors' released variant: ``seq_len`` is the
*total* length L, the marker sits at step L − K and the first symbol is due at the
marker step itself ([K symbols] [L − 2K blanks] [marker] [K − 1 blanks]; L = 1000
gives 980 blanks); baseline K·log(8)/L.

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


LAYOUTS = ("qornn", "authors")


def sequence_length(seq_len: int, n_symbols: int, layout: str = "qornn") -> int:
    """Total steps: T + 2K (qornn) or ``seq_len`` itself (authors)."""
    return seq_len if layout == "authors" else seq_len + 2 * n_symbols


def copy_batch(batch_size: int, delay: int, n_symbols: int = 10, alphabet: int = 8,
               generator: torch.Generator | None = None, layout: str = "qornn") -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) int64 of shape (B, T + 2K), or (B, L) with ``layout="authors"`` (``delay`` = L), as the module says."""
    k = n_symbols
    length = sequence_length(delay, k, layout)
    symbols = torch.randint(1, alphabet + 1, (batch_size, k), generator=generator)
    x = torch.zeros(batch_size, length, dtype=torch.long)
    x[:, :k] = symbols
    x[:, length - k - 1 if layout == "qornn" else length - k] = alphabet + 1  # the marker
    y = torch.zeros(batch_size, length, dtype=torch.long)
    y[:, -k:] = symbols
    return x, y


def memoryless_baseline(delay: int, n_symbols: int = 10, alphabet: int = 8, layout: str = "qornn") -> float:
    """K·log(alphabet) / total length: blanks predicted exactly, the K recalled symbols guessed."""
    return n_symbols * math.log(alphabet) / sequence_length(delay, n_symbols, layout)


class CopyTask(Task):
    name = "copy"

    def __init__(self, delay: int = 1000, n_symbols: int = 10, alphabet: int = 8, train_size: int = 512_000,
                 val_size: int = 2000, test_size: int = 2000, seed: int = 0, layout: str = "qornn"):
        if layout not in LAYOUTS:
            raise ConfigError(f"task.layout={layout!r} is unknown for the copy task; allowed: {', '.join(LAYOUTS)}")
        shortest = 2 * n_symbols if layout == "authors" and isinstance(n_symbols, int) else 1
        for key, value, low in (("task.seq_len", delay, shortest), ("task.n_symbols", n_symbols, 1),
                                ("task.alphabet", alphabet, 2), ("task.train_size", train_size, 1),
                                ("task.val_size", val_size, 1), ("task.test_size", test_size, 1)):
            if not isinstance(value, int) or value < low:
                raise ConfigError(f"{key}={value!r} is not allowed for the copy task; use an integer >= {low}")
        self.delay, self.k, self.alphabet, self.seed, self.layout = delay, n_symbols, alphabet, seed, layout
        self.sizes = {"train": train_size, "val": val_size, "test": test_size}
        self.info = TaskInfo(input_kind="tokens", input_size=alphabet + 2, output_size=alphabet + 1,
                             many_to_many=True, loss="ce",
                             baseline=memoryless_baseline(delay, n_symbols, alphabet, layout),
                             baseline_name="memoryless", seq_len=sequence_length(delay, n_symbols, layout))
        self._fixed: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def split_size(self, split: str) -> int:
        return self.sizes[split]

    def train_batch(self, step: int, batch_size: int):
        return copy_batch(batch_size, self.delay, self.k, self.alphabet,
                          seeded_generator(self.seed, "copy-train", step), self.layout)

    def eval_batches(self, split: str, batch_size: int):
        if split not in self._fixed:
            self._fixed[split] = copy_batch(self.sizes[split], self.delay, self.k, self.alphabet,
                                            seeded_generator(self.seed, "copy", split), self.layout)
        x, y = self._fixed[split]
        for i in range(0, len(x), batch_size):
            yield x[i:i + batch_size], y[i:i + batch_size]

    def correct(self, logits, y):
        pred = logits[:, -self.k:].argmax(-1)
        return int((pred == y[:, -self.k:]).sum()), pred.numel()

"""TensorBoard event files beside ``metrics.jsonl`` (``train.tensorboard=true``).

Every record that the training loop appends to ``metrics.jsonl`` is also written as
scalars to ``RUN/tensorboard/``: the number ``record[key]`` becomes the scalar
``{split}/{key}`` at ``record["step"]`` (e.g. ``train/loss``, ``val/accuracy``,
``test/loss``).  Needs the optional ``tensorboard`` package (``pip install "qornn[tensorboard]"``);
view with ``tensorboard --logdir RUN/tensorboard``.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from .errors import ConfigError

FOLDER = "tensorboard"
#: Record keys that are not scalars to plot.
SKIPPED = {"step", "split", "final", "selected_step"}


def require_tensorboard() -> None:
    """Raise a one-line ConfigError when the ``tensorboard`` package is missing."""
    if importlib.util.find_spec("tensorboard") is None:
        raise ConfigError('train.tensorboard=true needs the tensorboard package; install it with '
                          'pip install "qornn[tensorboard]" (or set train.tensorboard=false)')


def scalars(record: dict) -> dict[str, float]:
    """The ``{split}/{key}: value`` scalars of one metrics record (numbers only, booleans skipped).

    >>> scalars({"step": 5, "split": "val", "loss": 0.5, "accuracy": 1, "final": True})
    {'val/loss': 0.5, 'val/accuracy': 1.0}
    """
    split = record.get("split", "train")
    return {f"{split}/{k}": float(v) for k, v in record.items()
            if k not in SKIPPED and isinstance(v, (int, float)) and not isinstance(v, bool)}


class TensorBoardLog:
    """Writes metrics records as scalars with ``torch.utils.tensorboard.SummaryWriter``.

    ``first_step``: when continuing a run, events at this step and later that an earlier
    process wrote are dropped by TensorBoard (``purge_step``), as ``metrics.jsonl`` is truncated.
    """

    def __init__(self, folder: Path, first_step: int | None = None):
        require_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(folder), purge_step=first_step)

    def write(self, record: dict) -> None:
        step = int(record["step"])
        for tag, value in scalars(record).items():
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()  # a killed run keeps every record written so far

    def close(self) -> None:
        self.writer.close()

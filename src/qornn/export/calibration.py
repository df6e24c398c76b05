"""Calibration of activation ranges on training data, and its record in a run folder.

``calibrate(model, task)`` runs the trained model (quantized weights, full-precision activations)
on the first ``batches`` training batches and records max |x| (feature inputs) and max |h_t|
(the hidden state fed back to W, over all steps, units and samples), or, with ``percentile``,
the largest per-batch q-th percentile of |h_t|.  This is step 1 of the QORNN authors'
activation procedure (arXiv 2402.04012, v2); :func:`qornn.export.integer_model` turns the ranges
into powers of two.

``qornn quantize RUN --activation-bits B --out RUN_Q`` writes the record as
``RUN_Q/activations.json``; :func:`load_integer_run` reads a run folder back as its integer model.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError, ConfigError
from .integer_model import check_activation_bits

__all__ = ["Calibration", "calibrate", "ACTIVATIONS", "write_activations", "read_activations", "has_activations",
           "load_integer_run"]

ACTIVATIONS = "activations.json"
FORMAT = "qornn-activations-1"
DEFAULT_BATCHES = 10


@dataclass(frozen=True)
class Calibration:
    """Calibrated ranges (max |x| of feature inputs, max |h_t|) and how they were measured."""

    input_kind: str  # "tokens" or "features"
    state_max: float
    input_max: float | None
    batches: int
    batch_size: int
    percentile: float | None = None
    split: str = "train"


def _check(batches, percentile) -> None:
    if isinstance(batches, bool) or not isinstance(batches, int) or batches < 1:
        raise ConfigError(f"--calibration-batches {batches!r} is not allowed; use a positive integer")
    if percentile is not None and not 0 < percentile <= 100:
        raise ConfigError(f"--calibration-percentile {percentile!r} is out of range; allowed: a number in (0, 100]")


def _range(values: torch.Tensor, percentile: float | None) -> float:
    a = values.detach().abs().reshape(-1)
    if a.numel() == 0:
        return 0.0
    if percentile is None or percentile == 100:
        return float(a.max())
    return float(np.quantile(a.double().numpy(), percentile / 100.0))


@torch.no_grad()
def calibrate(model, task, batches: int = DEFAULT_BATCHES, batch_size: int = 100,
              percentile: float | None = None) -> Calibration:
    """Ranges of the inputs and hidden states of ``model`` on ``batches`` training batches of ``task``."""
    _check(batches, percentile)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"calibration batch size {batch_size!r} is not allowed; use a positive integer")
    was_training = model.training
    model.eval()
    state_max, input_max, tokens = 0.0, 0.0, True
    for step in range(batches):
        x, _ = task.train_batch(step, batch_size)
        if torch.is_floating_point(x):
            tokens = False
            input_max = max(input_max, _range(x, None))
        states, _ = model.rnn(x)
        if not torch.isfinite(states).all():
            raise ConfigError("the model produced non-finite hidden states on training data; cannot calibrate")
        state_max = max(state_max, _range(states, percentile))
    model.train(was_training)
    return Calibration("tokens" if tokens else "features", state_max, None if tokens else input_max, batches,
                       batch_size, percentile)


# ---- the record in a run folder ----------------------------------------------------------------------
def write_activations(run_dir: Path, bits: int, calibration: Calibration, source: str | None = None) -> None:
    from ..checkpoint import atomic_write_text
    from ..jsonio import dumps

    record = {"format": FORMAT, "activation_bits": check_activation_bits(bits),
              "calibration": asdict(calibration), "source": source}
    atomic_write_text(Path(run_dir) / ACTIVATIONS, dumps(record, indent=2) + "\n")


def has_activations(run_dir: Path) -> bool:
    return (Path(run_dir) / ACTIVATIONS).is_file()


def read_activations(run_dir: Path) -> tuple[int, Calibration]:
    """(B, calibration) of an activation-quantized run folder; a CheckpointError naming what is wrong."""
    import json

    path = Path(run_dir) / ACTIVATIONS
    if not path.is_file():
        raise CheckpointError(f"{run_dir} has no activation calibration ({ACTIVATIONS}); run `qornn quantize "
                              f"{run_dir} --activation-bits B --out RUN_Q` and use RUN_Q")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("format") != FORMAT:
            raise ValueError(f"format {record.get('format')!r}, expected {FORMAT!r}")
        calibration = Calibration(**record["calibration"])
        bits = record["activation_bits"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is malformed ({' '.join(str(exc).split())[:120]})") from None
    try:
        return check_activation_bits(bits), calibration
    except ConfigError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def load_integer_run(run_dir: Path, data_dir: str | None = None):
    """(cfg, task, model, integer model) of an activation-quantized run folder."""
    from ..run import load_trained
    from .integer_model import integer_model

    bits, calibration = read_activations(run_dir)
    cfg, task, model = load_trained(Path(run_dir), data_dir=data_dir)
    return cfg, task, model, integer_model(model, calibration, bits)

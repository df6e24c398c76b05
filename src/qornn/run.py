"""A run folder on disk, and loading a trained model back from it.

Layout written by ``qornn train --out DIR``::

    DIR/config.yaml                 the resolved configuration
    DIR/metrics.jsonl               one JSON object per evaluation / training log line
    DIR/checkpoints/last.safetensors  latest training checkpoint (model + optimizer + RNG)
    DIR/model.safetensors           final model (written when training ends; with train.keep_best
                                    the weights of the best validation score)
    DIR/best.safetensors            with train.keep_best: best weights so far
    DIR/summary.json                final metrics, size and runtime
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from .checkpoint import atomic_write_text, load_model
from .config import Config, from_yaml_file
from .errors import CheckpointError

CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
LAST = Path("checkpoints") / "last.safetensors"
MODEL = "model.safetensors"
BEST = "best.safetensors"
SUMMARY = "summary.json"


def require_run(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run folder {run_dir} does not exist")
    if not (run_dir / CONFIG).is_file():
        raise CheckpointError(f"{run_dir} holds no qornn run (no {CONFIG}); pass a folder written by `qornn train --out`")
    return run_dir


def read_config(run_dir: Path) -> Config:
    return from_yaml_file(require_run(run_dir) / CONFIG)


def weights_file(run_dir: Path) -> Path:
    """The final model if present, else the last checkpoint."""
    run_dir = Path(run_dir)
    for candidate in (run_dir / MODEL, run_dir / LAST):
        if candidate.is_file():
            return candidate
    raise CheckpointError(f"{run_dir} has no {MODEL} and no {LAST}; the run saved no weights yet")


def load_trained(run_dir: Path, data_dir: str | None = None):
    """(cfg, task, model) of a run folder, the model in eval mode with its saved weights."""
    from .model import build_model
    from .tasks import build_task

    cfg = read_config(run_dir)
    if data_dir is not None:
        cfg.task.data_dir = data_dir
    task = build_task(cfg)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, task.info)
    load_model(weights_file(run_dir), model)
    model.eval()
    return cfg, task, model


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a kill; everything before it is intact
    return rows


def truncate_metrics(run_dir: Path, last_step: int) -> None:
    """Keep only the metric lines up to ``last_step`` (used when resuming)."""
    rows = [r for r in read_metrics(run_dir) if r.get("step", 0) <= last_step]
    atomic_write_text(Path(run_dir) / METRICS, "".join(json.dumps(r) + "\n" for r in rows))

"""A run folder on disk, and loading a trained model back from it.

Layout written by ``qornn train --out DIR``::

    DIR/config.yaml                 the resolved configuration
    DIR/metrics.jsonl               one JSON object per evaluation / training log line
    DIR/checkpoints/last.safetensors  latest training checkpoint (model + optimizer + RNG)
    DIR/model.safetensors           final model (written when training ends; with train.keep_best
                                    the weights of the best validation score)
    DIR/best.safetensors            with train.keep_best: best weights so far
    DIR/summary.json                final metrics, size and runtime
    DIR/.qornn-run                  marker written when qornn creates the folder (JSON: format, run id);
                                    only folders that carry it may be replaced by ``--overwrite``
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import torch

from .checkpoint import atomic_write_text, load_model
from .config import Config, from_yaml_file
from .errors import CheckpointError, ConfigError

CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
LAST = Path("checkpoints") / "last.safetensors"
MODEL = "model.safetensors"
BEST = "best.safetensors"
SUMMARY = "summary.json"
MARKER = ".qornn-run"
MARKER_FORMAT = "qornn-run-1"


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


def truncate_metrics(run_dir: Path, last_step: int, log_every: int | None = None) -> None:
    """Keep the metric lines up to ``last_step`` that an uninterrupted longer run also has (used when resuming):
    no final lines, and no training line that only the end of a shorter run wrote (off the ``log_every`` grid)."""
    def kept(r: dict) -> bool:
        if r.get("step", 0) > last_step or r.get("final"):
            return False
        return not (log_every and r.get("split") == "train" and r["step"] % log_every)

    rows = [r for r in read_metrics(run_dir) if kept(r)]
    atomic_write_text(Path(run_dir) / METRICS, "".join(json.dumps(r) + "\n" for r in rows))


# ---- creating and replacing run folders ------------------------------------------------------------
def has_marker(folder: Path) -> bool:
    """True when ``folder`` carries a readable ``.qornn-run`` marker (it was created by qornn)."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == MARKER_FORMAT


def marker_text() -> str:
    return json.dumps({"format": MARKER_FORMAT, "run_id": uuid.uuid4().hex,
                       "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n"


def _refuse_to_delete(out: Path) -> str | None:
    """Why ``--overwrite`` may not delete ``out`` (None when it may)."""
    if out.is_symlink():
        return "it is a symbolic link"
    resolved, cwd = out.resolve(), Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        return "it is the current folder or one of its parents"
    if resolved == Path.home().resolve() or resolved.parent == resolved:
        return "it is the home folder or the root folder"
    if not has_marker(out):
        return f"it is not a folder created by qornn (no {MARKER} marker)"
    return None


def check_out_dir(out: Path, overwrite: bool) -> None:
    """Refuse an --out folder that holds files, unless --overwrite and qornn created it (see ``MARKER``)."""
    out = Path(out)
    if out.is_symlink() and not out.exists():
        raise ConfigError(f"--out {out} is a broken symbolic link; choose another folder")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(f"--out {out} already holds files; use --resume {out} to continue it, "
                              f"--overwrite to replace it, or another folder")
        reason = _refuse_to_delete(out)
        if reason:
            raise ConfigError(f"--overwrite refuses to delete {out}: {reason}; nothing was deleted")
    elif out.is_symlink():
        raise ConfigError(f"--out {out} is a symbolic link; give the real folder")


def _sibling(out: Path, kind: str) -> Path:
    return out.parent / f".{out.name}.qornn-{kind}-{uuid.uuid4().hex[:8]}"


def _remove_stale_siblings(out: Path) -> None:
    """Staging/old folders of ``out`` left by a killed process (they carry the marker)."""
    for kind in ("new", "old"):
        for stale in out.parent.glob(f".{out.name}.qornn-{kind}-*"):
            if stale.is_dir() and not stale.is_symlink() and has_marker(stale):
                shutil.rmtree(stale, ignore_errors=True)


def create_run_dir(out: Path, overwrite: bool, files: dict[str, str]) -> None:
    """Create the run folder ``out`` holding the marker and ``files`` (name -> text), replacing it if allowed.

    The new folder is assembled beside ``out`` and renamed into place; a run being replaced is first
    renamed aside and deleted only once the new folder is in place, so a failure before the swap leaves
    it intact.
    """
    from .checkpoint import atomic_write_text

    out = Path(out)
    check_out_dir(out, overwrite)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_siblings(out)
        staging = _sibling(out, "new")
        staging.mkdir()
        atomic_write_text(staging / MARKER, marker_text())
        for name, text in files.items():
            atomic_write_text(staging / name, text)
        old = None
        if out.exists():
            if any(out.iterdir()):
                old = _sibling(out, "old")
                os.replace(out, old)
            else:
                out.rmdir()
        try:
            os.replace(staging, out)
        except OSError:
            if old is not None:  # put the old run back where it was
                os.replace(old, out)
            shutil.rmtree(staging, ignore_errors=True)
            raise
    except OSError as exc:
        raise ConfigError(f"cannot create run folder {out}: {exc.strerror or exc}") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

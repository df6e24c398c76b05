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
    DIR/.qornn-lock                 held (flock) by the process writing the run (:mod:`qornn.lock`)
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import torch

from . import jsonio
from .checkpoint import atomic_write_text, check_stored_config, load_model_tensors, read_tensors
from .config import Config, from_yaml_file
from .errors import CheckpointError, ConfigError, OutputError, QornnError
from .jsonio import check_keys, loads
from .lock import RunLock, ensure_unlocked

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


def verified_weights(run_dir: Path, cfg: Config | None = None) -> tuple[Config, Path, dict]:
    """(config, weights file, its tensors) of a run, checksum and stored config verified."""
    cfg = read_config(run_dir) if cfg is None else cfg
    path = weights_file(run_dir)
    tensors, meta = read_tensors(path)
    check_stored_config(meta, cfg, path, Path(run_dir) / CONFIG)
    return cfg, path, tensors


def load_trained(run_dir: Path, data_dir: str | None = None, device: str | torch.device = "cpu"):
    """(cfg, task, model) of a run folder, the model in eval mode with its saved (verified) weights, on
    ``device`` (a ``train.device`` name or a torch.device; the weights load on any device)."""
    from .devices import resolve_device
    from .model import build_model
    from .tasks import build_task

    cfg, path, tensors = verified_weights(run_dir)
    if data_dir is not None:
        cfg.task.data_dir = data_dir
    task = build_task(cfg)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, task.info)
    model.to(device if isinstance(device, torch.device) else resolve_device(device))
    load_model_tensors(model, tensors, path)
    model.eval()
    return cfg, task, model


#: Keys and JSON types every metrics.jsonl line has.
METRIC_KEYS = {"step": int, "split": str}


def _metric_lines(run_dir: Path) -> list[tuple[str, dict]]:
    """(raw line, parsed object) of each line of metrics.jsonl; a last line cut by a kill is skipped."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return []
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    lines = text.split("\n")
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = loads(line)
        except (ValueError, RecursionError):
            if number == len(lines):  # no newline after it: a write cut by a kill
                continue
            raise CheckpointError(f"{path}:{number}: not valid JSON") from None
        if not isinstance(row, dict):
            raise CheckpointError(f"{path}:{number}: expected a JSON object, found {type(row).__name__}")
        check_keys(row, METRIC_KEYS, f"{path}:{number}")
        rows.append((line, row))
    return rows


def read_metrics(run_dir: Path) -> list[dict]:
    """The metric records of a run (each with ``step`` and ``split``); CheckpointError on a malformed file."""
    return [row for _, row in _metric_lines(run_dir)]


def truncate_metrics(run_dir: Path, last_step: int, log_every: int | None = None) -> None:
    """Keep the metric lines up to ``last_step`` that an uninterrupted longer run also has (used when resuming):
    no final lines, and no training line that only the end of a shorter run wrote (off the ``log_every`` grid).
    Kept lines are copied byte for byte."""
    def kept(r: dict) -> bool:
        if r["step"] > last_step or r.get("final"):
            return False
        return not (log_every and r["split"] == "train" and r["step"] % log_every)

    lines = [line for line, r in _metric_lines(run_dir) if kept(r)]
    atomic_write_text(Path(run_dir) / METRICS, "".join(line + "\n" for line in lines))


class MetricsLog:
    """Appends one JSON object per line to metrics.jsonl (with ``tensorboard``, also to RUN/tensorboard/);
    ``path=None``: writes nothing (the ranks other than 0 of a data-parallel run)."""

    def __init__(self, path: Path | None, tensorboard: bool = False, first_step: int | None = None):
        self.path = path
        self.board = None
        if tensorboard and path is not None:
            from .tensorboard_log import FOLDER, TensorBoardLog

            self.board = TensorBoardLog(path.parent / FOLDER, first_step)

    def write(self, record: dict) -> None:
        if self.path is None:
            return
        with open(self.path, "a") as f:
            f.write(jsonio.dumps(record) + "\n")  # NaN / inf → null (JSON has neither)
            f.flush()
        if self.board is not None:
            self.board.write(record)

    def close(self) -> None:
        if self.board is not None:
            self.board.close()


def finished_message(out: Path, step: int, total: int, elapsed_s: float, tcfg) -> str | None:
    """Why a finished run (summary written) has nothing left to train, or None."""
    if not (out / SUMMARY).is_file():
        return None
    if step >= total:
        return (f"{out} is finished ({step}/{total} steps); nothing to do (extend it with --set train.steps=N "
                f"or train.epochs=E)")
    if tcfg.budget_minutes and elapsed_s >= tcfg.budget_minutes * 60:
        return (f"{out} stopped at its time budget ({tcfg.budget_minutes} min, step {step}/{total}); nothing to "
                f"do (extend it with --set train.budget_minutes=M)")
    return None


# ---- summary.json --------------------------------------------------------------------------------------
def make_summary(cfg: Config, model: torch.nn.Module, steps: int, total_steps: int, runtime_s: float,
                 final: dict, stopped_early: bool = False, activation_bits: int | None = None, **extra) -> dict:
    """The summary.json record of a run folder (``qornn train`` and ``qornn quantize`` write the same keys):
    steps, runtime, what was trained, ``final`` (the val/test metrics), the model's size in bits (biases at
    ``activation_bits`` for an integer deployment), ``extra``."""
    from .size import model_size

    return {"steps": steps, "total_steps": total_steps, "stopped_early": stopped_early, "runtime_s": runtime_s,
            "task": cfg.task.name, "recurrent": cfg.model.recurrent, "hidden_size": cfg.model.hidden_size,
            "description": cfg.description, "seed": cfg.seed, **final,
            "total_bits": model_size(model, activation_bits)["total_bits"], **extra}


def write_summary(run_dir: Path, summary: dict) -> None:
    """summary.json, strict JSON (non-finite numbers as null), written atomically."""
    atomic_write_text(Path(run_dir) / SUMMARY, jsonio.dumps(summary, indent=2) + "\n")


def score_line(test: dict, baseline_name: str = "") -> str:
    """``test loss 0.0123 (below the memoryless baseline 0.17), accuracy 99.50%`` from test metrics."""
    line = f"test loss {test['loss']:.6g}"
    if test.get("baseline") is not None:
        verdict = "below" if test["loss"] < test["baseline"] else "NOT below"
        line += f" ({verdict} the {baseline_name} baseline {test['baseline']:.6g})"
    if "accuracy" in test:
        line += f", accuracy {100 * test['accuracy']:.2f}%"
    return line


#: Keys and JSON types of summary.json that readers rely on.
SUMMARY_KEYS = {"steps": int, "test": dict, "total_bits": int}


def read_summary(run_dir: Path) -> dict:
    """summary.json of a finished run, with its main keys checked; CheckpointError naming the file if not."""
    from .jsonio import read_object

    path = Path(run_dir) / SUMMARY
    summary = read_object(path, SUMMARY_KEYS)
    check_keys(summary["test"], {"loss": (int, float, type(None))}, f"{path} (test)")
    commands = summary.get("commands", [])
    if not (isinstance(commands, list) and all(isinstance(c, str) for c in commands)):
        raise CheckpointError(f"{path}: key 'commands' is not a list of command lines")
    return summary


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
        ensure_unlocked(out)
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


def create_run_dir(out: Path, overwrite: bool, files: dict[str, str]) -> RunLock:
    """Create the run folder ``out`` holding the marker and ``files`` (name -> text), replacing it if allowed;
    returns the folder's lock, held (release it when the run is written).

    The new folder is assembled (and locked) beside ``out`` and renamed into place; a run being replaced
    is first locked and renamed aside, and deleted only once the new folder is in place, so a failure
    before the swap leaves it intact.
    """
    out = Path(out)
    check_out_dir(out, overwrite)
    old, lock, staging = None, None, None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_siblings(out)
        staging = _sibling(out, "new")
        staging.mkdir()
        atomic_write_text(staging / MARKER, marker_text())
        for name, text in files.items():
            atomic_write_text(staging / name, text)
        lock = RunLock(staging).acquire()  # the lock file moves with the folder
        if out.exists():
            if any(out.iterdir()):
                with RunLock(out):  # LockedError while another process writes the old run
                    old = _sibling(out, "old")
                    os.replace(out, old)
            else:
                out.rmdir()
        try:
            os.replace(staging, out)
        except OSError:
            if old is not None:  # put the old run back where it was
                os.replace(old, out)
            raise
    except (OSError, QornnError) as exc:
        if lock is not None:
            lock.release()
        if staging is not None and staging.is_dir() and has_marker(staging):
            shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, QornnError):
            raise
        raise OutputError(f"cannot create run folder {out}: {exc.strerror or exc}") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    lock.folder = out
    return lock


def lock_run(run_dir: Path) -> RunLock:
    """The held lock of an existing run folder (LockedError if another process writes it)."""
    return RunLock(require_run(run_dir)).acquire()

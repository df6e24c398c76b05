"""Checkpoints in safetensors, written atomically.

One file holds everything needed to resume: model tensors (``model/<name>``, the
latent parameters and buffers of ``state_dict()``), optimizer tensors
(``optim/<param index>/<key>``), the torch RNG state (``rng/torch``), and, as JSON in
the string metadata, the optimizer's param groups and non-tensor state, the
scheduler state, the step and any extra fields.  Files are written to a temporary
name in the same folder, flushed to disk and renamed, so a run killed at any moment
leaves either the previous or the new checkpoint, never a partial one.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import CheckpointError

FORMAT = "qornn-checkpoint-1"


@contextlib.contextmanager
def _atomic_target(path: Path):
    """Yield a temporary path beside ``path``; on success fsync it and rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with _atomic_target(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _atomic_save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    with _atomic_target(path) as tmp:
        save_file({k: v.detach().contiguous().cpu().clone() for k, v in tensors.items()}, tmp, metadata=metadata)


def save_model(path: Path, model: torch.nn.Module, metadata: dict[str, Any] | None = None) -> None:
    """Model tensors only (``model/<name>``), with JSON metadata."""
    tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "kind": "model"}
    meta.update({k: json.dumps(v) for k, v in (metadata or {}).items()})
    _atomic_save_tensors(path, tensors, meta)


def save_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler, step: int,
                    extra: dict[str, Any] | None = None, state: dict[str, torch.Tensor] | None = None) -> None:
    """Everything resume needs; ``state`` holds further training-state tensors (e.g. a sign rule's averages)."""
    tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
    tensors.update({f"state/{k}": v for k, v in (state or {}).items()})
    opt = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for idx, state in opt["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"optim/{idx}/{key}"] = value
            else:
                scalars.setdefault(str(idx), {})[key] = value
    tensors["rng/torch"] = torch.get_rng_state()
    meta = {
        "format": FORMAT,
        "kind": "checkpoint",
        "step": json.dumps(step),
        "optim_param_groups": json.dumps(opt["param_groups"]),
        "optim_scalars": json.dumps(scalars),
        "scheduler": json.dumps(scheduler.state_dict() if scheduler is not None else None),
        "extra": json.dumps(extra or {}),
    }
    _atomic_save_tensors(path, tensors, meta)


def read_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """All tensors and the metadata of a qornn safetensors file, or a CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist")
    try:
        tensors = load_file(str(path))
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path} is corrupted or not a safetensors file ({first})") from None
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a qornn checkpoint (format={metadata.get('format')!r}, "
                              f"expected {FORMAT!r})")
    return tensors, metadata


def _load_model_tensors(model: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    state = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{path} does not match the run's model ({first})") from None


def load_model(path: Path, model: torch.nn.Module) -> dict[str, Any]:
    """Load model tensors from a model file or a checkpoint; returns the decoded metadata."""
    tensors, meta = read_tensors(path)
    _load_model_tensors(model, tensors, path)
    return {k: _json(v, path) for k, v in meta.items() if k not in ("format", "kind")}


def _json(text: str, path: Path):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise CheckpointError(f"{path} has malformed metadata") from None


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler) -> dict[str, Any]:
    """Restore model, optimizer, scheduler and RNG; returns {'step': ..., 'extra': ..., 'state': tensors}."""
    tensors, meta = read_tensors(path)
    if meta.get("kind") != "checkpoint":
        raise CheckpointError(f"{path} holds a model only, not a training checkpoint")
    _load_model_tensors(model, tensors, path)
    groups = _json(meta["optim_param_groups"], path)
    scalars = _json(meta["optim_scalars"], path)
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim/"):
            _, idx, name = key.split("/", 2)
            state.setdefault(int(idx), {})[name] = value
    for idx, values in scalars.items():
        state.setdefault(int(idx), {}).update(values)
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: optimizer state does not match the model ({exc})") from None
    sched = _json(meta["scheduler"], path)
    if scheduler is not None and sched is not None:
        scheduler.load_state_dict(sched)
    if "rng/torch" in tensors:
        torch.set_rng_state(tensors["rng/torch"])
    extra_state = {k[len("state/"):]: v for k, v in tensors.items() if k.startswith("state/")}
    return {"step": _json(meta["step"], path), "extra": _json(meta.get("extra", "{}"), path), "state": extra_state}

"""Checkpoints in safetensors, written atomically and checked when read back.

One file holds everything needed to resume: model tensors (``model/<name>``, the
latent parameters and buffers of ``state_dict()``), optimizer tensors
(``optim/<param index>/<key>``), the torch RNG state (``rng/torch``), and, as JSON in
the string metadata, the optimizer's param groups and non-tensor state, the
scheduler state, the step and any extra fields.  Files are written to a temporary
name in the same folder, flushed to disk and renamed, so a run killed at any moment
leaves either the previous or the new checkpoint, never a partial one.

Integrity: the metadata holds ``sha256``, a SHA-256 of every tensor (name, dtype,
shape, bytes) and of every other metadata entry (:func:`digest`), and ``config``, the
resolved configuration the tensors belong to.  A file is read with one ``read()`` of
one open handle (never half of an old and half of a replacing file), and its digest
is checked before any tensor is used.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_bytes
from safetensors.torch import save_file

from .errors import CheckpointError, OutputError

FORMAT = "qornn-checkpoint-2"
#: Formats of older qornn versions, read without a checksum (they have none).
LEGACY_FORMATS = ("qornn-checkpoint-1",)
#: Names of the temporary files of :func:`_atomic_target` (``.NAME.XXXXXXXX.tmp``).
TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _atomic_target(path: Path):
    """Yield a temporary path beside ``path``; on success fsync it and rename it over ``path``.

    The file gets the permissions of a plainly created file (0666 minus the umask), not mkstemp's 0600.
    An unwritable destination is an :class:`OutputError` naming it.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # after the write: a writer may have recreated the file
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def remove_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files a killed write left in ``folder`` (see :data:`TEMPORARY`); returns them."""
    removed = []
    for p in Path(folder).glob(".*.tmp"):
        if TEMPORARY.match(p.name) and p.is_file() and not p.is_symlink():
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with _atomic_target(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _tensor_bytes(t: torch.Tensor) -> memoryview:
    flat = t.detach().cpu().contiguous().reshape(-1)
    return memoryview(flat.view(torch.uint8).numpy()) if flat.numel() else memoryview(b"")


def digest(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> str:
    """SHA-256 of every tensor (sorted by name: name, dtype, shape, bytes) and every metadata entry but
    ``sha256`` itself."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name]
        h.update(f"{name}|{str(t.dtype)}|{tuple(t.shape)}|".encode())
        h.update(_tensor_bytes(t))
    for key in sorted(k for k in metadata if k != "sha256"):
        h.update(f"{key}={metadata[key]}|".encode())
    return h.hexdigest()


def _atomic_save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    tensors = {k: v.detach().contiguous().cpu().clone() for k, v in tensors.items()}
    metadata = {**metadata, "sha256": digest(tensors, metadata)}
    with _atomic_target(path) as tmp:
        save_file(tensors, tmp, metadata=metadata)


def save_model(path: Path, model: torch.nn.Module, metadata: dict[str, Any] | None = None) -> None:
    """Model tensors only (``model/<name>``), with JSON metadata (put ``config`` there: loading checks it)."""
    tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "kind": "model"}
    meta.update({k: json.dumps(v, allow_nan=False) for k, v in (metadata or {}).items()})
    _atomic_save_tensors(path, tensors, meta)


def save_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler, step: int,
                    extra: dict[str, Any] | None = None, state: dict[str, torch.Tensor] | None = None,
                    config: dict | None = None) -> None:
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
    if config is not None:
        meta["config"] = json.dumps(config)
    _atomic_save_tensors(path, tensors, meta)


def header_metadata(data: bytes, path: Path) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file's JSON header (8-byte little-endian length, then JSON)."""
    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{path} is corrupted or not a safetensors file ({why})")

    if len(data) < 8:
        raise bad(f"{len(data)} bytes, shorter than the 8-byte header length")
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8:
        raise bad(f"header of {size} bytes announced, {len(data) - 8} bytes in the file")
    try:
        header = json.loads(data[8:8 + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise bad("header is not valid JSON") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise bad("no string metadata in the header")
    return meta


def read_bytes(path: Path) -> bytes:
    """The bytes of a file, read with one ``read()`` of one open handle (a concurrent atomic replacement
    gives either the old or the new file, never a mix); a CheckpointError naming it if it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise CheckpointError(f"{path} does not exist") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_tensors(path: Path, data: bytes | None = None) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """All tensors (on the CPU) and the metadata of a qornn safetensors file, checksum verified; else a
    CheckpointError.  ``data``: the file's bytes, already read (e.g. by another process), named ``path``."""
    path = Path(path)
    data = read_bytes(path) if data is None else data
    metadata = header_metadata(data, path)
    try:
        tensors = load_bytes(data)
    except (SafetensorError, OSError, ValueError, RuntimeError, OverflowError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path} is corrupted or not a safetensors file ({first[:200]})") from None
    fmt = metadata.get("format")
    if fmt not in (FORMAT, *LEGACY_FORMATS):
        raise CheckpointError(f"{path} is not a qornn checkpoint (format={fmt!r}, expected {FORMAT!r})")
    if fmt == FORMAT:
        if "sha256" not in metadata:
            raise CheckpointError(f"{path} has no checksum (sha256) in its metadata; it was not written by qornn "
                                  f"or was edited")
        if digest(tensors, metadata) != metadata["sha256"]:
            raise CheckpointError(f"{path}: checksum mismatch (tensors or metadata changed after qornn wrote the "
                                  f"file); the file is corrupted, restore it or retrain")
    return tensors, metadata


def _check_finite(tensors: dict[str, torch.Tensor], prefixes: tuple[str, ...], path: Path) -> None:
    for name, t in tensors.items():
        if name.startswith(prefixes) and t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{path}: tensor {name} holds NaN or infinite values; the weights are unusable")


def model_state(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The model's ``state_dict`` among the tensors of a qornn weights or checkpoint file."""
    return {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}


def load_model_tensors(model: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    _check_finite(tensors, ("model/",), path)
    state = model_state(tensors)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{path} does not match the run's model ({first})") from None


def load_model(path: Path, model: torch.nn.Module, data: bytes | None = None) -> dict[str, Any]:
    """Load model tensors from a model file or a checkpoint (onto the device of the model's tensors);
    returns the decoded metadata.  ``data``: the file's bytes, already read."""
    tensors, meta = read_tensors(path, data)
    load_model_tensors(model, tensors, path)
    return decoded_metadata(meta, path)


def decoded_metadata(meta: dict[str, str], path: Path) -> dict[str, Any]:
    """The JSON values of a file's metadata (without ``format``, ``kind`` and ``sha256``)."""
    return {k: _json(v, path, k) for k, v in meta.items() if k not in ("format", "kind", "sha256")}


def check_stored_config(meta: dict[str, str], cfg, weights: Path, config_path: Path) -> None:
    """CheckpointError naming the differing keys when ``cfg`` (the run's config.yaml) differs from the config
    stored with the weights (files without one, written by older versions, are not checked)."""
    from .config import config_differences

    if "config" not in meta:
        return
    diffs = config_differences(_json(meta["config"], weights, "config"), cfg)
    if diffs:
        more = f" (and {len(diffs) - 3} more)" if len(diffs) > 3 else ""
        raise CheckpointError(f"{config_path} no longer matches the model stored in {weights}: "
                              f"{'; '.join(diffs[:3])}{more}; restore config.yaml or retrain")


def _json(text: str, path: Path, key: str = "metadata"):
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise CheckpointError(f"{path}: metadata {key!r} is not valid JSON") from None


#: Metadata of a training checkpoint: key → JSON type.
CHECKPOINT_KEYS = {"step": int, "optim_param_groups": list, "optim_scalars": dict, "scheduler": (dict, type(None)),
                   "extra": dict}


#: Types of the ``extra`` fields the training loop reads back (checked when present).
EXTRA_TYPES = {"elapsed_s": (int, float), "train_loss_sum": (int, float), "train_loss_count": int,
               "commands": list}


def _checkpoint_metadata(meta: dict[str, str], path: Path) -> dict[str, Any]:
    if meta.get("kind") != "checkpoint":
        raise CheckpointError(f"{path} holds a model only, not a training checkpoint")
    from .jsonio import check_keys

    values = {k: _json(meta[k], path, k) for k in CHECKPOINT_KEYS if k in meta}
    check_keys(values, CHECKPOINT_KEYS, f"{path} metadata")
    if values["step"] < 0 or not all(isinstance(g, dict) and isinstance(g.get("params"), list)
                                     for g in values["optim_param_groups"]):
        raise CheckpointError(f"{path}: malformed metadata (step {values['step']}, or param groups without params)")
    return values


def _optimizer_state(tensors, scalars: dict, params: list, path: Path) -> dict[int, dict[str, Any]]:
    """Optimizer state by parameter index; each tensor of the same shape as its parameter (or a scalar)."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if not key.startswith("optim/"):
            continue
        parts = key.split("/", 2)
        if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) >= len(params):
            raise CheckpointError(f"{path}: optimizer tensor {key} names no parameter of the model")
        idx = int(parts[1])
        if value.dim() > 0 and value.shape != params[idx].shape:
            raise CheckpointError(f"{path}: optimizer tensor {key} has shape {tuple(value.shape)} but parameter "
                                  f"{idx} has shape {tuple(params[idx].shape)}")
        state.setdefault(idx, {})[parts[2]] = value
    for idx, values in scalars.items():
        if not str(idx).isdigit() or not isinstance(values, dict):
            raise CheckpointError(f"{path}: malformed optimizer scalars for parameter {idx!r}")
        state.setdefault(int(idx), {}).update(values)
    return state


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler,
                    check=None, data: bytes | None = None) -> dict[str, Any]:
    """Restore model, optimizer, scheduler and RNG; returns {'step', 'extra', 'state' (tensors), 'config'}.

    Everything is checked (checksum, metadata keys and types, ``check(metadata)`` if given, optimizer
    tensor shapes, RNG state size, finite values) before the model, optimizer and RNG are touched.
    Tensors are read on the CPU and copied to the device of the model's parameters (the optimizer state
    follows its parameters), so a checkpoint written on one device resumes on any other; the returned
    ``state`` tensors stay on the CPU.  ``data``: the file's bytes, already read.
    """
    tensors, meta = read_tensors(path, data)
    values = _checkpoint_metadata(meta, path)
    if check is not None:
        check(meta)
    for key, kind in EXTRA_TYPES.items():
        value = values["extra"].get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
            raise CheckpointError(f"{path}: metadata extra.{key} is {value!r:.60}, not of type "
                                  f"{getattr(kind, '__name__', 'number')}")
    _check_finite(tensors, ("model/", "optim/"), path)
    rng = tensors.get("rng/torch")
    expected = torch.get_rng_state()
    if rng is not None and (rng.dtype != expected.dtype or rng.shape != expected.shape):
        raise CheckpointError(f"{path}: RNG state rng/torch has {rng.numel()} {rng.dtype} entries; expected "
                              f"{expected.numel()} {expected.dtype} (truncated or foreign file)")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state = _optimizer_state(tensors, values["optim_scalars"], params, path)
    load_model_tensors(model, tensors, path)
    try:
        optimizer.load_state_dict({"state": state, "param_groups": values["optim_param_groups"]})
        if scheduler is not None and values["scheduler"] is not None:
            scheduler.load_state_dict(values["scheduler"])
    except (ValueError, KeyError, RuntimeError, TypeError, IndexError) as exc:
        raise CheckpointError(f"{path}: optimizer or scheduler state does not match the model "
                              f"({str(exc).splitlines()[0][:160]})") from None
    if rng is not None:
        torch.set_rng_state(rng)
    extra_state = {k[len("state/"):]: v for k, v in tensors.items() if k.startswith("state/")}
    config = _json(meta["config"], path, "config") if "config" in meta else None
    return {"step": values["step"], "extra": values["extra"], "state": extra_state, "config": config}

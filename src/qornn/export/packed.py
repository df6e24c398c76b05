"""The packed model file: an :class:`~qornn.export.IntegerModel` in a bit-packed safetensors file.

``qornn export RUN_Q --format packed --out model.qnn`` writes one uint8 tensor per array, each
entry stored in its bit width (big-endian bit order, two's complement for signed codes, packed
with :func:`numpy.packbits`):

    signs            1 bit per row (1 = −1)               perm            ⌈log2 n⌉ bits per entry
    recurrent_weight k bits (dense W)                     input_weight    p_U bits (2 for ternary)
    output_weight    p_V bits                             bias, modrelu_bias  B bits
    output_bias      32 bits

and, as string metadata, ``format`` (:data:`FORMAT`), ``model`` (every scalar of the integer model
as JSON: kind, sizes, bit widths, exponents, multiplier, unit and output scale; the shape and bit
width of each array follow from them) and ``checksum`` (the first 16 hex digits of the SHA-256 of
tensors and metadata, :func:`qornn.checkpoint.digest`).  The header costs under 1 KiB, so the file
is within 1 KiB of the size ``qornn info`` counts.  :func:`load_packed` checks all of it and returns
the integer model, whose outputs are those of the exported one; a truncated, edited or foreign file
is a :class:`~qornn.errors.CheckpointError`.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from ..checkpoint import atomic_write_bytes, digest, header_metadata, read_bytes
from ..errors import CheckpointError, ConfigError
from ..quant import storage_bits_per_weight
from .integer_model import ARRAY_FIELDS, IntegerModel, check_activation_bits, check_bounds

__all__ = ["FORMAT", "save_packed", "load_packed", "pack_bits", "unpack_bits", "array_bits"]

FORMAT = "qornn-packed-1"
UNSIGNED = ("signs", "perm")
CHECKSUM_DIGITS = 16


def pack_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """The low ``bits`` bits of each integer (two's complement), concatenated and packed into uint8.

    >>> pack_bits(np.array([-1, 1, 0, -2]), 2)
    array([210], dtype=uint8)
    """
    v = np.asarray(values, dtype=np.int64).reshape(-1) & ((1 << bits) - 1)
    planes = (v[:, None] >> np.arange(bits - 1, -1, -1)) & 1
    return np.packbits(planes.astype(np.uint8).reshape(-1))


def unpack_bits(data: np.ndarray, count: int, bits: int, signed: bool = True) -> np.ndarray:
    """Inverse of :func:`pack_bits`: ``count`` integers of ``bits`` bits (sign-extended when ``signed``).

    >>> unpack_bits(np.array([210], dtype=np.uint8), 4, 2)
    array([-1,  1,  0, -2])
    """
    planes = np.unpackbits(np.asarray(data, dtype=np.uint8), count=count * bits).reshape(count, bits)
    v = planes.astype(np.int64) @ (np.int64(1) << np.arange(bits - 1, -1, -1, dtype=np.int64))
    return np.where(v >= 1 << (bits - 1), v - (1 << bits), v) if signed else v


def array_bits(spec: IntegerModel) -> dict:
    """Bits per entry of each array of ``spec`` in the packed file."""
    return {"signs": 1, "perm": max(1, math.ceil(math.log2(spec.n))),
            "recurrent_weight": storage_bits_per_weight(spec.recurrent_bits),
            "input_weight": storage_bits_per_weight(spec.input_bits),
            "output_weight": storage_bits_per_weight(spec.output_bits),
            "bias": spec.activation_bits, "modrelu_bias": spec.activation_bits, "output_bias": 32}


def _stored(name: str, values: np.ndarray) -> np.ndarray:
    return (1 - values) // 2 if name == "signs" else values


def save_packed(spec: IntegerModel, path: Path) -> int:
    """Write ``spec`` to ``path`` (atomically); returns the file size in bytes."""
    widths = array_bits(spec)
    tensors = {name: torch.from_numpy(pack_bits(_stored(name, values), widths[name]))
               for name, values in spec.arrays().items()}
    scalars = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in spec.scalars().items() if v is not None}
    metadata = {"format": FORMAT, "model": json.dumps(scalars, separators=(",", ":"))}
    metadata["checksum"] = digest(tensors, metadata)[:CHECKSUM_DIGITS]
    data = save_bytes(tensors, metadata)
    atomic_write_bytes(Path(path), data)
    return len(data)


def _read(path: Path) -> tuple[dict, dict]:
    data = read_bytes(path)
    metadata = header_metadata(data, path)
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a qornn packed model (format={metadata.get('format')!r}, "
                              f"expected {FORMAT!r})")
    try:
        tensors = load_bytes(data)
    except (SafetensorError, OSError, ValueError, RuntimeError, OverflowError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path} is corrupted or truncated ({first[:160]})") from None
    if digest(tensors, {k: v for k, v in metadata.items() if k != "checksum"})[:CHECKSUM_DIGITS] \
            != metadata.get("checksum"):
        raise CheckpointError(f"{path}: checksum mismatch (the file was changed or damaged after qornn wrote it)")
    return tensors, metadata


def _expected_shapes(s: dict) -> dict:
    n = s["n"]
    return {"signs": [n], "perm": [n], "recurrent_weight": [n, n], "input_weight": [n, s["input_size"]],
            "output_weight": [s["output_size"], n], "bias": [n], "modrelu_bias": [n], "output_bias": [s["output_size"]]}


def _unpack_arrays(tensors: dict, scalars: dict, path: Path) -> dict:
    shapes, widths, arrays = _expected_shapes(scalars), array_bits(SimpleNamespace(**scalars)), {}
    for name, packed in tensors.items():
        if name not in ARRAY_FIELDS:
            raise CheckpointError(f"{path}: unknown array {name!r}; allowed: {', '.join(ARRAY_FIELDS)}")
        shape, bits = shapes[name], widths[name]
        count = math.prod(shape)
        data = packed.numpy()
        if data.dtype != np.uint8 or data.size != (count * bits + 7) // 8:
            raise CheckpointError(f"{path}: array {name!r} holds {data.size} bytes, expected {(count * bits + 7) // 8}")
        values = unpack_bits(data, count, bits, name not in UNSIGNED).reshape(shape)
        arrays[name] = 1 - 2 * values if name == "signs" else values
    return arrays


def _check_structure(spec: IntegerModel, path: Path) -> None:
    n = spec.n
    if spec.perm is not None and not np.array_equal(np.sort(spec.perm), np.arange(n)):
        raise CheckpointError(f"{path}: 'perm' is not a permutation of 0..{n - 1}")
    needed = {"signed-hadamard": ("signs",), "dense": ("recurrent_weight",)}.get(spec.kind)
    if needed is None or any(getattr(spec, k) is None for k in needed):
        raise CheckpointError(f"{path}: recurrent kind {spec.kind!r} without its arrays; allowed: signed-hadamard, "
                              f"dense")
    if spec.block_size < 1 or spec.block_size & (spec.block_size - 1) or n % spec.block_size:
        raise CheckpointError(f"{path}: block size {spec.block_size} does not divide n={n} as a power of two")
    if (spec.nonlinearity == "modrelu" and not spec.linear) != (spec.modrelu_bias is not None):
        raise CheckpointError(f"{path}: modReLU bias present/absent does not match nonlinearity {spec.nonlinearity!r}")


def load_packed(path) -> IntegerModel:
    """The integer model stored in a packed file (:func:`save_packed`); a CheckpointError for a bad file."""
    path = Path(path)
    tensors, metadata = _read(path)
    try:
        scalars = {"recurrent_bits": None, **json.loads(metadata["model"])}
        arrays = _unpack_arrays(tensors, scalars, path)
        spec = IntegerModel(**scalars, **arrays)
        check_activation_bits(spec.activation_bits)
        check_bounds(spec)
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, ConfigError) as exc:
        raise CheckpointError(f"{path}: malformed model description ({' '.join(str(exc).split())[:160]})") from None
    _check_structure(spec, path)
    return spec

"""Reading IDX files (the MNIST format), plain or gzipped, with numpy only.

An IDX file starts with a 4-byte magic number: two zero bytes, a type code
(0x08 = unsigned byte, the only one MNIST uses) and the number of dimensions d;
then d big-endian uint32 sizes, then the data in C order.
"""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from ..errors import DataError

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path, ndim: int | None = None) -> np.ndarray:
    """The array stored in an IDX file (``.gz`` is decompressed); DataError if malformed.

    ``ndim`` (if given) is the number of dimensions the caller expects (3 for images, 1 for labels).
    """
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    if len(raw) < 4:
        raise DataError(f"{path}: too short for an IDX file ({len(raw)} bytes)")
    zero, code, dims = struct.unpack(">HBB", raw[:4])
    if zero != 0 or code not in _TYPES or dims == 0:
        raise DataError(f"{path}: bad IDX magic number 0x{raw[:4].hex()}; expected 0x0000TTDD "
                        f"(type TT in {', '.join(f'{t:02x}' for t in _TYPES)}, DD dimensions)")
    if ndim is not None and dims != ndim:
        raise DataError(f"{path}: IDX file has {dims} dimensions; expected {ndim}")
    header = 4 + 4 * dims
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{dims}I", raw[4:header])
    dtype = np.dtype(_TYPES[code])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(f"{path}: IDX header announces shape {shape} ({expected} data bytes) "
                        f"but the file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as IDX (gzipped when ``path`` ends in .gz); used by tests and tools."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    data = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)

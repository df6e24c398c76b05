"""Optional compiled loops: C files shipped with qornn, compiled on first use by the system's C compiler.

Nothing here is required.  :func:`library` returns the loaded library, or None when it
is turned off (``QORNN_NATIVE=0`` in the environment, or ``qornn.native.ENABLED = False``),
when no C compiler is found (``$CC``, else ``cc``), or when compiling or loading fails; the
callers then run their pure-PyTorch loops, which give the same values (to float rounding).
A compiled library is cached under ``$QORNN_CACHE`` (default ``$XDG_CACHE_HOME/qornn``, else
``~/.cache/qornn``), named by a hash of its source, the compiler and the flags, and written
atomically (a temporary file renamed), so concurrent processes may share the cache.

Each C file lists the functions it exports in :data:`SIGNATURES` (argument types for
``ctypes``: ``long`` sizes and flags, ``void*`` pointers to contiguous float32 or int64 tensors).
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

#: Set to False (or QORNN_NATIVE=0) to run the pure-PyTorch loops everywhere.
ENABLED = os.environ.get("QORNN_NATIVE", "1") != "0"
SOURCES = Path(__file__).resolve().parent
_L, _P = ctypes.c_long, ctypes.c_void_p
#: C file → exported function → argument types.
SIGNATURES = {
    "hadamard_loops": {
        "qornn_transform_rows": (_L, _L, _L, _P),
        "qornn_hadamard_forward": (_L, _L, _L, _L, _P, _P, _P, _P, _P, _L),
        "qornn_hadamard_adjoint": (_L, _L, _L, _L, _P, _P, _P, _P, _P, _P, _P),
    },
}


def compiler() -> str | None:
    """The C compiler's path (``$CC``, else ``cc``), or None."""
    return shutil.which(os.environ.get("CC", "cc"))


def flags() -> list[str]:
    """Optimised, position-independent, and the vector instructions that torch itself uses on this CPU."""
    out = ["-O3", "-std=gnu11", "-shared", "-fPIC"]
    if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):
        out += ["-mavx2", "-mfma"]
    return out


def cache_dir() -> Path:
    base = os.environ.get("QORNN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "qornn")
    return Path(base) / "native"


def library(name: str):
    """The compiled ``name.c`` as a ``ctypes.CDLL`` with typed functions, or None (see the module docstring)."""
    return _load(name) if ENABLED else None


@functools.lru_cache(maxsize=None)
def _load(name: str):
    cc = compiler()
    if cc is None:
        return None
    source = SOURCES / f"{name}.c"
    key = hashlib.sha256(source.read_bytes() + repr((cc, flags())).encode()).hexdigest()[:16]
    target = cache_dir() / f"{name}-{key}.so"
    try:
        if not target.is_file():
            _compile(cc, source, target)
        lib = ctypes.CDLL(str(target))
    except (OSError, subprocess.SubprocessError):
        return None
    for function, argtypes in SIGNATURES[name].items():
        getattr(lib, function).argtypes = argtypes
        getattr(lib, function).restype = None
    return lib


def _compile(cc: str, source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        subprocess.run([cc, *flags(), "-o", tmp, str(source)], check=True, capture_output=True, timeout=120)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)

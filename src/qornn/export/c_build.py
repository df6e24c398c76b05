"""Compile the generated C with the system compiler, measure it, and check it against the integer reference.

``verify_c(spec, folder, sequences)`` builds ``model.c`` + ``main.c`` with ``cc -std=c99 -O2 -Wall
-Wextra -Werror``, feeds random integer sequences (token ids, or input codes over the whole
B-bit range, so that saturation is exercised) to the program and compares every printed output
with :func:`qornn.export.integer_forward`.  ``section_sizes`` reads code, constant data and RAM
of the compiled ``model.o`` from binutils' ``size -A``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from ..errors import BuildError, ConfigError
from .reference import integer_forward

__all__ = ["CFLAGS", "find_compiler", "compile_program", "section_sizes", "random_inputs", "run_program",
           "verify_c"]

CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror")
TIMEOUT_S = 300


def find_compiler(name: str | None = None) -> str | None:
    """Path of the C compiler (``name``, else $CC, else ``cc``), or None."""
    return shutil.which(name or os.environ.get("CC") or "cc")


def _run(cmd: list, what: str, **kwargs) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT_S, **kwargs)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(f"{what} failed: {' '.join(str(exc).split())[:200]}") from None
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace") if isinstance(done.stderr, bytes) else done.stderr
        lines = [line for line in err.splitlines() if line.strip()]
        first = next((line for line in lines if "error" in line), lines[0] if lines else f"exit code {done.returncode}")
        raise BuildError(f"{what} failed (exit code {done.returncode}): {first.strip()[:200]}")
    return done


def compile_program(folder: Path, compiler: str, flags=CFLAGS, name: str = "model") -> Path:
    """``compiler flags -o folder/name model.c main.c``; returns the executable."""
    folder = Path(folder)
    exe = folder / name
    _run([compiler, *flags, "-o", str(exe), str(folder / "model.c"), str(folder / "main.c")],
         f"compiling {folder}/model.c with {compiler}")
    return exe


def section_sizes(obj: Path, size_tool: str = "size") -> dict:
    """Bytes of code (.text), constant data (.rodata) and RAM (.data + .bss) of an object file."""
    tool = shutil.which(size_tool)
    if tool is None:
        raise BuildError(f"{size_tool} (binutils) is not installed; cannot measure {obj}")
    out = _run([tool, "-A", str(obj)], f"{size_tool} -A {obj}", text=True).stdout
    sizes = {"code": 0, "constants": 0, "ram": 0}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[1].isdigit():
            continue
        name, size = parts[0], int(parts[1])
        if name.startswith(".text"):
            sizes["code"] += size
        elif name.startswith(".rodata"):
            sizes["constants"] += size
        elif name.startswith((".data", ".bss", ".sbss", ".sdata")):
            sizes["ram"] += size
    return sizes


def object_sizes(folder: Path, compiler: str) -> dict:
    """``section_sizes`` of model.c compiled alone (``-c``, the same flags)."""
    obj = Path(folder) / "model.o"
    _run([compiler, *CFLAGS, "-c", "-o", str(obj), str(Path(folder) / "model.c")], f"compiling {obj}")
    return section_sizes(obj)


def random_inputs(spec, sequences: int, steps: int, seed: int = 0) -> np.ndarray:
    """Random token ids (sequences, steps) or input codes (sequences, steps, input_size) over the allowed range."""
    rng = np.random.default_rng(seed)
    lo, hi = spec.input_range
    shape = (sequences, steps) if spec.input_kind == "tokens" else (sequences, steps, spec.input_size)
    return rng.integers(lo, hi + 1, size=shape, dtype=np.int64)


def run_program(exe: Path, spec, inputs: np.ndarray) -> np.ndarray:
    """Outputs of the compiled program for ``inputs`` (one sequence per row), shaped like the reference's."""
    lines = []
    for seq in inputs:
        lines.append(str(len(seq)))
        lines.extend(" ".join(map(str, row)) for row in seq.reshape(len(seq), -1))
    done = _run([str(exe)], f"running {exe}", input="\n".join(lines) + "\n", text=True)
    values = np.array(done.stdout.split(), dtype=np.int64)
    steps = inputs.shape[1] if spec.readout == "all" else 1
    want = inputs.shape[0] * steps * spec.output_size
    if values.size != want:
        raise BuildError(f"{exe} printed {values.size} integers, expected {want}")
    shape = (inputs.shape[0], inputs.shape[1], spec.output_size) if spec.readout == "all" else \
        (inputs.shape[0], spec.output_size)
    return values.reshape(shape)


def verify_c(spec, folder: Path, sequences: int, steps: int = 100, seed: int = 0,
             compiler: str | None = None) -> dict:
    """Compile the C in ``folder``, run ``sequences`` random sequences of ``steps`` steps, compare every output
    with the integer reference; returns counts (``mismatches`` 0 when all agree)."""
    if isinstance(sequences, bool) or not isinstance(sequences, int) or sequences < 1:
        raise ConfigError(f"--verify {sequences!r} is not allowed; use a positive number of sequences")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"--verify-steps {steps!r} is not allowed; use a positive integer")
    cc = find_compiler(compiler)
    if cc is None:
        raise BuildError("--verify needs a C compiler: none found (install gcc, or set $CC)")
    exe = compile_program(folder, cc)
    inputs = random_inputs(spec, sequences, steps, seed)
    got, want = run_program(exe, spec, inputs), integer_forward(spec, inputs)
    return {"sequences": sequences, "steps": steps, "outputs": int(want.size),
            "mismatches": int((got != want).sum()), "compiler": cc}

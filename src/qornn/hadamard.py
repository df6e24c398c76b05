"""Hadamard algebra: Sylvester matrices and the fast Walsh–Hadamard transform (FWHT).

The Sylvester Hadamard matrix of order n = 2^k is

    S_1 = [1],    S_{2n} = S_n ⊗ [[1, 1], [1, -1]],

a symmetric ±1 matrix with S Sᵀ = n·I.  ``fwht(x)`` computes x·S (= S·x for each
row, since S is symmetric) in n·log2(n) additions; ``block_fwht(x, m)`` applies
I_q ⊗ S_m (q = n/m independent blocks of size m).  ``hadamard_transform`` picks the
dense product or the butterfly, whichever is faster for the size; both agree to
float rounding and both have autograd (the transform is linear and symmetric, so
its backward is the same transform of the incoming gradient).  The engines' step
loops use :class:`StepTransform` (in place, no autograd), with the method
:func:`step_method` picks.  This module is the only one that decides between the
optional fht-cpu kernel (:mod:`qornn.adapters.fht_cpu`) and its fallbacks; all the
thresholds are below.

>>> import torch
>>> S = sylvester(4)
>>> torch.equal(S @ S.T, 4 * torch.eye(4))
True
>>> x = torch.randn(3, 8, dtype=torch.float64)
>>> torch.allclose(fwht(x), x @ sylvester(8, dtype=torch.float64))
True
"""
from __future__ import annotations

import functools

import torch

from . import native
from .adapters import fht_cpu
from .errors import ConfigError, ShapeError

__all__ = [
    "is_power_of_two",
    "log2_exact",
    "sylvester",
    "block_sylvester",
    "fwht",
    "block_fwht",
    "hadamard_transform",
    "fwht_rows",
    "fwht_kernel_available",
    "native_loops_apply",
    "step_method",
    "StepTransform",
]

# ---- which implementation of the transform, where: every threshold of qornn is here ---------------------
# Measured at one thread on CPU (``python benchmarks/step_methods.py``; table in benchmarks/results.md).
#: Autograd path (``hadamard_transform(method="auto")``): a GEMM with the explicit S_m for m up to this,
#: else the butterfly (the fht-cpu kernel, or pure PyTorch).
AUTOGRAD_DENSE_MAX_BLOCK = 512
#: Engines' step loops (:func:`step_method`), B = 128 rows: with the fht-cpu kernel, one dense ``addmm`` per
#: step up to this n, the kernel above it ...
STEP_DENSE_MAX_SIZE = 32
#: ... without it, the dense W below this n; from it on, a GEMM with S_m for blocks up to STEP_GEMM_MAX_BLOCK,
#: else the Kronecker split S_m = S_a ⊗ S_b.  (Measured on CPU; a GPU has other break-even points.)
STEP_FALLBACK_MIN_SIZE = 256
STEP_GEMM_MAX_BLOCK = 32
#: The compiled loops (qornn.native, when a C compiler is there) need blocks of at least 8 (one vector).
NATIVE_MIN_BLOCK = 8


def is_power_of_two(n: int) -> bool:
    return isinstance(n, int) and n >= 1 and (n & (n - 1)) == 0


def log2_exact(n: int, what: str = "size") -> int:
    """k with 2^k = n, or a ShapeError naming n."""
    if not is_power_of_two(n):
        raise ShapeError(f"{what}={n} is not a power of two; allowed: 1, 2, 4, 8, ... (2^k)")
    return n.bit_length() - 1


@functools.lru_cache(maxsize=64)
def _sylvester_cpu(n: int) -> torch.Tensor:
    k = log2_exact(n, "Hadamard order n")
    h = torch.ones(1, 1, dtype=torch.float64)
    h2 = torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=torch.float64)
    for _ in range(k):
        h = torch.kron(h, h2)
    return h


def sylvester(n: int, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """Sylvester Hadamard matrix S_n (entries ±1, S Sᵀ = n·I); n must be a power of two."""
    return _sylvester_cpu(n).to(dtype=dtype, device=device)


def block_sylvester(n: int, m: int, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """I_q ⊗ S_m with q = n/m: q copies of S_m on the diagonal, zeros elsewhere."""
    _check_block(n, m)
    return torch.block_diag(*([sylvester(m, dtype=dtype, device=device)] * (n // m)))


def _check_block(n: int, m: int) -> None:
    log2_exact(m, "block size m")
    if n % m != 0:
        raise ShapeError(f"block size m={m} does not divide n={n}; allowed: a power of two dividing {n}")


def _butterfly(x: torch.Tensor) -> torch.Tensor:
    """Unnormalised FWHT along the last dimension (no autograd bookkeeping needed)."""
    n = x.shape[-1]
    lead = x.shape[:-1]
    y = x.reshape(-1, n)
    h = 1
    while h < n:
        y = y.view(-1, n // (2 * h), 2, h)
        a, b = y[:, :, 0, :], y[:, :, 1, :]
        y = torch.stack((a + b, a - b), dim=2)
        h *= 2
    return y.reshape(*lead, n)


# The optional fht-cpu kernel: used on CPU float32/float64 when installed and ``USE_FHT_KERNEL`` is true
# (and, in the engines' step loops, when the compiled loops of qornn.native do not apply);
# the pure-PyTorch butterfly (autograd path) or a GEMM with S (engines) is the fallback.
USE_FHT_KERNEL = True


def fwht_kernel_available() -> bool:
    """True when the optional ``fht-cpu`` kernel is installed and enabled."""
    return USE_FHT_KERNEL and fht_cpu.available()


def _kernel_applies(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and fwht_kernel_available()


def fwht_rows(x: torch.Tensor) -> torch.Tensor:
    """x·S_n along the last dim without autograd bookkeeping (kernel when available)."""
    if _kernel_applies(x):
        rows = x.detach().reshape(-1, x.shape[-1])
        return torch.from_numpy(fht_cpu.transform_rows(rows.numpy())).view(x.shape)
    return _butterfly(x)


class _FWHTFunction(torch.autograd.Function):
    """y = x·S_n; since S is symmetric, dL/dx = (dL/dy)·S_n. Saves no tensors."""

    @staticmethod
    def forward(ctx, x):
        return fwht_rows(x)

    @staticmethod
    def backward(ctx, grad):
        return fwht_rows(grad)


def fwht(x: torch.Tensor) -> torch.Tensor:
    """Unnormalised Walsh–Hadamard transform along the last dim: x ↦ x·S_n (n·log2 n adds)."""
    log2_exact(x.shape[-1], "last dimension of x")
    return _FWHTFunction.apply(x)


def block_fwht(x: torch.Tensor, m: int) -> torch.Tensor:
    """x ↦ x·(I_q ⊗ S_m): the FWHT of each consecutive block of m features."""
    n = x.shape[-1]
    _check_block(n, m)
    return fwht(x.reshape(*x.shape[:-1], n // m, m)).reshape(x.shape)


def hadamard_transform(x: torch.Tensor, block_size: int | None = None, method: str = "auto") -> torch.Tensor:
    """x ↦ x·(I_q ⊗ S_m) along the last dimension (m = block_size, default n: plain S_n).

    ``method`` is ``"dense"`` (matmul with the explicit matrix), ``"fwht"`` (butterfly) or
    ``"auto"`` (dense for m ≤ AUTOGRAD_DENSE_MAX_BLOCK, else butterfly).
    """
    n = x.shape[-1]
    m = n if block_size is None else block_size
    _check_block(n, m)
    if method == "auto":
        method = "dense" if m <= AUTOGRAD_DENSE_MAX_BLOCK else "fwht"
    if method == "dense":
        s = sylvester(m, dtype=x.dtype, device=x.device)
        return (x.reshape(*x.shape[:-1], n // m, m) @ s).reshape(x.shape)
    if method == "fwht":
        return block_fwht(x, m)
    raise ConfigError(f"method={method!r} is not allowed; use 'auto', 'dense' or 'fwht'")


# ---- the transform inside the engines' step loops ------------------------------------------------------
def native_loops_apply(n: int, m: int, like: torch.Tensor):
    """The compiled step loops (:mod:`qornn.native`) for this problem, or None: CPU float32, n a multiple of 8
    and m ≥ 8, and the library compiled."""
    if not (like.device.type == "cpu" and like.dtype == torch.float32 and n % 8 == 0 and m >= NATIVE_MIN_BLOCK):
        return None
    return native.library("hadamard_loops")


def step_method(n: int, m: int, like: torch.Tensor) -> str:
    """How an engine runs the steps of h ↦ h·(diag(d)·(I_q ⊗ S_m))ᵀ on (B, n) states.

    ``dense``: with the dense W, one ``addmm`` per step; ``native``: the whole chunk in compiled C
    (:mod:`qornn.native`); per step, ``fht``: the fht-cpu kernel (m·log2 m additions per block);
    ``gemm``: one GEMM with S_m; ``kron``: two GEMMs with S_a, S_b (S_m = S_a ⊗ S_b).  The thresholds
    are above.
    """
    if n <= STEP_DENSE_MAX_SIZE:
        return "dense"
    if native_loops_apply(n, m, like) is not None:
        return "native"
    if _kernel_applies(like):
        return "fht"
    if n < STEP_FALLBACK_MIN_SIZE:
        return "dense"
    return "gemm" if m <= STEP_GEMM_MAX_BLOCK else "kron"


class StepTransform:
    """x ← x·(I_q ⊗ S_m) in place, for the (B, n) slices ``buffer[t]`` of one preallocated buffer.

    ``method`` is ``fht``, ``gemm`` or ``kron`` (see :func:`step_method`); the per-slice
    views are built once, so that a call costs one kernel launch (fht) or two (GEMMs).
    """

    def __init__(self, buffer: torch.Tensor, m: int, method: str):
        if method not in ("fht", "gemm", "kron"):
            raise ConfigError(f"method={method!r} is not allowed; use 'fht', 'gemm' or 'kron'")
        self.buffer, self.m, self.method = buffer, m, method
        kw = dict(dtype=buffer.dtype, device=buffer.device)
        if method == "fht":
            rows = fht_cpu.rows_inplace(str(buffer.dtype).removeprefix("torch."))
            views = [a.reshape(-1, m) for a in buffer.numpy()]
            self.calls = [functools.partial(rows, v) for v in views]
        elif method == "gemm":
            self.s = sylvester(m, **kw)
        else:
            k = m.bit_length() - 1
            self.a, self.b = 2 ** (k // 2), m // 2 ** (k // 2)
            self.sa, self.sb = sylvester(self.a, **kw), sylvester(self.b, **kw)

    def __call__(self, t: int) -> None:
        if self.method == "fht":
            self.calls[t]()
            return
        x = self.buffer[t]
        rows = x.view(-1, self.m)
        if self.method == "gemm":
            x.copy_((rows @ self.s).view(x.shape))
        else:
            y = torch.matmul(self.sa, (rows.view(-1, self.b) @ self.sb).view(-1, self.a, self.b))
            x.copy_(y.view(x.shape))

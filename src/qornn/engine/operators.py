"""Applying the recurrent matrix W to a batch of row vectors, one time step at a time.

The fast engine needs two primitives per step (row-vector convention of
``torch.nn``: h_t = h_{t-1}·Wᵀ + z_t), writing into a slice of a (B, T, n) buffer:

* ``step(h, z_t, out, pre=None)``: out = h·Wᵀ + z_t (and pre = h·Wᵀ when given);
* ``step_t(g, gout_t, out)``: out = g·W + gout_t (the adjoint step of the backward pass).

:class:`DenseOp` uses one fused ``addmm`` per step.  :class:`SignTransformOp` is the
structure of the HadamRNN / Block-HadamRNN weights, W = diag(d)·(I_q ⊗ S_m) with
d = ±1/√m: h·Wᵀ = T(h)·d with T the (block) Walsh–Hadamard transform, computed as

* a GEMM with S_m for small blocks (m ≤ ``DENSE_BLOCK_MAX``),
* the Kronecker split S_m = S_a ⊗ S_b (two small GEMMs, (a + b) multiply-adds per
  entry instead of m), or
* the optional ``fht-cpu`` kernel (m·log2 m additions per block), when installed.
"""
from __future__ import annotations

import torch

from ..hadamard import fwht_kernel_available, _fht_module, sylvester

#: Blocks up to this size are transformed by one GEMM with S_m; hidden sizes up to
#: this size use the dense matrix even for the Hadamard schemes.
DENSE_BLOCK_MAX = 32
#: Without the fht-cpu kernel, the Kronecker split is used from this size on (dense below).
KRON_MIN_SIZE = 256


class DenseOp:
    """W as a dense matrix: one ``addmm`` per step."""

    row_scaling = False
    name = "dense"

    def __init__(self, w: torch.Tensor):
        self.w = w.detach()
        self.wt = self.w.t()

    def step(self, h, z_t, out, pre=None):
        if pre is None:
            return torch.addmm(z_t, h, self.wt, out=out)
        torch.mm(h, self.wt, out=pre)
        return torch.add(pre, z_t, out=out)

    def step_t(self, g, gout_t, out):
        return torch.addmm(gout_t, g, self.w, out=out)


class SignTransformOp:
    """W = diag(d)·(I_q ⊗ S_m) (d = ±1/√m): h·Wᵀ = T(h)·d with a fast block transform."""

    row_scaling = True

    def __init__(self, d: torch.Tensor, block_size: int, batch: int, method: str = "auto"):
        self.d = d.detach()
        self.n = d.shape[0]
        self.m = m = block_size
        self.method = method = choose_method(m, d) if method == "auto" else method
        self.name = f"sign-{method}"
        kw = dict(dtype=d.dtype, device=d.device)
        self.tmp = torch.empty(batch, self.n, **kw)  # scratch row buffer, reused every step
        if method == "gemm":
            self.s = sylvester(m, **kw)
        elif method == "kron":
            k = m.bit_length() - 1
            self.a, self.b = 2 ** (k // 2), m // 2 ** (k // 2)
            self.sa, self.sb = sylvester(self.a, **kw), sylvester(self.b, **kw)
        elif method == "fht":
            self.fht = _fht_module().fht
            self.tmp_np = self.tmp.numpy().reshape(-1, m)
        else:
            raise ValueError(f"method={method!r}; use auto, gemm, kron or fht")

    def _transform_tmp(self) -> torch.Tensor:
        """T(tmp) for the rows held in ``self.tmp`` (in place for the fht kernel)."""
        rows = self.tmp.view(-1, self.m)
        if self.method == "fht":
            self.fht(self.tmp_np, axis=-1, inplace=True, num_threads=1)
            return self.tmp
        if self.method == "gemm":
            return (rows @ self.s).view(self.tmp.shape)
        y = torch.matmul(self.sa, (rows.view(-1, self.b) @ self.sb).view(-1, self.a, self.b))
        return y.view(self.tmp.shape)

    def step(self, h, z_t, out, pre=None):
        self.tmp.copy_(h)
        if pre is None:
            return torch.addcmul(z_t, self._transform_tmp(), self.d, out=out)
        torch.mul(self._transform_tmp(), self.d, out=pre)
        return torch.add(pre, z_t, out=out)

    def step_t(self, g, gout_t, out):
        torch.mul(g, self.d, out=self.tmp)
        return torch.add(self._transform_tmp(), gout_t, out=out)


def choose_method(m: int, like: torch.Tensor) -> str:
    """gemm for small blocks, else the fht-cpu kernel on CPU when installed, else the Kronecker split."""
    if m <= DENSE_BLOCK_MAX:
        return "gemm"
    if like.device.type == "cpu" and like.dtype in (torch.float32, torch.float64) and fwht_kernel_available():
        return "fht"
    return "kron"

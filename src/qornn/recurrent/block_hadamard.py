"""Block-HadamRNN recurrent weight (sparse ternary): W(u) = P · diag(sign u) · (I_q ⊗ S_m/√m) · Pᵀ.

Foucault, Mamalet, Malgouyres, ICLR 2025 (the block Kronecker variant).  The block
size m = 2^j divides n and q = n/m blocks sit on the diagonal, so W has entries in
{-1/√m, 0, +1/√m} with density 1/q, and it is exactly orthogonal.  The optional
fixed random permutation P (``permute=True``) spreads every block over the whole
state so that blocks are not isolated sub-networks; P is orthogonal, so
W stays exactly orthogonal (PᵀP = I), with the same value set and density.
Stored cost: n sign bits (the block structure and P are fixed by m and the seed).

>>> import torch
>>> scheme = BlockHadamardSign(8, block_size=2)
>>> W = scheme(torch.randn(8))
>>> float((W.T @ W - torch.eye(8)).abs().max()) < 1e-6, float((W == 0).float().mean())
(True, 0.75)
"""
from __future__ import annotations

import math

import torch

from ..errors import ShapeError
from ..hadamard import block_sylvester, is_power_of_two
from ..operators import SignedHadamardOperator
from ..quant import sign_ste
from .base import RecurrentScheme
from .hadamard import check_ste


class BlockHadamardSign(RecurrentScheme):
    """Parametrization u ∈ ℝⁿ ↦ P·diag(sign u)·(I_q ⊗ S_m/√m)·Pᵀ (sparse ternary, orthogonal)."""

    exactly_orthogonal = True
    name = "block-hadamard"
    value_set = ("sparse ternary", "0/±1")

    def __init__(self, n: int, block_size: int, ste: str = "identity", permute: bool = False, seed: int = 0):
        super().__init__(n)
        if not isinstance(block_size, int) or not is_power_of_two(block_size) or n % block_size != 0:
            raise ShapeError(f"block_size={block_size!r} is not allowed for n={n}; use a power of two that divides {n}")
        self.block_size = block_size
        self.ste = check_ste(ste)
        self.permute = bool(permute)
        self.seed = int(seed)
        self.register_buffer("basis", block_sylvester(n, block_size) / math.sqrt(block_size), persistent=False)
        if self.permute:
            g = torch.Generator().manual_seed(self.seed)
            perm = torch.randperm(n, generator=g)
        else:
            perm = torch.arange(n)
        self.register_buffer("perm", perm, persistent=False)
        self.register_buffer("inv_perm", torch.argsort(perm), persistent=False)

    def signs(self, u: torch.Tensor) -> torch.Tensor:
        return sign_ste(u, clipped=self.ste == "clipped")

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        w = self.signs(u).unsqueeze(1) * self.basis.to(u.dtype)
        if self.permute:  # P·W·Pᵀ with P e_j = e_{perm[j]}
            w = w[self.inv_perm][:, self.inv_perm]
        return w

    @torch.no_grad()
    def right_inverse(self, w: torch.Tensor) -> torch.Tensor:
        if self.permute:
            w = w[self.perm][:, self.perm]
        return (w @ self.basis.to(w.dtype).t()).diagonal().clone()

    def operator(self, u: torch.Tensor) -> SignedHadamardOperator:
        # the scale W holds (1/√m rounded to the basis' dtype), so that every path rounds alike
        return SignedHadamardOperator(self.signs(u), self.block_size, float(self.basis[0, 0]),
                                      self.perm if self.permute else None)

    @torch.no_grad()
    def initialize_(self, u: torch.Tensor) -> None:
        bound = math.sqrt(6.0 / (self.n + 1))
        u.uniform_(-bound, bound)

    def storage_bits(self) -> int:
        return self.n

    def describe(self) -> dict:
        return {"scheme": self.name, "ste": self.ste, "block_size": self.block_size,
                "blocks": self.n // self.block_size, "permute": self.permute,
                "dense_bits": 2 * self.n * self.n}  # the same W stored as a generic ternary matrix

    def extra_repr(self) -> str:
        return f"n={self.n}, block_size={self.block_size}, permute={self.permute}, ste={self.ste}"

"""HadamRNN recurrent weight: W(u) = diag(sign u) · S_n / √n.

Foucault, Mamalet, Malgouyres, *HadamRNN: Binary and Sparse Ternary Orthogonal
RNNs*, ICLR 2025.  S_n is the Sylvester Hadamard matrix (n = 2^k); D = diag(sign u)
flips the signs of rows, so W is exactly orthogonal (D² = I, S Sᵀ = n·I) and its
entries are ±1/√n.  Only the n signs are trained (through a straight-through
estimator): W costs n bits.

>>> import torch
>>> scheme = HadamardSign(8)
>>> u = torch.randn(8)
>>> W = scheme(u)
>>> float((W.T @ W - torch.eye(8)).abs().max()) < 1e-6
True
>>> sorted(set(W.mul(8 ** 0.5).round().flatten().tolist()))
[-1.0, 1.0]
"""
from __future__ import annotations

import math

import torch

from ..errors import ConfigError
from ..hadamard import log2_exact, sylvester
from ..operators import SignedHadamardOperator
from ..quant import sign_ste
from .base import RecurrentScheme

STE_KINDS = ("identity", "clipped")


def check_ste(ste: str) -> str:
    if ste not in STE_KINDS:
        raise ConfigError(f"ste={ste!r} is not allowed; use one of {', '.join(STE_KINDS)}")
    return ste


class HadamardSign(RecurrentScheme):
    """Parametrization u ∈ ℝⁿ ↦ W = diag(sign u)·S_n/√n (binary, exactly orthogonal)."""

    exactly_orthogonal = True
    name = "hadamard"
    value_set = ("binary", "±1")

    def __init__(self, n: int, ste: str = "identity"):
        super().__init__(n)
        log2_exact(n, "n")  # a ShapeError naming n
        self.ste = check_ste(ste)
        self.register_buffer("basis", sylvester(n) / math.sqrt(n), persistent=False)

    def signs(self, u: torch.Tensor) -> torch.Tensor:
        return sign_ste(u, clipped=self.ste == "clipped")

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.signs(u).unsqueeze(1) * self.basis.to(u.dtype)

    @torch.no_grad()
    def right_inverse(self, w: torch.Tensor) -> torch.Tensor:
        # For W = D S/√n, W·(S/√n)ᵀ = D: keep the diagonal as the latent.
        return (w @ self.basis.to(w.dtype).t()).diagonal().clone()

    def operator(self, u: torch.Tensor) -> SignedHadamardOperator:
        # the scale W holds (1/√n rounded to the basis' dtype), so that every path rounds alike
        return SignedHadamardOperator(self.signs(u), self.n, float(self.basis[0, 0]))

    @torch.no_grad()
    def initialize_(self, u: torch.Tensor) -> None:
        bound = math.sqrt(6.0 / (self.n + 1))  # xavier-uniform of a (1, n) tensor, as the authors
        u.uniform_(-bound, bound)

    def storage_bits(self) -> int:
        return self.n

    def describe(self) -> dict:
        return {"scheme": self.name, "ste": self.ste}

    def extra_repr(self) -> str:
        return f"n={self.n}, ste={self.ste}"

"""Dense full-precision recurrent weight (baseline): W is a free n×n matrix.

Initialised orthogonal (``torch.nn.init.orthogonal_``) but not constrained during
training.  Stored at 32 bits per entry.
"""
from __future__ import annotations

import torch

from .base import RecurrentScheme


class DenseWeight(RecurrentScheme):
    """Identity parametrization W = V (full precision, unconstrained)."""

    name = "dense"

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return v

    def right_inverse(self, w: torch.Tensor) -> torch.Tensor:
        return w

    @torch.no_grad()
    def initialize_(self, v: torch.Tensor) -> None:
        torch.nn.init.orthogonal_(v)

    def storage_bits(self) -> int:
        return 32 * self.n * self.n

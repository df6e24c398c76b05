"""What every recurrent-weight scheme provides.

A scheme is a ``torch.nn.utils.parametrize`` parametrization of a square weight
W ∈ ℝ^{n×n}: ``forward(latent) -> W``.  Besides the dense matrix it offers

* ``operator(latent)`` – a function ``h ↦ h·Wᵀ`` (row-vector convention of
  ``torch.nn``), built once per forward pass of the RNN so that no per-step work
  recomputes W; structured schemes use a fast transform here;
* ``storage_bits()`` – bits needed to store W at its true cost;
* ``initialize_(latent)`` – draw a valid initial latent value in place;
* ``after_optimizer_step(latent)`` – an optional in-place update of the latent after
  each optimizer step (e.g. a retraction); the default does nothing.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

Operator = Callable[[torch.Tensor], torch.Tensor]


class RecurrentScheme(nn.Module):
    """Base class of recurrent-weight parametrizations (see module docstring)."""

    #: The recurrent matrix is orthogonal by construction (up to float rounding).
    exactly_orthogonal: bool = False
    #: Human-readable name used in configs and reports.
    name: str = "scheme"

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def operator(self, latent: torch.Tensor) -> Operator:
        w = self(latent)
        wt = w.t()
        return lambda h: h @ wt

    def storage_bits(self) -> int:
        return 32 * self.n * self.n

    def initialize_(self, latent: torch.Tensor) -> None:  # pragma: no cover - overridden
        pass

    @torch.no_grad()
    def after_optimizer_step(self, latent: torch.Tensor) -> None:
        return None

    def describe(self) -> dict:
        """Scheme-specific facts for ``qornn info`` (JSON-serialisable)."""
        return {"scheme": self.name}

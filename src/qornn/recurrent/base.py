"""What every recurrent-weight scheme provides.

A scheme is a ``torch.nn.utils.parametrize`` parametrization of a square weight
W ∈ ℝ^{n×n}: ``forward(latent) -> W``.  Besides the dense matrix it offers

* ``operator(latent)`` – a :class:`~qornn.operators.RecurrentOperator` saying what W is
  (dense, or signs + block size + permutation + scale, ...), built once per forward
  pass; the engines run its kernel and exporters read its facts.  The default is the
  dense matrix ``forward(latent)``;
* ``storage_bits()`` – bits needed to store W at its true cost;
* ``initialize_(latent)`` – draw a valid initial latent value in place;
* ``after_optimizer_step(latent)`` – an optional in-place update of the latent after
  each optimizer step (e.g. a retraction); the default does nothing.
"""
from __future__ import annotations

import torch
from torch import nn

from ..operators import DenseOperator, RecurrentOperator


class RecurrentScheme(nn.Module):
    """Base class of recurrent-weight parametrizations (see module docstring)."""

    #: The recurrent matrix is orthogonal by construction (up to float rounding).
    exactly_orthogonal: bool = False
    #: Human-readable name used in configs and reports.
    name: str = "scheme"
    #: W's entries lie on a fixed low-bit set: (its name, its short label), e.g. ("binary", "±1"); None for a
    #: full-precision W (which a k-bit quantizer may follow: ``model.recurrent_bits``).
    value_set: tuple[str, str] | None = None

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def operator(self, latent: torch.Tensor) -> RecurrentOperator:
        """W as an operator (autograd flows through its tensors to ``latent``)."""
        return DenseOperator(self(latent))

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

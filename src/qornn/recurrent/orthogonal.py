"""Full-precision orthogonal recurrent weights by a map from skew-symmetric matrices.

W = B · φ(A),  A = X_low − X_lowᵀ  (X_low: the lower triangle of the latent X),

with φ = ``expm`` (the matrix exponential, expRNN: Lezcano-Casado & Martínez-Rubio,
ICML 2019) or ``cayley`` (the Cayley map (I − A/2)⁻¹(I + A/2), Helfrich et al.,
ICML 2018), and B a fixed orthogonal base (a persistent buffer, so checkpoints
hold it).  Both maps send skew-symmetric matrices to SO(n), so W stays orthogonal
whatever the optimizer does to X.  This is torch's own
``torch.nn.utils.parametrizations.orthogonal`` machinery (reached through
:mod:`qornn.adapters.torch_orthogonal`), wrapped as a qornn recurrent scheme.

The base B is drawn Haar-orthogonal by ``initialize_`` and X starts at zero
(so W = B at initialisation).  Stored cost: 32 bits per entry (n² floats).

>>> import torch
>>> scheme = OrthogonalMap(16, "expm")
>>> x = torch.zeros(16, 16); scheme.initialize_(x)
>>> w = scheme(torch.randn(16, 16))
>>> float(torch.linalg.matrix_norm(w.T @ w - torch.eye(16), ord=2)) < 1e-5
True
"""
from __future__ import annotations

import torch

from ..adapters.torch_orthogonal import MAPS, orthogonal_map
from ..errors import ConfigError
from .base import RecurrentScheme


class OrthogonalMap(RecurrentScheme):
    """Parametrization X ↦ B·φ(tril(X) − tril(X)ᵀ), φ ∈ {expm, cayley} (exactly orthogonal)."""

    exactly_orthogonal = True

    def __init__(self, n: int, kind: str = "expm"):
        super().__init__(n)
        if kind not in MAPS:
            raise ConfigError(f"orthogonal map {kind!r} is unknown; allowed: {', '.join(MAPS)}")
        self.kind = kind
        self.name = kind
        self.map = orthogonal_map(n, kind)  # its base is a persistent buffer (state_dict key ``...map.base``)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.map(x)

    @torch.no_grad()
    def right_inverse(self, w: torch.Tensor) -> torch.Tensor:
        """Assigning an orthogonal W makes it the base and resets X to 0 (torch's rule)."""
        self.map.right_inverse(w)  # sets base (orthogonalised if W is not orthogonal)
        return torch.zeros_like(w)

    @torch.no_grad()
    def initialize_(self, x: torch.Tensor) -> None:
        base = torch.empty(self.n, self.n, dtype=x.dtype, device=x.device)
        torch.nn.init.orthogonal_(base)
        self.map.base = base
        x.zero_()

    def describe(self) -> dict:
        return {"scheme": self.name, "map": self.kind}

    def extra_repr(self) -> str:
        return f"n={self.n}, map={self.kind}"

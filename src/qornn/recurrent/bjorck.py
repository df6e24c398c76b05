"""Björck-orthonormalised recurrent weight: W = Björck_N,β(V / σ_max(V)).

The latent V ∈ ℝ^{n×n} is free.  Each forward pass divides it by an estimate of its
largest singular value (spectral normalisation), then applies N Björck steps
(Björck & Bowie, SIAM J. Numer. Anal. 1971; used by deel-torchlip and by QORNN's
STE-Björck, Foucault et al., arXiv 2402.04012):

    W ← (1 + β) W − β W Wᵀ W          (defaults N = 15, β = 0.5)

Every singular value follows σ ← (1 + β)σ − βσ³, which converges to 1 for
0 < σ < √(1 + 1/β) when 0 < β < 1.  W is therefore only *approximately* orthogonal:
how close depends on N and on σ_min(V)/σ_max(V).  Gradients flow exactly through the
iterations and the normalisation.

σ_max is estimated as in ``torch.nn.utils.parametrizations.spectral_norm`` (and in
deel-torchlip): power iteration with persistent vectors u, v (buffers ``u`` and ``v``,
so a checkpoint resumes exactly), three iterations per forward in training mode with
gradients enabled, none in eval mode or under ``torch.no_grad()``; σ = uᵀ V v with u,
v held constant for the gradient.  ``initialize_`` runs 50 iterations to start from an
accurate estimate.  It is not torch's ``_SpectralNorm`` module itself: that class is
private, iterates whenever the module is in training mode (also under ``no_grad``), draws
u, v from the global random generator (shifting every later draw of a seeded run) and
stores them as ``_u``/``_v`` (other checkpoint keys); the few lines here avoid all four.

>>> import torch
>>> scheme = BjorckOrthogonal(16)
>>> v = torch.randn(16, 16); scheme.initialize_(v)
>>> w = scheme(v + 0.1 * torch.randn(16, 16))
>>> float(torch.linalg.matrix_norm(w.T @ w - torch.eye(16), ord=2)) < 1e-4
True
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from .base import RecurrentScheme

MAX_STEPS = 100


def bjorck_iterate(w: torch.Tensor, steps: int = 15, beta: float = 0.5) -> torch.Tensor:
    """N Björck steps W ← (1 + β)W − β W WᵀW (returns a new tensor)."""
    for _ in range(steps):
        w = (1.0 + beta) * w - beta * (w @ (w.t() @ w))
    return w


class BjorckOrthogonal(RecurrentScheme):
    """Parametrization V ↦ Björck_N,β(V/σ_max(V)) (approximately orthogonal)."""

    name = "bjorck"

    def __init__(self, n: int, steps: int = 15, beta: float = 0.5, power_iterations: int = 3):
        super().__init__(n)
        if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= MAX_STEPS:
            raise ConfigError(f"steps={steps!r} is not allowed; use an integer from 0 to {MAX_STEPS}")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0.0 < beta < 1.0:
            raise ConfigError(f"beta={beta!r} is not allowed; use a number strictly between 0 and 1")
        self.steps, self.beta = steps, float(beta)
        self.power_iterations = int(power_iterations)
        self.register_buffer("u", torch.empty(n))
        self.register_buffer("v", torch.empty(n))
        self._restart_vectors()

    @torch.no_grad()
    def _restart_vectors(self) -> None:
        g = torch.Generator().manual_seed(self.n)
        self.u.copy_(F.normalize(torch.randn(self.n, generator=g), dim=0))
        self.v.copy_(F.normalize(torch.randn(self.n, generator=g), dim=0))

    @torch.no_grad()
    def _power_iteration(self, m: torch.Tensor, iterations: int) -> None:
        u, v = self.u, self.v
        for _ in range(iterations):
            v = F.normalize(m.t() @ u, dim=0, eps=1e-12)
            u = F.normalize(m @ v, dim=0, eps=1e-12)
        self.u.copy_(u)
        self.v.copy_(v)

    def sigma_max(self, m: torch.Tensor) -> torch.Tensor:
        """The power-iteration estimate uᵀ m v of σ_max(m) (gradient u vᵀ)."""
        if self.training and torch.is_grad_enabled():
            self._power_iteration(m.detach(), self.power_iterations)
        return torch.dot(self.u, m @ self.v)

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        w = m / self.sigma_max(m)
        return bjorck_iterate(w, self.steps, self.beta)

    @torch.no_grad()
    def right_inverse(self, w: torch.Tensor) -> torch.Tensor:
        if bool(torch.isfinite(w).all()):
            self._restart_vectors()
            self._power_iteration(w.to(self.u.dtype), 50)
        return w

    @torch.no_grad()
    def initialize_(self, m: torch.Tensor) -> None:
        torch.nn.init.orthogonal_(m)
        self._restart_vectors()
        self._power_iteration(m, 50)

    def describe(self) -> dict:
        return {"scheme": self.name, "bjorck_steps": self.steps, "bjorck_beta": self.beta,
                "power_iterations": self.power_iterations}

    def extra_repr(self) -> str:
        return f"n={self.n}, steps={self.steps}, beta={self.beta}"


def bjorck_fixed_point_gap(sigma: float, steps: int = 15, beta: float = 0.5) -> float:
    """|f^N(σ) − 1| for the scalar Björck map f(σ) = (1 + β)σ − βσ³ (what N steps leave of a gap)."""
    for _ in range(steps):
        sigma = (1.0 + beta) * sigma - beta * sigma ** 3
    return abs(sigma - 1.0) if math.isfinite(sigma) else math.inf

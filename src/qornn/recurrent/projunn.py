"""projUNN: a latent W kept exactly orthogonal by a rank-r update after each optimizer step.

Kiani, Balestriero, LeCun & Lloyd, *projUNN: efficient method for training deep
networks with unitary matrices*, NeurIPS 2022; used by QORNN's STE-projUNN
(Foucault et al., arXiv 2402.04012) with the k-bit quantizer on top.

The forward pass is the identity (W = latent).  After ``optimizer.step()`` the
trainer calls :meth:`ProjUNN.after_optimizer_step`, which

1. reads the step the optimizer just took, Δ = latent − W₀, where W₀ (the buffer
   ``anchor``) is the orthogonal matrix before the step.  Δ is whatever the
   optimizer produced (SGD: −lr·∇; Adam/RMSprop: the preconditioned step), just as
   the authors' projUNN-RMSprop applies the projection to the RMSprop step;
2. approximates Δ by rank r, Δ ≈ a bᵀ (a, b ∈ ℝ^{n×r}), with the authors' LSI
   sampler (a randomized range finder on r Haar-random directions; exact when
   rank Δ ≤ r) or, with ``sampler="svd"``, by the exact truncated SVD;
3. maps W₀ + a bᵀ back onto O(n) in O(n² r) operations:

   * ``projunn-d`` (direct): the polar factor (nearest orthogonal matrix),
     W = Ã (ÃᵀÃ)^{-1/2},  Ã = W₀ + a bᵀ;
   * ``projunn-t`` (tangent): projection of a bᵀ onto the tangent space at W₀,
     then the exponential retraction, W = W₀ expm(skew(W₀ᵀ a bᵀ)).

   Both use that ÃᵀÃ − I (resp. skew(W₀ᵀ a bᵀ)) lives in the 2r-dimensional span
   of [b, W₀ᵀ a], so only a 2r × 2r eigen-problem (resp. exponential) is solved.

The update is computed in float64; ``anchor`` is a persistent buffer (a checkpoint
resumes exactly).  Because rounding errors of the float32 latent accumulate over
many steps, every ``reorthogonalize_every`` steps (default 64) one Newton–Schulz
step W ← W(3I − WᵀW)/2 in float64 brings W back to O(n) at float precision.

>>> import torch
>>> scheme = ProjUNN(8, "d")
>>> w = torch.empty(8, 8); scheme.initialize_(w)
>>> w += 0.1 * torch.randn(8, 8)               # any optimizer step
>>> scheme.after_optimizer_step(w)
>>> float(torch.linalg.matrix_norm(w.T @ w - torch.eye(8), ord=2)) < 1e-5
True
"""
from __future__ import annotations

import torch

from ..errors import ConfigError
from .base import RecurrentScheme

MODES = ("d", "t")
SAMPLERS = ("lsi", "svd")


def lsi_low_rank(g: torch.Tensor, rank: int, generator: torch.Generator | None = None):
    """G ≈ a bᵀ by the LSI sampler of projUNN: b spans the top row space of Rᵀ G, R Haar n×r.

    R = first r columns of a Haar matrix (QR of an n×r Gaussian); B = Rᵀ G (r × n);
    b = right singular vectors of B (from the eigen-decomposition of B Bᵀ); a = G b.
    Then a bᵀ = G b bᵀ, exactly G when rank G ≤ r.
    """
    n = g.shape[0]
    gauss = torch.randn(n, rank, generator=generator, dtype=torch.float64).to(g.device, g.dtype)
    r, _ = torch.linalg.qr(gauss)
    bmat = r.t() @ g
    e, vecs = torch.linalg.eigh(bmat @ bmat.t())
    b = (bmat.t() @ vecs) / (e.clamp_min(0).sqrt() + 1e-30)
    keep = e > e.max().clamp_min(0) * 1e-24  # drop null directions (G of rank < r)
    b = b[:, keep]
    return g @ b, b


def svd_low_rank(g: torch.Tensor, rank: int):
    """G ≈ a bᵀ by the exact truncated SVD (best rank-r approximation)."""
    u, s, vh = torch.linalg.svd(g)
    return u[:, :rank] * s[:rank], vh[:rank].t()


def _span(b: torch.Tensor, ahat: torch.Tensor) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.cat([b, ahat], dim=1))
    return q


def projunn_d(w: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The polar factor of W + a bᵀ for orthogonal W, in O(n² r) (projUNN-D)."""
    at = w + a @ b.t()
    ahat = w.t() @ a
    q = _span(b, ahat)
    ao, bo = q.t() @ ahat, q.t() @ b
    m = ao @ bo.t() + bo @ ao.t() + bo @ (a.t() @ a) @ bo.t()  # ÃᵀÃ − I = q m qᵀ
    s, d = torch.linalg.eigh(m)
    u = q @ d
    scale = (1.0 + s).clamp_min(1e-12).rsqrt() - 1.0
    return at + ((at @ u) * scale) @ u.t()


def projunn_t(w: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """W expm(skew(Wᵀ a bᵀ)) for orthogonal W, in O(n² r) (projUNN-T)."""
    ahat = w.t() @ a
    q = _span(b, ahat)
    ao, bo = q.t() @ ahat, q.t() @ b
    m = 0.5 * (ao @ bo.t() - bo @ ao.t())  # skew(Wᵀ a bᵀ) = q m qᵀ
    e = torch.matrix_exp(m) - torch.eye(m.shape[0], dtype=m.dtype, device=m.device)
    return w + (w @ q) @ e @ q.t()


def newton_schulz_step(w: torch.Tensor) -> torch.Tensor:
    """One step towards the polar factor, W(3I − WᵀW)/2 (quadratic convergence near O(n))."""
    return 1.5 * w - 0.5 * w @ (w.t() @ w)


class ProjUNN(RecurrentScheme):
    """Identity parametrization whose latent is kept on O(n) by a rank-r projUNN step."""

    exactly_orthogonal = True

    def __init__(self, n: int, mode: str = "d", rank: int = 1, sampler: str = "lsi",
                 reorthogonalize_every: int = 64):
        super().__init__(n)
        if mode not in MODES:
            raise ConfigError(f"projUNN mode {mode!r} is unknown; allowed: {', '.join(MODES)}")
        if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= n:
            raise ConfigError(f"rank={rank!r} is not allowed for n={n}; "
                              f"use an integer from 1 to {n}")
        if sampler not in SAMPLERS:
            raise ConfigError(f"sampler={sampler!r} is unknown; allowed: {', '.join(SAMPLERS)}")
        self.mode, self.rank, self.sampler = mode, rank, sampler
        self.name = f"projunn-{mode}"
        self.reorthogonalize_every = int(reorthogonalize_every)
        self.register_buffer("anchor", torch.eye(n))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w

    @torch.no_grad()
    def right_inverse(self, w: torch.Tensor) -> torch.Tensor:
        self.anchor.copy_(w)
        return w

    @torch.no_grad()
    def initialize_(self, w: torch.Tensor) -> None:
        torch.nn.init.orthogonal_(w)
        self.anchor.copy_(w)

    def low_rank(self, delta: torch.Tensor):
        if self.sampler == "svd":
            return svd_low_rank(delta, self.rank)
        return lsi_low_rank(delta, self.rank)

    def update(self, w0: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """The projUNN step from the orthogonal w0 along the optimizer step delta (float64)."""
        a, b = self.low_rank(delta)
        if a.numel() == 0:
            return w0
        return projunn_d(w0, a, b) if self.mode == "d" else projunn_t(w0, a, b)

    @torch.no_grad()
    def after_optimizer_step(self, latent: torch.Tensor) -> None:
        w0 = self.anchor.double()
        delta = latent.double() - w0
        w = self.update(w0, delta) if bool(delta.any()) else w0
        self.updates += 1
        if self.reorthogonalize_every and int(self.updates) % self.reorthogonalize_every == 0:
            w = newton_schulz_step(w)
        latent.copy_(w)
        self.anchor.copy_(latent)

    def storage_bits(self) -> int:
        return 32 * self.n * self.n

    def describe(self) -> dict:
        return {"scheme": self.name, "rank": self.rank, "sampler": self.sampler}

    def extra_repr(self) -> str:
        return f"n={self.n}, mode={self.mode}, rank={self.rank}, sampler={self.sampler}"

"""Uniform weight quantizers and straight-through estimators (STE).

Per-tensor symmetric uniform quantization to p bits with scale α = max|w|
(recomputed at every forward, α = 1 if w = 0), as in HadamRNN (Foucault et al.,
ICLR 2025) and QORNN (arXiv 2402.04012):

    p ≥ 2:  Q_p(w) = (α / 2^{p-1}) · clip(round(w · 2^{p-1} / α), -2^{p-1}, 2^{p-1} - 1)
    p = 1:  Q_1(w) = α · clip(round(w / α), -1, 1)          (ternary {-α, 0, α})

The backward pass is the identity (straight-through): dL/dw = dL/dQ(w).

Rounding an orthogonal W to k bits pushes its spectral radius above 1 (ρ(Q_k(W)) ≈ 1.09, 1.03,
1.006, 1.001 for k = 3, 4, 6, 8 at n = 170), so a quantized recurrence h ← σ(Q_k(W) h + ...) can
grow by ρ^T over T steps.  ``UniformQuantizer(k, bound_radius=True)`` returns instead

    Q_k(W) / max(1, ρ(Q_k(W)))

the same integer codes on a grid with a smaller step, so storage and integer export are unchanged.

>>> import torch
>>> w = torch.tensor([-1.0, -0.3, 0.0, 0.26, 1.0])
>>> quantize(w, 2)          # grid {-2, -1, 0, 1}·α/2, α = 1
tensor([-1.0000, -0.5000,  0.0000,  0.5000,  0.5000])
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from .errors import ConfigError

__all__ = ["MIN_BITS", "MAX_BITS", "check_bits", "grid", "quantize", "quantize_codes", "quantize_ste", "quant_levels",
           "spectral_radius", "UniformQuantizer", "sign_ste", "storage_bits_per_weight", "quantize_weight_"]

MIN_BITS, MAX_BITS = 1, 8


def check_bits(bits, name: str = "bits", allow_none: bool = True):
    """Validate a bit width: None (full precision) or an integer in [1, 8]."""
    if bits is None:
        if allow_none:
            return None
        raise ConfigError(f"{name}=None is not allowed; use an integer from {MIN_BITS} to {MAX_BITS}")
    if isinstance(bits, bool) or not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
        allowed = f"an integer from {MIN_BITS} to {MAX_BITS}" + (" or null (full precision)" if allow_none else "")
        raise ConfigError(f"{name}={bits!r} is out of range; allowed: {allowed}")
    return bits


def quant_levels(bits: int) -> tuple[int, int, float]:
    """(lowest integer code, highest integer code, divisor) of the p-bit grid."""
    if bits == 1:
        return -1, 1, 1.0
    half = 2 ** (bits - 1)
    return -half, half - 1, float(half)


def scale_of(w: torch.Tensor) -> torch.Tensor:
    """α = max|w| (1 when w is all zeros); no gradient flows through α."""
    alpha = w.detach().abs().max()
    return torch.where(alpha > 0, alpha, torch.ones_like(alpha))


def grid(w: torch.Tensor, bits: int) -> tuple[float, float]:
    """(α, Δ) of the p-bit grid Q_p puts w on: α = max|w| (1 if w = 0), step Δ = α/2^{p-1} (α for p = 1).

    >>> grid(torch.tensor([0.5, -2.0]), 3)
    (2.0, 0.5)
    """
    alpha = float(scale_of(w))
    return alpha, alpha / quant_levels(bits)[2]


def quantize_codes(w: torch.Tensor, bits: int, alpha: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(integer codes c, step Δ = α/2^{p-1}) with Q_p(w) = c·Δ; c = clip(round(w/Δ), lo, hi) as floats.

    >>> quantize_codes(torch.tensor([-1.0, 0.3, 1.0]), 2)
    (tensor([-2.,  1.,  1.]), tensor(0.5000))
    """
    lo, hi, div = quant_levels(bits)
    alpha = scale_of(w) if alpha is None else alpha
    step = alpha / div
    return torch.clamp(torch.round(w / step), lo, hi), step


def quantize(w: torch.Tensor, bits: int, alpha: torch.Tensor | None = None) -> torch.Tensor:
    """Q_p(w) on the symmetric per-tensor grid (no gradient rule; see quantize_ste)."""
    codes, step = quantize_codes(w, bits, alpha)
    return codes * step


def spectral_radius(w: torch.Tensor) -> torch.Tensor:
    """ρ(W) = max |λ_i(W)| of a square matrix (no gradient), computed in float64 on the CPU (MPS has no
    float64 and no eigenvalue solver), returned on w's device and dtype.

    >>> float(spectral_radius(torch.tensor([[0.0, 2.0], [0.5, 0.0]])))
    1.0
    """
    rho = torch.linalg.eigvals(w.detach().to("cpu", torch.float64)).abs().max()
    return rho.to(device=w.device, dtype=w.dtype)


def quantize_ste(w: torch.Tensor, bits: int | None, bound_radius: bool = False) -> torch.Tensor:
    """Q_p(w) in the forward pass, identity gradient in the backward pass; None = no-op.

    ``bound_radius``: return Q_p(w) / max(1, ρ(Q_p(w))) for a square w (see the module docstring).
    """
    if bits is None:
        return w
    q = quantize(w.detach(), bits)
    if bound_radius:
        q = q / torch.clamp(spectral_radius(q), min=1.0)
    return w + (q - w).detach()


class UniformQuantizer(nn.Module):
    """Parametrization ``w ↦ Q_p(w)`` (or ``Q_p(w)/max(1, ρ)`` with ``bound_radius``) with an STE, for
    ``torch.nn.utils.parametrize``.

    >>> import torch
    >>> from torch.nn.utils import parametrize
    >>> lin = torch.nn.Linear(8, 4)
    >>> _ = parametrize.register_parametrization(lin, "weight", UniformQuantizer(3))
    >>> len(torch.unique(lin.weight)) <= 8
    True
    """

    def __init__(self, bits: int, bound_radius: bool = False):
        super().__init__()
        self.bits = check_bits(bits, allow_none=False)
        self.bound_radius = bool(bound_radius)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        if self.bound_radius and (w.dim() != 2 or w.shape[0] != w.shape[1]):
            raise ConfigError(f"bound_radius needs a square matrix; got shape {tuple(w.shape)}")
        return quantize_ste(w, self.bits, self.bound_radius)

    def right_inverse(self, w: torch.Tensor) -> torch.Tensor:
        return w

    def extra_repr(self) -> str:
        return f"bits={self.bits}" + (", bound_radius=True" if self.bound_radius else "")


def storage_bits_per_weight(bits: int | None) -> int:
    """Bits to store one weight: p for p ≥ 2, 2 for ternary (p = 1), 32 for full precision."""
    if bits is None:
        return 32
    return 2 if bits == 1 else bits


class _SignSTE(torch.autograd.Function):
    """sign(u) with sign(0) = +1; backward identity, or zero where |u| > 1 when clipped."""

    @staticmethod
    def forward(ctx, u, clipped: bool):
        ctx.clipped = clipped
        if clipped:
            ctx.save_for_backward(u)
        return torch.where(u >= 0, torch.ones_like(u), -torch.ones_like(u))

    @staticmethod
    def backward(ctx, grad):
        if ctx.clipped:
            (u,) = ctx.saved_tensors
            grad = grad * (u.abs() <= 1).to(grad.dtype)
        return grad, None


def sign_ste(u: torch.Tensor, clipped: bool = False) -> torch.Tensor:
    """Binarise u to ±1 with a straight-through gradient (identity, or clipped to |u| ≤ 1)."""
    return _SignSTE.apply(u, clipped)


def quantize_weight_(module: nn.Module, tensor_name: str, bits: int | None, bound_radius: bool = False) -> nn.Module:
    """Put the p-bit STE quantizer on ``module.<tensor_name>`` (no-op for ``bits=None``)."""
    if bits is not None:
        parametrize.register_parametrization(module, tensor_name, UniformQuantizer(bits, bound_radius))
    return module
